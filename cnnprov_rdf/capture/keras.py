"""`ProvenanceCallback`: one line in `model.fit(callbacks=[...])` records the run through a `Run`.

This layer reads Keras objects (model, optimizer, sibling callbacks) and calls the framework-neutral tracker
API. It knows no RDF. Any failure inside a hook is logged, never raised.

Where the information comes from:

* the model, its optimizer and `self.params` (epochs, steps): Keras' callback API;
* the arguments of `fit`/`evaluate` (batch size, validation split, shuffle, `x` for the numbers of training
  and test examples, `callbacks` for the learning-rate schedule), model files written by `Model.save` /
  `save_weights` (ModelCheckpoint uses them) and an exception escaping `fit`: `keras_patch.MODEL_PATCH`, a
  reversible class-level wrapper of `keras.Model.fit`, `evaluate`, `save` and `save_weights` that binds the
  call's arguments with `inspect.signature`. A callback holds it while it may still see a call: from its
  creation until `close()` (the end of its `with` block), a `fit` that raised, or its garbage collection
  (a bare `callbacks=[ProvenanceCallback(store)]` is collected when `fit` returns). When the last holder is
  done the originals are back. Importing this module reserves it for the first callback (`fit` in
  `model.fit(callbacks=[ProvenanceCallback()])` is looked up before the callback exists). A `fit` looked up
  while no callback held the patch (a later bare one-liner in the same process, or a callback reused after a
  failed `fit`) records what `self.params` and the model tell: no fit arguments, no training examples, no
  schedule, and an exception escaping it leaves the run "unfinished". Create the callback before the call
  (`capture = ProvenanceCallback(...)`, or `with`) to be sure.

At the end of `fit` the callback has the writer write what is pending at once, without waiting for it (the
user's next lines overlap with it), and `close()` (or the end of `with`) releases the store the same way, in
the background: a reader of the store in this process waits for those writes (`storage.inflight`), and the
interpreter waits for them at exit, so a bare `callbacks=[ProvenanceCallback(store)]` loses nothing. For an
endpoint (whose readers are elsewhere) both wait.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
import types
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import keras  # type: ignore[import-untyped]

from ..storage.destination import Destination, destination_from
from .environment import now
from .events import HyperparameterValue
from .keras_model import (
    current_learning_rate,
    describe_layers,
    example_count,
    is_number,
    keras_agents,
    optimizer_hyperparameters,
    plain,
    train_example_count,
)
from .keras_patch import MODEL_PATCH, CallObserver, KerasCall
from .registry import TRACKERS
from .run import Run
from .schedules import StepDecay
from .tracker import Tracker
from .trials import TrialAware

__all__ = ["ProvenanceCallback", "describe_layers", "keras_agents"]

log = logging.getLogger(__name__)

#: Arguments of `Model.fit` recorded as hyperparameters when they are set.
_FIT_ARGUMENTS = ("epochs", "batch_size", "validation_split", "shuffle", "initial_epoch", "steps_per_epoch")


# The first bare `model.fit(..., callbacks=[ProvenanceCallback(store)])` of a script looks `fit` up before the
# callback exists: the patch is reserved now, and that callback takes it over.
MODEL_PATCH.reserve()


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


class ProvenanceCallback(TrialAware, keras.callbacks.Callback, CallObserver):
    """Records a Keras training as W3C PROV in a provenance store or at a SPARQL endpoint.

    `model.fit(x, y, callbacks=[ProvenanceCallback("provenance")])` records hyperparameters, architecture,
    every epoch (every batch too with `per_batch=True`), learning-rate adaptations, model files and errors,
    and flushes when `fit` ends. Pass the same callback to `model.evaluate` to record the testing step; files
    that `model.save` writes are recorded until `close()` (or the end of `with ProvenanceCallback(...) as
    capture:`), which also releases the store.
    """

    def __init__(
        self,
        store: str | os.PathLike[str] | Destination | None = None,
        *,
        tracker: Tracker | None = None,
        run_name: str | None = None,
        hyperparameters: Mapping[str, HyperparameterValue] | None = None,
        dataset: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
        per_batch: bool = False,
        search: Any = None, trial_id: str | int | None = None, trial: Any = None,  # a trial: cnnprov_rdf.tuning
    ) -> None:
        """`store` is a store path or an http(s) SPARQL endpoint URL (`storage.destination.parse_destination`);
        `endpoint=` names an endpoint explicitly. `per_batch=True` also records every training batch's metrics
        (a `cnn:BatchResult` each)."""
        super().__init__()
        #: Seconds spent inside each of this callback's hooks, on the training thread (its direct cost there).
        self.hook_seconds: dict[str, float] = {}
        self.per_batch = per_batch
        if per_batch:
            # Only then is there a batch hook: Keras runs batch hooks of all callbacks synchronously, and waits
            # for each step's metrics, as soon as one callback defines one.
            # Bound to a weak proxy: a bound method of `self` stored on `self` would be a reference cycle, and the
            # callback (with its hold on the patch) would outlive a bare `fit` until the garbage collector runs.
            self.on_train_batch_end = types.MethodType(  # type: ignore[method-assign]
                type(self)._record_batch, weakref.proxy(self))
        self._owns_tracker = tracker is None
        self.tracker = tracker if tracker is not None else TRACKERS.acquire(destination_from(store, endpoint))
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
        self._calls: list[KerasCall] = []  # the patched fit/evaluate calls running with this callback
        self._managed = False  # inside `with`
        self._hold: weakref.finalize | None = None
        self._released = False
        self._link_trial(search, trial_id, trial)
        self._arm()

    # --- the patch (keras_patch) --------------------------------------------------------------------

    def _arm(self) -> None:
        """Hold `MODEL_PATCH` (given back by `_disarm`, or when this callback is garbage-collected)."""
        if self._hold is None or not self._hold.alive:
            self._hold = weakref.finalize(self, MODEL_PATCH.hold(self).release)

    def _disarm(self) -> None:
        if self._hold is not None:
            self._hold()
            self._hold = None

    def call_started(self, call: KerasCall) -> None:
        self._calls.append(call)

    def call_ended(self, call: KerasCall) -> None:
        if call in self._calls:
            self._calls.remove(call)

    def call_failed(self, call: KerasCall, error: BaseException) -> None:
        if call.method == "fit" and call.model is self.model:
            self.fail_training(error)
            if not self._managed:
                self._disarm()

    def file_saved(self, model: keras.Model, filepath: Any) -> None:
        if model is self.model:
            self._record_file(filepath)

    def _call(self, method: str) -> Mapping[str, Any]:
        """The arguments of the innermost running `method` call on this callback's model, or {}."""
        for call in reversed(self._calls):
            if call.method == method and call.model is self.model:
                return call.arguments
        return {}

    # --- Keras hooks --------------------------------------------------------------------------------

    @_guarded
    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        fit = self._call("fit")
        if self.run is None or self.run.ended:
            self.run = self.tracker.start_run(
                name=self.run_name, planned_epochs=self.params.get("epochs"), agents=keras_agents(),
            )
        self._in_fit = True
        run = self.run
        hyperparameters: dict[str, HyperparameterValue] = {}
        if getattr(self.model, "optimizer", None) is not None:
            hyperparameters.update(optimizer_hyperparameters(self.model.optimizer))
        hyperparameters["epochs"] = int(self.params.get("epochs") or 0)
        for name in _FIT_ARGUMENTS:
            value = plain(fit.get(name))
            if value is not None:
                hyperparameters.setdefault(name, value)
        loss = getattr(self.model, "loss", None)
        if loss is not None:
            hyperparameters["loss_function"] = loss if isinstance(loss, str) else getattr(loss, "name", str(loss))
        hyperparameters.update(self.user_hyperparameters)
        run.log_hyperparameters({**hyperparameters, **(self._trial("sampled", hyperparameters) or {})})
        self._trial("started", self, run)
        run.log_architecture(self.model.name, int(self.model.count_params()), describe_layers(self.model))
        self._log_schedule(run, fit.get("callbacks"))
        self._log_dataset(run, fit)

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
        rate = float(logged_rate) if logged_rate is not None and is_number(logged_rate) else current_learning_rate(
            getattr(self.model, "optimizer", None))
        if rate is not None:
            self.run.log_learning_rate(epoch + 1, rate, at=self._epoch_began_at)
        metrics = {k: float(v) for k, v in logs.items() if k != "learning_rate" and is_number(v)}
        self.run.log_epoch(epoch + 1, metrics, elapsed_seconds=elapsed)

    @_guarded
    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._in_fit = False
        if self.run is not None:
            self.run.end()
            self._trial("train_ended", self, None)
        self.tracker.flush(wait=self._waits)

    @_guarded
    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._test_started = now()
        self._test_examples = None if self._in_fit else example_count(self._call("evaluate").get("x"))

    @_guarded
    def on_test_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self._in_fit or self.run is None:
            return  # validation inside fit is already in the epoch's metrics
        metrics = {k: float(v) for k, v in (logs or {}).items() if is_number(v)}
        self.run.log_test(metrics, started_at=self._test_started, test_examples=self._test_examples)

    # --- helpers ------------------------------------------------------------------------------------

    def _log_schedule(self, run: Run, callbacks: Any) -> None:
        for callback in getattr(callbacks, "callbacks", callbacks) or []:
            if isinstance(callback, keras.callbacks.LearningRateScheduler):
                schedule = callback.schedule
                if isinstance(schedule, StepDecay):
                    run.log_schedule(schedule)
                else:
                    run.log_schedule(getattr(schedule, "__name__", type(schedule).__name__))
                return
            if isinstance(callback, keras.callbacks.ReduceLROnPlateau):
                run.log_schedule("reduce-on-plateau", factor=float(callback.factor))
                return

    def _log_dataset(self, run: Run, fit: Mapping[str, Any]) -> None:
        dataset = dict(self.dataset)
        trained_on = train_example_count(fit)
        validation = plain(fit.get("validation_split")) or 0.0
        if trained_on is not None:
            dataset.setdefault("train_examples", trained_on)
        if validation and fit.get("validation_data") is None:
            dataset.setdefault("validation_fraction", float(validation))
        run.log_dataset(dataset.pop("name", "in-memory arrays"), **dataset)

    @_guarded
    def _record_file(self, filepath: Any) -> None:
        if self.run is not None and isinstance(filepath, str | os.PathLike):
            self.run.log_model_file(filepath, epoch=self._epoch if self._in_fit else None)

    # --- lifecycle ----------------------------------------------------------------------------------

    def fail_training(self, error: BaseException) -> None:
        """Record that `fit` was left by `error`, end the run as failed, and flush."""
        if self.run is not None and self._in_fit:
            if not self._trial("stops_normally", error):
                self.run.fail(error)  # a pruned trial ends its run normally
            self.run.end()
            self._trial("train_ended", self, error)
            self.tracker.flush()
        self._in_fit = False

    def close(self) -> None:
        """End the run (recording an exception being handled, if any), give the patch back and flush everything
        to the store (releasing it, when the store was given by path or URL)."""
        error = sys.exc_info()[1]
        if isinstance(error, Exception):
            self.fail_training(error)
        if self.run is not None and self._in_fit:
            self.run.end()
        self._in_fit = False
        if self._trial("may_close", self) is False:
            return  # the trial's end (recorded after the objective returns) closes it
        self._managed = False
        self._disarm()
        if self._owns_tracker and not self._released:
            self._released = True
            TRACKERS.release(self.tracker, wait=self._waits)
        else:
            self.tracker.flush(wait=self._waits)

    @property
    def _waits(self) -> bool:
        """Whether the end of `fit` and `close()` wait for the writes: only for an endpoint (see the module)."""
        return self.tracker.store_path is None

    def __enter__(self) -> ProvenanceCallback:
        self._managed = True
        self._arm()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self.fail_training(exc)
        self.close()
