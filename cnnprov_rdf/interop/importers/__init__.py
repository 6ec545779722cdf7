"""Importers of other tools' native records: each maps a tool's runs onto our own events, so the canned queries
(runs, hyperparameters, epoch-metrics, config-ranking, compare-runs) answer across tools.

A foreign run becomes the same events a captured run produces (`capture.events`), turned into quads by the one
mapping (`graph.mapping.to_quads`) under the run id `{tool}-{its id there}`; `ForeignRun.links` adds what ties it
to its source record (`prov:wasInfluencedBy` from the run, `prov:hadPrimarySource` from each epoch result).
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pyoxigraph import NamedNode, Quad

from ...capture.events import (
    Agents,
    EpochEnded,
    Event,
    HyperparametersRecorded,
    HyperparameterValue,
    RunEnded,
    RunFailed,
    RunStarted,
    RunSummary,
)
from ...graph.iris import RunIris
from ...graph.mapping import to_quads
from ...graph.metrics import BEST_PROPERTIES, FINAL_PROPERTIES, higher_is_better
from ...graph.vocabulary import PROV, RDF_TYPE
from ...storage.store import open_for_writing

#: Metric names other tools use for what the metric table calls otherwise.
METRIC_ALIASES = {"acc": "accuracy", "val_acc": "val_accuracy", "lr": "learning_rate", "train_loss": "loss",
                  "train_accuracy": "accuracy", "validation_loss": "val_loss", "validation_accuracy": "val_accuracy"}

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$", re.I)


def typed_value(text: str) -> HyperparameterValue:
    """A hyperparameter given as text (MLflow keeps every param as a string) as the value it spells: an int,
    a float, a boolean or else the text itself, so it compares with our captured, typed values."""
    stripped = text.strip()
    if _INT.match(stripped) and len(stripped) < 19:
        return int(stripped)
    if _FLOAT.match(stripped):
        return float(stripped)
    if stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    return text


@dataclass
class ForeignRun:
    """One run of another tool, as a captured run would have been recorded."""

    tool: str
    native_id: str
    started_at: datetime
    name: str | None = None
    user: str = ""
    params: dict[str, HyperparameterValue] = field(default_factory=dict)
    epochs: dict[int, dict[str, float]] = field(default_factory=dict)
    """Epoch (1-based) → metric name → value."""
    epoch_times: dict[int, datetime] = field(default_factory=dict)
    ended_at: datetime | None = None
    status: str | None = None
    """`finished`, `failed` or None (still running, or unknown)."""
    error: str | None = None
    source: str | None = None
    """IRI of the source record (a file, a tracking store's run)."""
    extra: list[tuple[NamedNode, NamedNode, object]] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return f"{self.tool}-{self.native_id}"

    def events(self) -> list[Event]:
        """The events a capture of this run would have produced."""
        agents = Agents(software_version=f"import from {self.tool}", python_version=platform.python_version(),
                        framework_name=self.tool, user_name=self.user)
        events: list[Event] = [RunStarted(self.run_id, self.started_at, agents, name=self.name)]
        if self.params:
            events.append(HyperparametersRecorded(self.run_id, dict(self.params)))
        epochs = self.epoch_events()
        events.extend(epochs)
        previous = epochs[-1].ended_at if epochs else self.started_at
        if self.status == "failed":
            events.append(RunFailed(self.run_id, self.error or "failed", f"{self.tool} run status: failed",
                                    self.ended_at or previous))
        if self.status in ("finished", "failed"):
            ended = self.ended_at or previous
            events.append(RunEnded(self.run_id, ended, self.status, self.summary(ended, epochs)))
        return events

    def epoch_events(self) -> list[EpochEnded]:
        """An epoch ended per recorded epoch, in order; its elapsed time is the time since the one before."""
        events: list[EpochEnded] = []
        previous = self.started_at
        for epoch in sorted(self.epochs):
            metrics = dict(self.epochs[epoch])
            learning_rate = metrics.pop("learning_rate", None)
            at = self.epoch_times.get(epoch, previous)
            events.append(EpochEnded(self.run_id, epoch, metrics, max(0.0, (at - previous).total_seconds()), at,
                                     learning_rate=learning_rate))
            previous = at
        return events

    def summary(self, ended: datetime, epochs: list[EpochEnded]) -> RunSummary:
        final: dict[str, float] = {}
        best: dict[str, float] = {}
        for epoch in sorted(self.epochs):
            for name, value in self.epochs[epoch].items():
                if name in FINAL_PROPERTIES:
                    final[name] = value
                if name in BEST_PROPERTIES and value == value:  # NaN is never best
                    better = max if higher_is_better(name) else min
                    best[name] = better(best.get(name, value), value)
        return RunSummary(len(self.epochs), max(0.0, (ended - self.started_at).total_seconds()), final, best,
                          tuple(event.elapsed_seconds for event in epochs))

    def quads(self) -> list[Quad]:
        """The run's quads: the mapped events, and the links to its source record in the run's graph."""
        quads = [quad for event in self.events() for quad in to_quads(event)]
        iris = RunIris(self.run_id)
        if self.source is not None:
            source = NamedNode(self.source)
            quads.append(Quad(iris.run, PROV.wasInfluencedBy, source, iris.graph))
            quads.append(Quad(source, RDF_TYPE, PROV.Entity, iris.graph))
            quads += [Quad(iris.node("epoch", epoch), PROV.hadPrimarySource, source, iris.graph)
                      for epoch in self.epochs]
        quads += [Quad(s, p, o, iris.graph) for s, p, o in self.extra]  # type: ignore[arg-type]
        return quads


@dataclass(frozen=True)
class ForeignImport:
    tool: str
    runs: tuple[str, ...]
    """Run ids (`{tool}-{native id}`) written."""
    quads_added: int
    warnings: tuple[str, ...] = ()


def write_runs(store_path: str | os.PathLike[str], tool: str, runs: Sequence[ForeignRun],
               extra: Iterable[Quad] = (), warnings: Sequence[str] = ()) -> ForeignImport:
    """Write the runs (and `extra` quads) into the store in one transaction; nothing new when imported before."""
    quads = list(dict.fromkeys([quad for run in runs for quad in run.quads()] + list(extra)))
    store = open_for_writing(store_path)
    try:
        new = [quad for quad in quads if quad not in store]
        if new:
            store.extend(new)
            store.flush()
        return ForeignImport(tool, tuple(run.run_id for run in runs), len(new), tuple(warnings))
    finally:
        del store
