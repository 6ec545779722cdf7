"""`Search`: one hyperparameter search being recorded, and the trial link for a plain loop of trials.

A trial link is what a `ProvenanceCallback` with a trial calls (see `capture/keras.py`):

* `sampled(hyperparameters)`: the values the search chose, recorded as the run's hyperparameters;
* `started(callback, run)`: the callback's run is the trial's (records its trial id and sampled settings);
* `train_ended(callback, error)`: `fit` returned (error None) or was left by `error`;
* `stops_normally(error)`: whether `error` ends the trial without failing the run (Optuna's pruning);
* `may_close(callback)`: whether the callback may release its tracker now (not before its trial ended).
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..capture.events import HyperparameterValue, SearchEnded, SearchStarted

#: A `capture.tracker.Run` (not imported: `Tracker.search` imports this module).
Run = Any


def now() -> datetime:
    return datetime.now(UTC)

log = logging.getLogger(__name__)

DIRECTIONS = ("maximize", "minimize")


def default_direction(objective: str) -> str:
    """Losses and errors are minimised, anything else (accuracy, AUC, …) maximised."""
    return "minimize" if any(word in objective.lower() for word in ("loss", "error", "mse", "mae")) else "maximize"


def describe(values: Any) -> str:
    """A dimension's range as JSON text: a grid's list of values, a tuner's configuration."""
    if isinstance(values, str):
        return values
    return json.dumps(values, sort_keys=True, default=str)


def plain(value: Any) -> HyperparameterValue | None:
    """A sampled value as a hyperparameter: bool, int, float or str (numpy scalars converted); None otherwise."""
    if isinstance(value, bool | int | float | str):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        converted = item()
        if isinstance(converted, bool | int | float | str):
            return converted
    return None if value is None else str(value)


class Search:
    """A hyperparameter search: started on `start()` (or entering `with`), ended on `end()` (or leaving it).

    `space` maps each hyperparameter the search varies to its range (a grid's list of values, or a description);
    `objective` is the metric it optimises and `direction` "maximize" or "minimize" (by default minimize for
    losses, maximize otherwise)."""

    def __init__(
        self,
        tracker: Any,
        name: str,
        *,
        space: Mapping[str, Any] | None = None,
        objective: str = "val_accuracy",
        direction: str | None = None,
        tuner: str = "grid",
        search_id: str | None = None,
    ) -> None:
        direction = direction or default_direction(objective)
        if direction not in DIRECTIONS:
            from ..errors import ConfigurationError

            raise ConfigurationError(f"a search's direction is 'maximize' or 'minimize', not {direction!r}")
        self.tracker = tracker
        self.name = name
        self.space = {key: describe(value) for key, value in (space or {}).items()}
        self.objective = objective
        self.direction = direction
        self.tuner = tuner
        self.search_id = search_id or str(uuid.uuid4())
        self.started = False
        self.ended = False

    def start(self) -> Search:
        if not self.started:
            self.started = True
            self.tracker.submit(SearchStarted(
                self.search_id, now(), self.name, self.tuner, self.objective, self.direction, dict(self.space),
            ))
        return self

    def end(self) -> None:
        if self.started and not self.ended:
            self.ended = True
            self.tracker.submit(SearchEnded(self.search_id, now()))

    def __enter__(self) -> Search:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.end()

    # --- trials ---------------------------------------------------------------------------------------

    def record_trial(self, run: Run, trial_id: str | int, values: Mapping[str, Any]) -> None:
        """Record `run` as trial `trial_id` that sampled `values` (recorded as its hyperparameters)."""
        self.start()
        sampled = {name: value for name, raw in values.items() if (value := plain(raw)) is not None}
        run.log_hyperparameters(sampled)
        run.log_trial(self.search_id, str(trial_id), {name: self.space.get(name, "") for name in sampled})

    def end_trial(self, run: Run, status: str, objective_value: float | None = None) -> None:
        if objective_value is not None and not math.isfinite(float(objective_value)):
            objective_value = None
        run.end_trial(self.search_id, status, objective_value)

    def best_of(self, values: list[float]) -> float | None:
        """The best of a trial's values of the objective (its epochs', say), by the search's direction."""
        finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        if not finite:
            return None
        return max(finite) if self.direction == "maximize" else min(finite)

    def link(self, callback: Any, trial_id: str | int | None) -> GridTrial:
        """The trial link of a `ProvenanceCallback(..., search=search, trial_id=...)`."""
        if trial_id is None:
            from ..errors import ConfigurationError

            raise ConfigurationError("a ProvenanceCallback with search= needs trial_id=")
        return GridTrial(self, str(trial_id))


class GridTrial:
    """A trial of a loop of your own: the values sampled are the run's settings of the space's hyperparameters
    (pass them as `hyperparameters=` to record exactly the grid's values); the objective's value is its best
    epoch value (Keras' history), or the one given to `Search.end_trial`."""

    def __init__(self, search: Search, trial_id: str) -> None:
        self.search = search
        self.trial_id = trial_id
        self.runs: list[Run] = []
        self._sampled: dict[str, HyperparameterValue] = {}

    def sampled(self, hyperparameters: Mapping[str, HyperparameterValue]) -> dict[str, HyperparameterValue]:
        self._sampled = {name: hyperparameters[name] for name in self.search.space if name in hyperparameters}
        return self._sampled

    def started(self, callback: Any, run: Run) -> None:
        self.runs.append(run)
        self.search.start()
        run.log_trial(self.search.search_id, self.trial_id, {name: self.search.space[name] for name in self._sampled})

    def train_ended(self, callback: Any, error: BaseException | None) -> None:
        if callback.run is None:
            return
        history = getattr(getattr(callback.model, "history", None), "history", None) or {}
        value = self.search.best_of(list(history.get(self.search.objective, [])))
        self.search.end_trial(callback.run, "failed" if error is not None else "completed", value)

    def stops_normally(self, error: BaseException) -> bool:
        return False

    def may_close(self, callback: Any) -> bool:
        return True
