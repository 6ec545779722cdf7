"""Reading Keras objects for capture: agents, layers, optimizer settings, learning rate, data sizes."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import keras  # type: ignore[import-untyped]
import tensorflow as tf  # type: ignore[import-untyped]

from .environment import local_agents
from .events import Agents, HyperparameterValue, LayerInfo


@functools.cache
def keras_agents() -> Agents:
    """The software, device, user and host of this process (computed once: they do not change)."""
    gpus = tf.config.list_physical_devices("GPU")
    device_name = None
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device_name = details.get("device_name", gpus[0].name)
    return local_agents(
        framework_name="TensorFlow",
        framework_version=tf.__version__,
        keras_version=keras.__version__,
        device_kind="GPU" if gpus else "CPU",
        device_name=device_name,
    )


def _int_attribute(layer: keras.layers.Layer, name: str) -> int | None:
    value = getattr(layer, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _shape_attribute(layer: keras.layers.Layer, *names: str) -> tuple[int, ...] | None:
    for name in names:
        value = getattr(layer, name, None)
        if isinstance(value, tuple | list) and all(isinstance(v, int) for v in value):
            return tuple(value)
    return None


def describe_layers(model: keras.Model) -> list[LayerInfo]:
    """Each layer's kind, position and shape parameters, read from its attributes (`get_config` would
    serialise every initializer and policy: several times slower, on the training thread)."""
    layers = []
    for index, layer in enumerate(model.layers, start=1):
        activation = getattr(getattr(layer, "activation", None), "__name__", None)  # a lambda has "<lambda>"
        layers.append(LayerInfo(
            index=index,
            name=layer.name,
            kind=type(layer).__name__,
            parameter_count=int(layer.count_params()) if layer.built else 0,
            filters=_int_attribute(layer, "filters"),
            kernel_size=_shape_attribute(layer, "kernel_size", "pool_size"),
            strides=_shape_attribute(layer, "strides"),
            units=_int_attribute(layer, "units"),
            activation=activation if isinstance(activation, str) and not activation.startswith("<") else None,
            dropout_rate=float(layer.rate) if isinstance(layer, keras.layers.Dropout) else None,
        ))
    return layers


def current_learning_rate(optimizer: keras.optimizers.Optimizer | None) -> float | None:
    """The optimizer's rate now (a schedule's value at the current step); None without an optimizer."""
    if optimizer is None:
        return None
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def plain(value: Any) -> HyperparameterValue | None:
    if isinstance(value, bool | int | float | str):
        return value
    return None


def optimizer_hyperparameters(optimizer: keras.optimizers.Optimizer) -> dict[str, HyperparameterValue]:
    """The learning rate, the optimizer's class and its plain settings, from one `get_config` (which reads the
    rate variable anyway; a schedule's rate is its value at the current step)."""
    config = optimizer.get_config()
    rate = config.get("learning_rate")
    if not isinstance(rate, int | float) or isinstance(rate, bool):
        rate = current_learning_rate(optimizer)
    values: dict[str, HyperparameterValue] = {"learning_rate": float(rate)} if rate is not None else {}
    values["optimizer"] = type(optimizer).__name__
    for key, value in config.items():
        if key in ("name", "learning_rate") or value is None:
            continue
        setting = plain(value)
        if setting is not None:
            values[f"optimizer.{key}"] = setting
    return values


def example_count(data: Any) -> int | None:
    """How many examples an in-memory input holds (None for datasets and generators)."""
    if isinstance(data, tf.data.Dataset) or not hasattr(data, "__len__"):
        return None
    return len(data)


def is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def train_example_count(arguments: Mapping[str, Any]) -> int | None:
    """How many examples `fit` trains on: `x`'s, less the validation split Keras cuts off (as
    `train_validation_split` does, keeping `floor(n * (1 - split))`) when no `validation_data` is given."""
    count = example_count(arguments.get("x"))
    split = plain(arguments.get("validation_split")) or 0.0
    if count is None or not split or arguments.get("validation_data") is not None:
        return count
    return math.floor(count * (1.0 - float(split)))
