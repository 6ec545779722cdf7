"""`Run`: one training run, with one method per event. Methods only build events and enqueue them."""

from __future__ import annotations

import logging
import math
import os
import time
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol, TypeVar

from ..graph.iris import RunIris
from ..graph.metrics import best_tracked
from .environment import file_digest, local_agents, now
from .events import (
    Agents,
    ArchitectureRecorded,
    BatchEnded,
    DatasetRecorded,
    EpochEnded,
    Event,
    HyperparametersRecorded,
    HyperparameterValue,
    LayerInfo,
    LearningRateChanged,
    ModelFileSaved,
    RunEnded,
    RunFailed,
    RunStarted,
    RunSummary,
    ScheduleRecorded,
    TestingDone,
    TrialEnded,
    TrialStarted,
)
from .schedules import StepDecay
from .values import (
    Warnings,
    as_count,
    as_number,
    as_setting,
    clean_metrics,
    clean_name,
    clean_text,
    describe,
    never_raises,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

_HIGHER_IS_BETTER = best_tracked(higher=True)
_LOWER_IS_BETTER = best_tracked(higher=False)


def run_iri(run_id: str, base: str) -> str:
    """The IRI of a run (the graph layer's rule)."""
    return RunIris(run_id, base).run.value


class EventSink(Protocol):
    """What a run writes to: a `Tracker` (its IRI base and its writer's queue)."""

    base: str

    def submit(self, event: Event) -> None: ...


class Run:
    """One training run. Epochs are 1-based. Every method enqueues one event and returns at once."""

    def __init__(
        self,
        tracker: EventSink,
        run_id: str,
        *,
        name: str | None = None,
        planned_epochs: int | None = None,
        agents: Agents | None = None,
    ) -> None:
        self.tracker = tracker
        self.run_id = run_id
        self.iri = run_iri(run_id, tracker.base)
        self._started = time.perf_counter()
        self._hyperparameters: dict[str, HyperparameterValue] = {}
        self._rates: dict[int, float] = {}
        self._adaptations = 0
        self._tests = 0
        self._schedule_known = False
        self._dataset_known = False
        self._epochs = 0
        self._epoch_seconds: dict[tuple[int, float], None] = {}  # (epoch, elapsed) as the graph holds them
        self._last_epoch_time = self._started
        self._final: dict[str, float] = {}
        self._best: dict[str, float] = {}
        self._failed = False
        self._warnings = Warnings(run_id)
        self.ended = False
        self._submit(RunStarted(run_id, now(), agents or local_agents(), name, planned_epochs))

    def _submit(self, event: Event) -> None:
        self.tracker.submit(event)

    # --- before training ----------------------------------------------------------------------------

    @never_raises
    def log_hyperparameters(
        self, values: Mapping[str, HyperparameterValue] | None = None, **more: HyperparameterValue
    ) -> None:
        """Record hyperparameter settings. A name is recorded once; a later different value is ignored. Numbers
        of any number-like type are stored as numbers; a value of another type as its text, with a warning."""
        new: dict[str, HyperparameterValue] = {}
        for given, raw in {**(values or {}), **more}.items():
            key = clean_name(given)
            value, as_typed = as_setting(raw)
            if not as_typed:
                self._warnings.once("hyperparameter", key, "hyperparameter %r: %s is no bool, number or text; "
                                    "stored as its text", key, describe(raw))
            if key in self._hyperparameters:
                if self._hyperparameters[key] != value:
                    log.warning("cnnprov-rdf: hyperparameter %r already recorded as %r; %r ignored",
                                key, self._hyperparameters[key], value)
                continue
            new[key] = self._hyperparameters[key] = value
        if new:
            self._submit(HyperparametersRecorded(self.run_id, new))

    @never_raises
    def log_dataset(
        self,
        name: str,
        *,
        location: str | None = None,
        train_fraction: float | None = None,
        train_examples: int | None = None,
        test_examples: int | None = None,
        validation_fraction: float | None = None,
    ) -> None:
        self._dataset_known = True
        self._submit(DatasetRecorded(
            self.run_id, clean_text(name), None if location is None else clean_text(location),
            _optional(as_number, train_fraction), _optional(as_count, train_examples),
            _optional(as_count, test_examples), _optional(as_number, validation_fraction),
        ))

    @never_raises
    def log_architecture(self, model_name: str, parameter_count: int, layers: list[LayerInfo]) -> None:
        self._submit(ArchitectureRecorded(self.run_id, clean_text(model_name), int(parameter_count), tuple(layers)))

    @never_raises
    def log_schedule(
        self,
        kind: str | StepDecay,
        *,
        initial_rate: float | None = None,
        factor: float | None = None,
        every: int | None = None,
    ) -> None:
        """Record the learning-rate schedule; a `StepDecay` records its own initial rate, factor and period."""
        if isinstance(kind, StepDecay):
            name, initial_rate, factor, every = "step-decay", kind.initial, kind.factor, kind.every
        else:
            name = kind
        self._schedule_known = True
        self._submit(ScheduleRecorded(self.run_id, clean_text(name), _optional(as_number, initial_rate),
                                      _optional(as_number, factor), _optional(as_count, every)))

    # --- during training ----------------------------------------------------------------------------

    @never_raises
    def log_learning_rate(self, epoch: int, rate: float, *, at: datetime | None = None) -> None:
        """The rate in force during `epoch`; a change from the previous epoch is recorded as an adaptation that
        took place `at` (default: now; the Keras callback passes the time the epoch began)."""
        number, value = as_count(epoch), as_number(rate)
        if number is None or value is None:
            self._warnings.once("learning rate", "", "learning rate %s at epoch %s is not a number at an integer "
                                "epoch; not recorded", describe(rate), describe(epoch))
            return
        epoch, rate = number, value
        self._rates[epoch] = rate
        previous = self._rates.get(epoch - 1)
        if previous is not None and not math.isclose(previous, rate, rel_tol=1e-7, abs_tol=0.0):
            self._adaptations += 1
            self._submit(LearningRateChanged(
                self.run_id, self._adaptations, epoch - 1, previous, rate, at or now(), self._schedule_known,
            ))

    @never_raises
    def log_epoch(
        self,
        epoch: int,
        metrics: Mapping[str, float],
        *,
        elapsed_seconds: float | None = None,
        learning_rate: float | None = None,
    ) -> None:
        """Record one finished epoch. `elapsed_seconds` defaults to the time since the previous epoch ended.
        A metric value that is no number is skipped with a warning; an epoch that is no integer is not recorded."""
        clock = time.perf_counter()
        number = as_count(epoch)
        if number is None:
            self._warnings.once("epoch", "", "epoch %s is not an integer; that epoch was not recorded", describe(epoch))
            return
        epoch = number
        elapsed = None if elapsed_seconds is None else as_number(elapsed_seconds)
        if elapsed is None and elapsed_seconds is not None:
            self._warnings.once("elapsed", "", "elapsed_seconds %s is not a number; the time since the previous "
                                "epoch is recorded instead", describe(elapsed_seconds))
        if elapsed is None:
            elapsed = clock - self._last_epoch_time
        self._last_epoch_time = clock
        rate = None if learning_rate is None else as_number(learning_rate)
        if rate is not None and self._rates.get(epoch) != rate:
            self.log_learning_rate(epoch, rate)
        values = clean_metrics(metrics, self._warnings, "epoch")
        self._epochs = max(self._epochs, epoch)
        self._epoch_seconds[epoch, elapsed] = None
        self._final = values
        for name, value in values.items():
            if math.isnan(value):
                continue
            if name in _HIGHER_IS_BETTER:
                self._best[name] = max(self._best.get(name, value), value)
            elif name in _LOWER_IS_BETTER:
                self._best[name] = min(self._best.get(name, value), value)
        self._submit(EpochEnded(self.run_id, epoch, values, elapsed, now(), self._rates.get(epoch)))

    @never_raises
    def log_batch(self, epoch: int, batch: int, metrics: Mapping[str, float]) -> None:
        """Record one finished training batch (1-based `batch` within 1-based `epoch`): its metric values."""
        numbers = as_count(epoch), as_count(batch)
        if numbers[0] is None or numbers[1] is None:
            self._warnings.once("batch", "", "batch %s of epoch %s: not integers; that batch was not recorded",
                                describe(batch), describe(epoch))
            return
        values = clean_metrics(metrics, self._warnings, "batch")
        self._submit(BatchEnded(self.run_id, numbers[0], numbers[1], values, now()))

    # --- after training -----------------------------------------------------------------------------

    @never_raises
    def log_test(
        self,
        metrics: Mapping[str, float],
        *,
        started_at: datetime | None = None,
        test_examples: int | None = None,
    ) -> None:
        """Record a testing step: the trained model evaluated on test data."""
        self._tests += 1
        ended = now()
        self._submit(TestingDone(
            self.run_id, self._tests, clean_metrics(metrics, self._warnings, "test"), started_at or ended, ended,
            _optional(as_count, test_examples), self._dataset_known,
        ))

    @never_raises
    def log_model_file(self, path: str | os.PathLike[str], *, epoch: int | None = None) -> None:
        """Record a saved model file (path, size, SHA-256). A missing file logs a warning."""
        file = Path(path)
        try:
            size, digest = file_digest(file)
        except OSError as error:
            log.warning("cnnprov-rdf: model file %s not recorded: %s", file, error)
            return
        self._submit(ModelFileSaved(self.run_id, str(file.resolve()), size, digest, now(), epoch))

    @never_raises
    def log_trial(self, search_id: str, trial_id: str, sampled: Mapping[str, str]) -> None:
        """This run is trial `trial_id` of a search; `sampled` maps the names of the hyperparameters the search
        chose (recorded with `log_hyperparameters`) to descriptions of their ranges."""
        self._submit(TrialStarted(self.run_id, search_id, str(trial_id), dict(sampled)))

    @never_raises
    def end_trial(self, search_id: str, status: str, objective_value: float | None = None) -> None:
        """The trial ended: "completed", "pruned" or "failed", with the objective's value if there is one."""
        value = None if objective_value is None else float(objective_value)
        self._submit(TrialEnded(self.run_id, search_id, status, value))

    @never_raises
    def fail(self, error: BaseException) -> None:
        """Record an error (type and message) and mark the run failed when it ends. Recorded once."""
        if self._failed:
            return
        self._failed = True
        message = str(error) or "".join(traceback.format_exception_only(type(error), error)).strip()
        self._submit(RunFailed(self.run_id, clean_text(type(error).__name__), clean_text(message), now()))

    @never_raises
    def end(self) -> None:
        """Record the end of training with its summary. Later testing and model files are still recorded."""
        if self.ended:
            return
        self.ended = True
        summary = RunSummary(
            epochs_completed=self._epochs,
            total_training_seconds=time.perf_counter() - self._started,
            final_metrics=dict(self._final),
            best_metrics=dict(self._best),
            epoch_seconds=tuple(seconds for _, seconds in self._epoch_seconds),
        )
        self._submit(RunEnded(self.run_id, now(), "failed" if self._failed else "finished", summary))

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self.fail(exc)
        self.end()


def _optional(convert: Callable[[object], T | None], value: object) -> T | None:
    """`convert(value)`, None for None (a value that cannot be converted is left out as well)."""
    return None if value is None else convert(value)
