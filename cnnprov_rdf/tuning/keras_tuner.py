"""KerasTuner: `record_search(tuner, store=...)` before `tuner.search(...)` records the search and every trial.

It uses the tuner's documented hooks, wrapped on this one tuner object (not its class): `on_search_begin`
starts the search (its space from the oracle's hyperparameters, its objective from the oracle's),
`run_trial` adds a `ProvenanceCallback` for the trial to the callbacks of `fit` (KerasTuner deep-copies them
for every execution, so each execution records a run of its own, all with the trial's id and values), and
`on_trial_end` records each run's trial status and the trial's score as objective value; `on_search_end`
ends the search. A `ProvenanceCallback` passed in `search(callbacks=[...])` is used in place of a new one.

KerasTuner itself is not imported here: the tuner is read through its public attributes.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
from collections.abc import Callable
from typing import Any

from ..capture.keras import ProvenanceCallback
from ..capture.registry import TRACKERS
from ..capture.run import Run
from ..capture.tracker import Tracker
from ..storage.destination import destination_from
from .search import Search, plain

log = logging.getLogger(__name__)

#: KerasTuner's trial statuses as recorded: COMPLETED is "completed", anything else (INVALID, FAILED) "failed".
_COMPLETED = "COMPLETED"


def _space(tuner: Any) -> dict[str, str]:
    """Each hyperparameter of the oracle's space and its configuration (class, choices, bounds, step, …)."""
    space: dict[str, Any] = {}
    for hp in getattr(tuner.oracle.hyperparameters, "space", []):
        config = {key: value for key, value in hp.get_config().items() if key != "name"}
        space[hp.name] = {"class": type(hp).__name__, **config}
    return space


def _objective(tuner: Any) -> tuple[str, str]:
    objective = tuner.oracle.objective
    name = getattr(objective, "name", None) or str(objective)
    return name, "minimize" if getattr(objective, "direction", "max") == "min" else "maximize"


class KerasTunerTrial:
    """The link between a KerasTuner trial and the runs of its executions."""

    def __init__(self, search: Search, trial: Any) -> None:
        self.search = search
        self.trial = trial
        self.runs: list[Run] = []
        self.callbacks: list[ProvenanceCallback] = []
        values = trial.hyperparameters.values
        self.values = {name: value for name, raw in values.items() if (value := plain(raw)) is not None}

    def sampled(self, hyperparameters: Any) -> dict[str, Any]:
        return dict(self.values)

    def started(self, callback: ProvenanceCallback, run: Run) -> None:
        self.runs.append(run)
        self.callbacks.append(callback)
        run.log_trial(self.search.search_id, str(self.trial.trial_id),
                      {name: self.search.space.get(name, "") for name in self.values})

    def train_ended(self, callback: Any, error: BaseException | None) -> None:
        pass

    def stops_normally(self, error: BaseException) -> bool:
        return False

    def may_close(self, callback: Any) -> bool:
        return True

    def ended(self, status: str, score: float | None, message: str | None) -> None:
        for callback in self.callbacks:
            if callback._in_fit:  # left by an exception KerasTuner caught: the run failed
                callback.fail_training(RuntimeError((message or "the trial failed").strip().splitlines()[-1]))
        for run in self.runs:
            self.search.end_trial(run, status, score if status == "completed" else None)


def record_search(
    tuner: Any,
    store: str | os.PathLike[str] | None = None,
    *,
    tracker: Tracker | None = None,
    endpoint: str | None = None,
    name: str | None = None,
    **callback_options: Any,
) -> Tracker | None:
    """Record `tuner`'s searches in `store` (or through `tracker`, or to `endpoint`): call before `tuner.search`.

    `name` names the search (default: the tuner's project name); `callback_options` go to each trial's
    `ProvenanceCallback` (e.g. `dataset=`, `per_batch=`). Returns the tracker when one was given, else None
    (a shared tracker per store is opened for each search and released at its end)."""
    state: dict[str, Any] = {"search": None, "tracker": tracker, "links": {}}

    def wrap(method_name: str, around: Callable[..., Any]) -> None:
        original = getattr(tuner, method_name)
        setattr(tuner, method_name, functools.wraps(original)(functools.partial(around, original)))

    def on_search_begin(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            if tracker is None:
                state["tracker"] = TRACKERS.acquire(destination_from(store, endpoint))
            objective, direction = _objective(tuner)
            state["search"] = Search(
                state["tracker"], name or getattr(tuner, "project_name", None) or type(tuner).__name__,
                space=_space(tuner), objective=objective, direction=direction, tuner=type(tuner).__name__,
            ).start()
        except Exception:
            log.warning("cnnprov-rdf: could not start recording the search", exc_info=True)
        return original(*args, **kwargs)

    def run_trial(original: Callable[..., Any], trial: Any, *args: Any, **kwargs: Any) -> Any:
        search = state["search"]
        if search is not None:
            link = state["links"][trial.trial_id] = KerasTunerTrial(search, trial)
            callbacks = list(kwargs.get("callbacks") or [])
            if any(isinstance(callback, ProvenanceCallback) for callback in callbacks):
                callbacks = [_linked(callback, link) if isinstance(callback, ProvenanceCallback) else callback
                             for callback in callbacks]
            else:
                callback = ProvenanceCallback(
                    tracker=state["tracker"], run_name=f"{search.name}/trial-{trial.trial_id}", **callback_options,
                )
                callbacks.append(_linked(callback, link))
            kwargs["callbacks"] = callbacks
        return original(trial, *args, **kwargs)

    def on_trial_end(original: Callable[..., Any], trial: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(trial, *args, **kwargs)
        link = state["links"].pop(trial.trial_id, None)
        if link is not None:
            try:
                ended = tuner.oracle.get_trial(trial.trial_id)
                status = "completed" if str(ended.status) == _COMPLETED else "failed"
                score = ended.score
                link.ended(status, None if score is None else float(score), getattr(ended, "message", None))
            except Exception:
                log.warning("cnnprov-rdf: could not record the end of trial %s", trial.trial_id, exc_info=True)
        return result

    def on_search_end(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        finally:
            search, state["search"] = state["search"], None
            if search is not None:
                search.end()
                if tracker is None:
                    TRACKERS.release(state["tracker"])
                else:
                    tracker.flush()

    def configure_tensorboard_dir(original: Callable[..., Any], callbacks: Any, *args: Any, **kwargs: Any) -> Any:
        # KerasTuner imports TensorBoard's hparams API on the TensorFlow backend even when no TensorBoard callback
        # is there to configure (TensorBoard is not a dependency of tensorflow-cpu): only then is it needed.
        if not any(type(callback).__name__ == "TensorBoard" for callback in callbacks):
            return None
        return original(callbacks, *args, **kwargs)

    if hasattr(tuner, "_configure_tensorboard_dir"):
        wrap("_configure_tensorboard_dir", configure_tensorboard_dir)
    wrap("on_search_begin", on_search_begin)
    wrap("run_trial", run_trial)
    wrap("on_trial_end", on_trial_end)
    wrap("on_search_end", on_search_end)
    return tracker


def _linked(callback: ProvenanceCallback, link: KerasTunerTrial) -> ProvenanceCallback:
    """A copy of `callback` that records the trial `link` stands for (KerasTuner copies it again per execution)."""
    clone = copy.deepcopy(callback)
    clone.trial_link = link
    return clone
