"""`ProvenanceCallback`: one line in `model.fit(callbacks=[...])` records the run through a `Run`.

This layer reads Keras objects (model, optimizer, fit arguments, sibling callbacks) and calls the
framework-neutral tracker API. It knows no RDF. Any failure inside a hook is logged, never raised.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
import time
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import keras
import tensorflow as tf

from .events import HyperparameterValue, LayerInfo
from .schedules import StepDecay
from .tracker import Run, Tracker, local_agents, now
from .trials import TrialAware

log = logging.getLogger(__name__)

#: Arguments of `Model.fit` recorded as hyperparameters when they are set.
_FIT_ARGUMENTS = ("epochs", "batch_size", "validation_split", "shuffle", "initial_epoch", "steps_per_epoch")


def _guarded(hook: Callable[..., None]) -> Callable[..., None]:
    """Provenance failures are logged, never raised into training. The time spent inside is added up in
    `hook_seconds` (by hook), so that the capture's own cost on the training thread can be reported."""
    name = hook.__name__.lstrip("_")

    @functools.wraps(hook)
    def wrapper(self: ProvenanceCallback, *args: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        try:
            hook(self, *args, **kwargs)
        except Exception:
            log.warning("cnnprov-rdf: %s failed; training continues", hook.__name__, exc_info=True)
        finally:
            self.hook_seconds[name] = self.hook_seconds.get(name, 0.0) + time.perf_counter() - started

    return wrapper


@functools.cache
def keras_agents() -> Any:
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


def _plain(value: Any) -> HyperparameterValue | None:
    if isinstance(value, bool | int | float | str):
        return value
    return None


def optimizer_hyperparameters(optimizer: keras.optimizers.Optimizer) -> dict[str, HyperparameterValue]:
    """The learning rate, the optimizer's class and its plain settings, from one `get_config` (which reads the
    rate variable anyway; a schedule's rate is its value at the current step)."""
    config = optimizer.get_config()
    rate = config.get("learning_rate")
    values: dict[str, HyperparameterValue] = {
        "learning_rate": float(rate) if isinstance(rate, int | float) and not isinstance(rate, bool)
        else current_learning_rate(optimizer),
        "optimizer": type(optimizer).__name__,
    }
    for key, value in config.items():
        if key in ("name", "learning_rate") or value is None:
            continue
        plain = _plain(value)
        if plain is not None:
            values[f"optimizer.{key}"] = plain
    return values


def _call_frame(model: keras.Model, method: str = "fit") -> Mapping[str, Any]:
    """The local variables of the running `Model.fit` (or `evaluate`) call, or {} outside it."""
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code.co_name == method and frame.f_locals.get("self") is model:
            return frame.f_locals
        frame = frame.f_back
    return {}


_TRAINING: weakref.WeakSet[ProvenanceCallback] = weakref.WeakSet()
_previous_excepthook = sys.excepthook


def _record_uncaught(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    """An exception nobody caught ends the process: record it on every run still inside `fit` first."""
    for callback in list(_TRAINING):
        try:
            callback.fail_training(error)
        except Exception:
            log.warning("cnnprov-rdf: could not record the uncaught %s", kind.__name__, exc_info=True)
    _previous_excepthook(kind, error, tb)


class ProvenanceCallback(TrialAware, keras.callbacks.Callback):
    """Records a Keras training as W3C PROV in a provenance store.

    `model.fit(x, y, callbacks=[ProvenanceCallback(store="provenance")])` records hyperparameters,
    architecture, every epoch (every batch too with `per_batch=True`), learning-rate adaptations, model files
    and errors; pass the same callback to `model.evaluate` to record the testing step. Call `close()` (or use
    `with`) to flush.
    """

    def __init__(
        self,
        store: str | os.PathLike[str] | None = None,
        *,
        tracker: Tracker | None = None,
        run_name: str | None = None,
        hyperparameters: Mapping[str, HyperparameterValue] | None = None,
        dataset: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
        per_batch: bool = False,
        search: Any = None, trial_id: str | int | None = None, trial: Any = None,  # a trial: cnnprov_rdf.tuning
    ) -> None:
        """`per_batch=True` also records every training batch's metrics (a `cnn:BatchResult` each)."""
        super().__init__()
        #: Seconds spent inside each of this callback's hooks, on the training thread (its direct cost there).
        self.hook_seconds: dict[str, float] = {}
        self.per_batch = per_batch
        if per_batch:
            # Only then is there a batch hook: Keras runs batch hooks of all callbacks synchronously, and waits
            # for each step's metrics, as soon as one callback defines one.
            self.on_train_batch_end = self._record_batch  # type: ignore[method-assign]
        self._owns_tracker = tracker is None
        if tracker is not None:
            self.tracker = tracker
        elif endpoint is not None:  # a SPARQL endpoint (base or /update URL) instead of an embedded store
            self.tracker = Tracker.shared(store, endpoint=endpoint)
        else:
            self.tracker = Tracker.shared(store)
        self.run_name = run_name
        self.user_hyperparameters = dict(hyperparameters or {})
        self.dataset = dict(dataset or {})
        self.run: Run | None = None
        self._in_fit = False
        self._epoch = 0
        self._epoch_started = 0.0
        self._epoch_began_at: datetime | None = None
        self._test_started: datetime | None = None
        self._test_examples: int | None = None
        self._patched: set[int] = set()
        self._released = False
        self._link_trial(search, trial_id, trial)

    # --- Keras hooks --------------------------------------------------------------------------------

    def set_model(self, model: keras.Model) -> None:
        super().set_model(model)
        self._record_saves(model)

    @_guarded
    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        fit = _call_frame(self.model)
        if self.run is None or self.run.ended:
            self.run = self.tracker.start_run(
                name=self.run_name, planned_epochs=self.params.get("epochs"), agents=keras_agents(),
            )
        self._in_fit = True
        _TRAINING.add(self)
        if sys.excepthook is not _record_uncaught:
            global _previous_excepthook
            _previous_excepthook, sys.excepthook = sys.excepthook, _record_uncaught
        run = self.run
        hyperparameters: dict[str, HyperparameterValue] = {}
        if getattr(self.model, "optimizer", None) is not None:
            hyperparameters.update(optimizer_hyperparameters(self.model.optimizer))
        hyperparameters["epochs"] = int(self.params.get("epochs") or 0)
        for name in _FIT_ARGUMENTS:
            value = _plain(fit.get(name))
            if value is not None:
                hyperparameters.setdefault(name, value)
        loss = getattr(self.model, "loss", None)
        if loss is not None:
            hyperparameters["loss_function"] = loss if isinstance(loss, str) else getattr(loss, "name", str(loss))
        hyperparameters.update(self.user_hyperparameters)
        run.log_hyperparameters({**hyperparameters, **(self._trial("sampled", hyperparameters) or {})})
        self._trial("started", self, run)
        run.log_architecture(self.model.name, int(self.model.count_params()), describe_layers(self.model))
        self._log_schedule(fit.get("callbacks"))
        self._log_dataset(fit)

    @_guarded
    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._epoch = epoch + 1
        self._epoch_started = time.perf_counter()
        self._epoch_began_at = now()

    @_guarded
    def _record_batch(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """`on_train_batch_end` when `per_batch=True`: convert to floats and enqueue, nothing else."""
        if self.run is not None:
            metrics: dict[str, float] = {}
            for key, value in (logs or {}).items():
                try:
                    metrics[key] = float(value)
                except (TypeError, ValueError):
                    continue
            metrics.pop("learning_rate", None)
            self.run.log_batch(self._epoch, batch + 1, metrics)

    @_guarded
    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.run is None:
            return
        elapsed = time.perf_counter() - self._epoch_started
        logs = logs or {}
        # The rate this epoch trained with: the one a scheduler logged before changing it (LearningRateScheduler,
        # ReduceLROnPlateau), else the optimizer's, which schedulers change only at the next epoch's begin.
        logged_rate = logs.get("learning_rate")
        rate = float(logged_rate) if _is_number(logged_rate) else current_learning_rate(
            getattr(self.model, "optimizer", None))
        if rate is not None:
            self.run.log_learning_rate(epoch + 1, rate, at=self._epoch_began_at)
        metrics = {k: float(v) for k, v in logs.items() if k != "learning_rate" and _is_number(v)}
        self.run.log_epoch(epoch + 1, metrics, elapsed_seconds=elapsed)

    @_guarded
    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._in_fit = False
        _TRAINING.discard(self)
        if self.run is not None:
            self.run.end()
            self._trial("train_ended", self, None)

    @_guarded
    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._test_started = now()
        self._test_examples = None if self._in_fit else _length(_call_frame(self.model, "evaluate").get("x"))

    @_guarded
    def on_test_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self._in_fit or self.run is None:
            return  # validation inside fit is already in the epoch's metrics
        metrics = {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
        self.run.log_test(metrics, started_at=self._test_started, test_examples=self._test_examples)

    # --- helpers ------------------------------------------------------------------------------------

    def _log_schedule(self, callbacks: Any) -> None:
        for callback in getattr(callbacks, "callbacks", None) or []:
            if isinstance(callback, keras.callbacks.LearningRateScheduler):
                schedule = callback.schedule
                if isinstance(schedule, StepDecay):
                    self.run.log_schedule(schedule)
                else:
                    self.run.log_schedule(getattr(schedule, "__name__", type(schedule).__name__))
                return
            if isinstance(callback, keras.callbacks.ReduceLROnPlateau):
                self.run.log_schedule("reduce-on-plateau", factor=float(callback.factor))
                return

    def _log_dataset(self, fit: Mapping[str, Any]) -> None:
        dataset = dict(self.dataset)
        trained_on = _length(fit.get("x"))  # Keras has already cut the validation split off `x` here
        validation = _plain(fit.get("validation_split")) or 0.0
        if trained_on is not None:
            dataset.setdefault("train_examples", trained_on)
        if validation:
            dataset.setdefault("validation_fraction", float(validation))
        self.run.log_dataset(dataset.pop("name", "in-memory arrays"), **dataset)

    def _record_saves(self, model: keras.Model) -> None:
        """Wrap `model.save` / `save_weights` (also used by ModelCheckpoint) to record the written file."""
        if id(model) in self._patched:
            return
        self._patched.add(id(model))
        for method_name in ("save", "save_weights"):
            original = getattr(model, method_name)

            def recorder(filepath: Any, *args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
                result = _original(filepath, *args, **kwargs)
                self._record_file(filepath)
                return result

            object.__setattr__(model, method_name, recorder)

    @_guarded
    def _record_file(self, filepath: Any) -> None:
        if self.run is not None and isinstance(filepath, str | os.PathLike):
            self.run.log_model_file(filepath, epoch=self._epoch if self._in_fit else None)

    # --- lifecycle ----------------------------------------------------------------------------------

    def fail_training(self, error: BaseException) -> None:
        """Record that `fit` was left by `error`, and end the run as failed."""
        if self.run is not None and self._in_fit:
            if not self._trial("stops_normally", error):
                self.run.fail(error)  # a pruned trial ends its run normally
            self.run.end()
            self._trial("train_ended", self, error)
        self._in_fit = False
        _TRAINING.discard(self)

    def close(self) -> None:
        """End the run (recording an exception being handled, if any) and flush everything to the store."""
        error = sys.exc_info()[1]
        if isinstance(error, Exception):
            self.fail_training(error)
        if self.run is not None and self._in_fit:
            self.run.end()
        self._in_fit = False
        _TRAINING.discard(self)
        if self._trial("may_close", self) is False:
            return  # the trial's end (recorded after the objective returns) closes it
        if self._owns_tracker and not self._released:
            self._released = True
            self.tracker.release()
        else:
            self.tracker.flush()

    def __enter__(self) -> ProvenanceCallback:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self.fail_training(exc)
        self.close()


def _length(data: Any) -> int | None:
    """How many examples an in-memory input holds (None for datasets and generators)."""
    if isinstance(data, tf.data.Dataset) or not hasattr(data, "__len__"):
        return None
    return len(data)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
