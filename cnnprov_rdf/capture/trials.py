"""What `ProvenanceCallback` knows of hyperparameter searches: a trial link (`cnnprov_rdf.tuning`), and copies.

A callback with `search=`/`trial_id=` (a loop of one's own) or `trial=` (an Optuna trial) carries out a trial;
its link is called at the points of a training that a search cares about (see `cnnprov_rdf.tuning.search`).
"""

from __future__ import annotations

import copy
from typing import Any


class TrialAware:
    """Mixed into `ProvenanceCallback`: its trial link, and `__deepcopy__` (KerasTuner copies the callbacks given to
    `search` for every execution of every trial: each copy is a fresh callback with the same tracker, settings
    and trial, and records a run of its own)."""

    trial_link: Any = None

    def _link_trial(self, search: Any, trial_id: str | int | None, trial: Any) -> None:
        if trial is not None:
            from ..tuning.optuna import link_trial

            self.trial_link = link_trial(self, trial)
        elif search is not None:
            self.trial_link = search.link(self, trial_id)

    def _trial(self, hook: str, *args: Any) -> Any:
        """Call the trial link's `hook`; None when the run is no trial."""
        return None if self.trial_link is None else getattr(self.trial_link, hook)(*args)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        source: Any = self
        clone = type(self)(  # type: ignore[call-arg]
            tracker=source.tracker, run_name=source.run_name, per_batch=source.per_batch,
            hyperparameters=copy.deepcopy(source.user_hyperparameters), dataset=copy.deepcopy(source.dataset),
        )
        clone.trial_link = self.trial_link
        return clone
