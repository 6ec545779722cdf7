"""The run index: a few `idx:` facts per run in one small graph, `{base}graph/index`, written by the mapping.

Resolving a run reference (`latest`, a name, a prefix of its id) and the cross-run queries read these instead
of every run's graph. Each fact is written once and never changes (a pure mapping cannot delete), so the
index is monotone: what a run adds while it trains is read from its own graph, bounded by that one run.

| written at   | facts about the run (subject: its IRI)                                                      |
|--------------|---------------------------------------------------------------------------------------------|
| `RunStarted` | `idx:runId`, `idx:idPrefix` (first `ID_PREFIX_LENGTH` characters), `idx:startedAt`,          |
|              | `idx:graph` (its named graph), `idx:name`, `idx:plannedEpochs` (when given)                 |
| `RunEnded`   | `idx:endedAt`, `idx:status`, `idx:epochsCompleted`, `idx:totalTrainingSeconds`, and its final |
|              | and best metrics under the `cnn:` property's local name (`idx:finalLoss`, …)                 |
| `DatasetRecorded` | `idx:dataset` (the shared dataset node); about the dataset: `idx:datasetName`,         |
|              | `idx:location` (when given): the same facts for every run, so the index holds them once       |
| `TestingDone` | about the testing activity (subject: its IRI): `idx:testOf` (the run), `idx:testedAt`,     |
|              | `idx:testLoss`, `idx:testAccuracy`, `idx:testExamples` (when measured)                      |

The `idx:` terms are store-internal (not part of the ontology); runs of a store written before the index
existed, or imported from a document, are indexed by `storage.run_index.reindex`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import singledispatch

from pyoxigraph import Literal, NamedNode

from ..capture.events import DatasetRecorded, Event, RunEnded, RunStarted, TestingDone
from .iris import RunIris, id_prefix
from .literals import date_time, double, integer, string
from .metrics import summary_properties
from .vocabulary import IDX

Triple = tuple[NamedNode, NamedNode, NamedNode | Literal]

__all__ = ["index_triples"]


@singledispatch
def index_triples(event: Event, iris: RunIris) -> Iterator[Triple]:
    """The index facts an event adds (none for most events)."""
    return iter(())


@index_triples.register
def _(event: RunStarted, iris: RunIris) -> Iterator[Triple]:
    run = iris.run
    yield run, IDX.runId, string(event.run_id)
    yield run, IDX.idPrefix, string(id_prefix(event.run_id))
    yield run, IDX.startedAt, date_time(event.started_at)
    yield run, IDX.graph, iris.graph
    if event.name is not None:
        yield run, IDX.name, string(event.name)
    if event.planned_epochs is not None:
        yield run, IDX.plannedEpochs, integer(event.planned_epochs)


@index_triples.register
def _(event: RunEnded, iris: RunIris) -> Iterator[Triple]:
    run, summary = iris.run, event.summary
    yield run, IDX.endedAt, date_time(event.ended_at)
    yield run, IDX.status, string(event.status)
    yield run, IDX.epochsCompleted, integer(summary.epochs_completed)
    yield run, IDX.totalTrainingSeconds, double(summary.total_training_seconds)
    for name, value in summary_properties(summary.final_metrics, summary.best_metrics):
        yield run, IDX.term(name), double(value)


@index_triples.register
def _(event: DatasetRecorded, iris: RunIris) -> Iterator[Triple]:
    dataset = iris.dataset(event.name, event.location)
    yield iris.run, IDX.dataset, dataset
    yield dataset, IDX.datasetName, string(event.name)
    if event.location is not None:
        yield dataset, IDX.location, string(event.location)


@index_triples.register
def _(event: TestingDone, iris: RunIris) -> Iterator[Triple]:
    testing = iris.node("testing", event.number)
    yield testing, IDX.testOf, iris.run
    yield testing, IDX.testedAt, date_time(event.ended_at)
    for name, predicate in (("loss", IDX.testLoss), ("accuracy", IDX.testAccuracy)):
        if name in event.metrics:
            yield testing, predicate, double(event.metrics[name])
    if event.test_examples is not None:
        yield testing, IDX.testExamples, integer(event.test_examples)
