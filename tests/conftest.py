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

    from cnnprov_rdf.alexnet import build_alexnet
    from cnnprov_rdf.datasets import synthetic_shapes
    from cnnprov_rdf.keras import ProvenanceCallback
    from cnnprov_rdf.schedules import StepDecay

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
