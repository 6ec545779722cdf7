"""Run by tests in a child process that exits as soon as its last record is made: `fit` mode, a bare one-line
capture (`callbacks=[ProvenanceCallback(store)]`, no close()); `tracker` mode, a `Tracker` with a 60 s linger
and neither flush nor close, so that only the writer's exit hook can write the epochs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def fit(store: Path, epochs: int) -> None:
    import keras

    from cnnprov_rdf.demo.alexnet import build_alexnet
    from cnnprov_rdf.demo.datasets import synthetic_shapes
    from cnnprov_rdf.keras import ProvenanceCallback

    data = synthetic_shapes(n_per_class=8, num_classes=4, size=32, split=1.0, seed=0)
    keras.utils.set_random_seed(0)
    model = build_alexnet((32, 32, 3), data.num_classes, width=0.125)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=16, verbose=0,
              callbacks=[ProvenanceCallback(store, run_name="exits-at-once")])


def track(store: Path, epochs: int) -> None:
    from cnnprov_rdf.capture.tracker import Tracker

    run = Tracker(store, linger=60.0).start_run(name="exits-at-once", planned_epochs=epochs)
    for epoch in range(1, epochs + 1):
        run.log_epoch(epoch, {"loss": 1 / epoch}, elapsed_seconds=0.5)
    run.end()


if __name__ == "__main__":
    store, epochs, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    (fit if mode == "fit" else track)(store, epochs)
    print("RETURNED", flush=True)
