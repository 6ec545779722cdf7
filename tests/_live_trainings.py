"""Run by tests in a child process: trainings one after another into one store, with the framework-neutral
Tracker API (no TensorFlow), each writer opened and closed in turn. Prints RUN <id> as each one ends."""

from __future__ import annotations

import sys

from cnnprov_rdf import Tracker

if __name__ == "__main__":
    store, runs, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for number in range(runs):
        with Tracker(store) as tracker, tracker.start_run(name=f"live-{number}", planned_epochs=epochs) as run:
            run.log_hyperparameters(learning_rate=0.01, batch_size=8)
            for epoch in range(1, epochs + 1):
                run.log_epoch(epoch, {"loss": 1.0 / epoch, "accuracy": epoch / epochs}, elapsed_seconds=0.001)
        print(f"RUN {run.run_id}", flush=True)
