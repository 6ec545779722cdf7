"""Optuna: `ProvenanceCallback(store=..., trial=trial)` inside an objective records the trial and its study.

The study is the search (its name, its direction and metric name as objective; `tuner` "optuna"), started on
its first recorded trial. A trial's sampled values (`trial.params`, also those suggested after `fit`) are the
run's hyperparameters. Its end is read where Optuna records it, in the study's storage: `set_trial_state_values`
(the one call that both `study.optimize` and `study.tell` make) is wrapped on that storage object, and records
the state (COMPLETE → "completed", PRUNED → "pruned", FAIL → "failed") and the objective's value. A trial
pruned by `optuna.TrialPruned` (raised inside `fit` or after it) ends its run normally; a failed one fails it.
The callback keeps its tracker until then, so `with ProvenanceCallback(...)` inside the objective is fine.
"""

from __future__ import annotations

import functools
import json
import logging
import weakref
from collections.abc import Sequence
from typing import Any

from ..capture.run import Run
from .search import Search, plain

log = logging.getLogger(__name__)

_STATUSES = {"COMPLETE": "completed", "PRUNED": "pruned", "FAIL": "failed"}

#: The search of each study seen in this process.
_SEARCHES: weakref.WeakKeyDictionary[Any, Search] = weakref.WeakKeyDictionary()
#: The trials being recorded, by (id of their storage, Optuna's internal trial id).
_OPEN: dict[tuple[int, int], OptunaTrial] = {}
#: Storages whose `set_trial_state_values` is wrapped.
_WATCHED: weakref.WeakSet[Any] = weakref.WeakSet()


def _objective(study: Any) -> tuple[str, str]:
    names = None
    try:
        names = study.metric_names
    except Exception:  # older Optuna
        names = None
    directions = study.directions
    direction = "minimize" if directions[0].name == "MINIMIZE" else "maximize"
    return (names[0] if names else "objective"), direction


def _search_of(study: Any, tracker: Any) -> Search:
    search = _SEARCHES.get(study)
    if search is None:
        objective, direction = _objective(study)
        search = _SEARCHES[study] = Search(
            tracker, study.study_name, objective=objective, direction=direction, tuner="optuna")
    search.tracker = tracker  # each trial's callback may hold a tracker of its own (shared ones are reopened)
    return search.start()


def _distribution(trial: Any, name: str) -> str:
    distribution = trial.distributions.get(name) if hasattr(trial, "distributions") else None
    if distribution is None:
        return ""
    return json.dumps({"class": type(distribution).__name__, **getattr(distribution, "__dict__", {})},
                      sort_keys=True, default=str)


def _watch(storage: Any) -> None:
    if storage in _WATCHED:
        return
    original = storage.set_trial_state_values

    @functools.wraps(original)
    def set_trial_state_values(trial_id: int, state: Any, values: Sequence[float] | None = None) -> bool:
        result = original(trial_id, state, values)
        link = _OPEN.pop((id(storage), trial_id), None)
        if link is not None:
            try:
                link.ended(getattr(state, "name", str(state)), values)
            except Exception:
                log.warning("cnnprov-rdf: could not record the end of Optuna trial %s", trial_id, exc_info=True)
        return result

    storage.set_trial_state_values = set_trial_state_values
    _WATCHED.add(storage)


def link_trial(callback: Any, trial: Any) -> OptunaTrial:
    """The trial link of `ProvenanceCallback(..., trial=trial)`."""
    storage = trial.storage
    _watch(storage)
    link = OptunaTrial(_search_of(trial.study, callback.tracker), trial, callback)
    _OPEN[(id(storage), trial._trial_id)] = link
    return link


class OptunaTrial:
    def __init__(self, search: Search, trial: Any, callback: Any) -> None:
        self.search = search
        self.trial = trial
        self.callback = callback
        self.recorded: set[str] = set()
        self.logged = False
        self.done = False

    def _params(self) -> dict[str, Any]:
        return {name: value for name, raw in self.trial.params.items() if (value := plain(raw)) is not None}

    def sampled(self, hyperparameters: Any) -> dict[str, Any]:
        return self._params()

    def started(self, callback: Any, run: Run) -> None:
        self._record(run, self._params())

    def _record(self, run: Run, values: dict[str, Any]) -> None:
        new = {name: value for name, value in values.items() if name not in self.recorded}
        if new or not self.logged:
            run.log_hyperparameters(new)
            run.log_trial(self.search.search_id, str(self.trial.number),
                          {name: _distribution(self.trial, name) for name in new})
            self.recorded |= set(new)
            self.logged = True

    def train_ended(self, callback: Any, error: BaseException | None) -> None:
        pass

    def stops_normally(self, error: BaseException) -> bool:
        import optuna

        return isinstance(error, optuna.TrialPruned)

    def may_close(self, callback: Any) -> bool:
        return self.done

    def ended(self, state: str, values: Sequence[float] | None) -> None:
        """Optuna recorded the trial's end: record it on the run (one is started for a trial that failed before
        `fit`), then let the callback release its tracker."""
        status = _STATUSES.get(state, "failed")
        callback, self.done = self.callback, True
        if callback.run is None:
            callback.run = callback.tracker.start_run(name=callback.run_name)
            self._record(callback.run, self._params())
            if status == "failed":
                callback.run.fail(RuntimeError(f"Optuna trial {self.trial.number} failed before training"))
            callback.run.end()
        elif callback._in_fit:
            if status == "pruned":
                import optuna

                callback.fail_training(optuna.TrialPruned())
            else:
                callback.fail_training(RuntimeError(f"Optuna trial {self.trial.number} failed"))
        run = callback.run
        self._record(run, self._params())
        value = values[0] if values and status == "completed" else None
        self.search.end_trial(run, status, value)
        callback.close()
