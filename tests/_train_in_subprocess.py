"""Run by tests in a child process: a slow captured training that prints each finished epoch."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import keras

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import train_tiny_alexnet


class Pace(keras.callbacks.Callback):
    """Prints EPOCH n after each epoch; sleeps `pause` seconds per epoch, and forever after `hang_after`."""

    def __init__(self, pause: float, hang_after: int) -> None:
        super().__init__()
        self.pause, self.hang_after = pause, hang_after

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        print(f"EPOCH {epoch + 1}", flush=True)
        if epoch + 1 == self.hang_after:
            time.sleep(3600)
        time.sleep(self.pause)


if __name__ == "__main__":
    store, epochs, pause, hang_after = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    train_tiny_alexnet(store, store.parent, epochs=epochs, extra_callbacks=[Pace(pause, hang_after)])
    print("DONE", flush=True)
