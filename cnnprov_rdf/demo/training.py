"""The reference training: AlexNet with step decay, captured by `ProvenanceCallback`.

Used by `examples/train_alexnet.py`, `cnnprov demo` and the tests. Trains on an Oxford Flowers 17 folder
when given one, otherwise on generated shapes that need no download; uses the GPU when TensorFlow sees one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from ..capture.keras import ProvenanceCallback
from ..capture.schedules import StepDecay
from .alexnet import build_alexnet
from .datasets import load_dataset


@dataclass
class TrainingConfig:
    epochs: int = 3
    learning_rate: float = 0.01
    batch_size: int = 16
    split: float = 0.8
    decay_factor: float = 0.5
    decay_every: int = 2
    input_size: int = 64
    width: float = 0.125
    data_dir: str | None = None
    seed: int = 0
    run_name: str | None = None
    save_model: str | None = None
    extra_hyperparameters: dict[str, Any] = field(default_factory=dict)
    #: Keras' `verbose` for `fit` (0: silent; 1: its progress bar, as `cnnprov demo` shows it).
    verbose: int = 0


@dataclass
class TrainingOutcome:
    run_id: str | None
    history: dict[str, list[float]]
    test_metrics: dict[str, float]


def train_alexnet(config: TrainingConfig, store: str | os.PathLike[str] | None = None) -> TrainingOutcome:
    """Train AlexNet with capture into `store` (no capture when `store` is None)."""
    keras.utils.set_random_seed(config.seed)
    data = load_dataset(config.data_dir, config.input_size, config.split, config.seed)
    model = build_alexnet((config.input_size, config.input_size, 3), data.num_classes, width=config.width)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=config.learning_rate, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    schedule = keras.callbacks.LearningRateScheduler(
        StepDecay(config.learning_rate, config.decay_factor, config.decay_every)
    )
    dataset_info = {
        "name": data.name,
        "location": data.location,
        "train_fraction": data.train_fraction,
        "train_examples": len(data.x_train),
        "test_examples": len(data.x_test),
    }
    capture = (
        ProvenanceCallback(
            store, run_name=config.run_name, dataset=dataset_info, hyperparameters=config.extra_hyperparameters,
        )
        if store is not None
        else None
    )
    callbacks: list[keras.callbacks.Callback] = [schedule] + ([capture] if capture else [])
    try:
        history = model.fit(
            data.x_train, data.y_train, epochs=config.epochs, batch_size=config.batch_size,
            callbacks=callbacks, verbose=config.verbose,
        )
        test = model.evaluate(
            data.x_test, data.y_test, batch_size=config.batch_size, callbacks=callbacks, verbose=0,
            return_dict=True,
        )
        if config.save_model:
            Path(config.save_model).parent.mkdir(parents=True, exist_ok=True)
            model.save(config.save_model)
    finally:
        if capture is not None:
            capture.close()
    run_id = capture.run.run_id if capture is not None and capture.run is not None else None
    return TrainingOutcome(run_id, {k: list(map(float, v)) for k, v in history.history.items()},
                           {k: float(v) for k, v in test.items()})
