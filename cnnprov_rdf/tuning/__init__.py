"""Hyperparameter searches as provenance: KerasTuner, Optuna and plain grid loops.

* KerasTuner: `record_search(tuner, store=...)` before `tuner.search(...)` records every trial (every execution).
* Optuna: `ProvenanceCallback(store=..., trial=trial)` inside the objective; the study is the search.
* A loop of your own: `with tracker.search("grid", space={...}, objective="val_accuracy") as search:` and
  `ProvenanceCallback(..., search=search, trial_id=...)` for each trial.

A search is a `cnn:HyperparameterSearch` activity with its space and objective; each trial is a run that
`prov:wasInformedBy` it, with exactly the trial's sampled values as hyperparameters, its objective value and
its status. Nothing here knows RDF: it builds events (`capture.events`) and hands them to a tracker.
"""

from __future__ import annotations

from .keras_tuner import record_search
from .search import Search

__all__ = ["Search", "record_search"]
