"""Shared fixtures: one real, captured training of the scaled-down AlexNet per test session."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED_ONTOLOGIES = REPO.parent / "shared" / "reference" / "ontologies"


@dataclass
class CapturedTraining:
    store: Path
    run_id: str
    history: dict[str, list[float]]
    test_result: dict[str, float]
    model: Any
    model_file: Path
    layer_count: int


def train_tiny_alexnet(store: Path, tmp: Path, *, epochs: int = 3, extra_callbacks: list | None = None):
    """Train the scaled-down AlexNet (64x64, 32 images) with a step decay that drops the rate after epoch 2."""
    import keras

    from cnnprov_rdf.capture.schedules import StepDecay
    from cnnprov_rdf.demo.alexnet import build_alexnet
    from cnnprov_rdf.demo.datasets import synthetic_shapes
    from cnnprov_rdf.keras import ProvenanceCallback

    keras.utils.set_random_seed(1)
    data = synthetic_shapes(n_per_class=10, num_classes=4, size=64, split=0.8, seed=1)
    model = build_alexnet((64, 64, 3), data.num_classes, width=0.125)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model_file = tmp / "alexnet.keras"
    with ProvenanceCallback(store, run_name="tiny", dataset={"name": data.name, "train_fraction": 0.8}) as capture:
        callbacks = [keras.callbacks.LearningRateScheduler(StepDecay(0.01, 0.5, 2)), capture, *(extra_callbacks or [])]
        history = model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=8, verbose=0, callbacks=callbacks)
        test = model.evaluate(data.x_test, data.y_test, verbose=0, callbacks=[capture], return_dict=True)
        model.save(model_file)
    return CapturedTraining(
        store, capture.run.run_id, history.history, test, model, model_file, len(model.layers),
    )


@pytest.fixture(scope="session")
def captured(tmp_path_factory: pytest.TempPathFactory) -> CapturedTraining:
    tmp = tmp_path_factory.mktemp("captured")
    return train_tiny_alexnet(tmp / "store", tmp)


@dataclass
class GridRun:
    """One captured training of the grid and what Keras itself reported."""

    run_id: str
    name: str
    learning_rate: float
    epochs: int
    history: dict[str, list[float]]
    test_result: dict[str, float] | None
    model_file: Path | None
    error: BaseException | None = None


@dataclass
class CapturedGrid:
    store: Path
    runs: dict[str, GridRun]


def train_grid(store: Path, tmp: Path) -> CapturedGrid:
    """The query fixture: 2 learning rates × 2 epoch counts, a run that raises, a run that stops early.

    Each run trains the scaled-down AlexNet with a validation split and a step decay (rate halves after every
    epoch), is tested, and saves its model. Runs start one after another, so "latest" is the early-stopped one.
    """
    import keras

    from cnnprov_rdf.capture.schedules import StepDecay
    from cnnprov_rdf.demo.alexnet import build_alexnet
    from cnnprov_rdf.demo.datasets import synthetic_shapes
    from cnnprov_rdf.keras import ProvenanceCallback

    data = synthetic_shapes(n_per_class=8, num_classes=2, size=64, split=0.75, seed=5)
    dataset = {"name": data.name, "train_fraction": data.train_fraction, "test_examples": len(data.x_test)}
    plan = [("lr0.01-e1", 0.01, 1), ("lr0.01-e2", 0.01, 2), ("lr0.005-e1", 0.005, 1), ("lr0.005-e2", 0.005, 2),
            ("raises", 0.01, 3), ("early-stop", 0.01, 4)]
    runs: dict[str, GridRun] = {}

    class Explode(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise ValueError("NaN batch in epoch 2")

    for name, rate, epochs in plan:
        keras.utils.set_random_seed(7)
        model = build_alexnet((64, 64, 3), data.num_classes, width=0.125)
        model.compile(optimizer=keras.optimizers.SGD(rate), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        extra: list = []
        if name == "raises":
            extra = [Explode()]
        if name == "early-stop":  # min_delta=100: no epoch ever improves enough, so training stops after epoch 2
            extra = [keras.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=100)]
        capture = ProvenanceCallback(store, run_name=name, dataset=dataset)
        error = test = model_file = None
        history: dict[str, list[float]] = {}
        with capture:
            try:
                fit = model.fit(
                    data.x_train, data.y_train, epochs=epochs, batch_size=4, validation_split=0.25, verbose=0,
                    callbacks=[keras.callbacks.LearningRateScheduler(StepDecay(rate, 0.5, 1)), capture, *extra],
                )
                history = fit.history
                test = model.evaluate(data.x_test, data.y_test, verbose=0, callbacks=[capture], return_dict=True)
                model_file = tmp / f"{name}.keras"
                model.save(model_file)
            except ValueError as raised:
                error = raised
                capture.fail_training(raised)
        runs[name] = GridRun(capture.run.run_id, name, rate, epochs, history, test, model_file, error)
    return CapturedGrid(store, runs)


@pytest.fixture(scope="session")
def grid(tmp_path_factory: pytest.TempPathFactory) -> CapturedGrid:
    tmp = tmp_path_factory.mktemp("grid")
    return train_grid(tmp / "store", tmp)


def record_searches(path: Path, searches: list[tuple[str, str, tuple[float, ...]]]) -> None:
    """Grid searches (name, run-name prefix, learning rates) of one-epoch runs `{prefix}-{trial}`, recorded
    through the capture API beside the runs already in the store at `path`."""
    from cnnprov_rdf.capture.tracker import Tracker

    with Tracker(path) as tracker:
        for search_name, prefix, rates in searches:
            with tracker.search(search_name, space={"learning_rate": list(rates)}, objective="val_loss") as search:
                for trial, rate in enumerate(rates):
                    run = tracker.start_run(name=f"{prefix}-{trial}", planned_epochs=1)
                    search.record_trial(run, trial, {"learning_rate": rate})
                    run.log_epoch(1, {"loss": rate, "val_loss": 2 * rate})
                    run.end()
        tracker.flush()
