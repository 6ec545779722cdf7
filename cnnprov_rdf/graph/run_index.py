"""The run index: a few `idx:` facts per run in one small graph, `{base}graph/index`, written by the mapping.

Resolving a run reference (`latest`, a name, a prefix of its id) and the cross-run queries read these instead
of every run's graph. Each fact is written once and never changes (a pure mapping cannot delete), so the
index is monotone: what a run adds while it trains is read from its own graph, bounded by that one run.

| written at   | facts about the run (subject: its IRI)                                                      |
|--------------|---------------------------------------------------------------------------------------------|
| `RunStarted` | `idx:runId`, `idx:idPrefix` (first `ID_PREFIX_LENGTH` characters), `idx:startedAt`,          |
|              | `idx:graph` (its named graph), `idx:name`, `idx:plannedEpochs` (when given); about the index |
|              | graph: `idx:version` (`INDEX_VERSION`: what the facts are; an older index is rebuilt)        |
| `Hyperparameters…` | per hyperparameter, its value (the run graph's literal) under `hyperparameter_key(name)`; |
|              | about that key: `idx:hyperparameterName` (the same fact for every run: held once)           |
| `RunEnded`   | `idx:endedAt`, `idx:status`, `idx:epochsCompleted`, `idx:totalTrainingSeconds`, and its final |
|              | and best metrics under the `cnn:` property's local name (`idx:finalLoss`, …); of its epochs' |
|              | elapsed seconds (when it has any): `idx:timedEpochs` (how many), `idx:epochSecondsTotal`,     |
|              | `idx:shortestEpochSeconds`, `idx:longestEpochSeconds`                                          |
| `DatasetRecorded` | `idx:dataset` (the shared dataset node); about the dataset: `idx:datasetName`,         |
|              | `idx:location` (when given): the same facts for every run, so the index holds them once       |
| `TrialStarted` | `idx:search` (the search the run is a trial of)                                            |
| `TestingDone` | about the testing activity (subject: its IRI): `idx:testOf` (the run), `idx:testedAt`,     |
|              | `idx:testExamples` (when measured), and each metric under `test_metric_key(name)`; about   |
|              | that key: `idx:testMetricName`                                                               |

A hyperparameter's or test metric's key is `idx:hp-NAME` or `idx:test-NAME`, NAME percent-encoded as SPARQL's
`ENCODE_FOR_URI` does (every character but `A-Za-z0-9-_.~`), so a query can derive the key of a name it is given
(`IRI(CONCAT("…index#hp-", ENCODE_FOR_URI(?name)))`); the keys in use are listed by their name facts.

The `idx:` terms are store-internal (not part of the ontology); runs of a store written before the index
existed, or imported from a document, are indexed by `storage.run_index.reindex`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import singledispatch
from urllib.parse import quote

from pyoxigraph import Literal, NamedNode

from ..capture.events import (
    DatasetRecorded,
    Event,
    HyperparametersRecorded,
    RunEnded,
    RunStarted,
    TestingDone,
    TrialStarted,
)
from .iris import RunIris, SearchIris, id_prefix, index_graph
from .literals import date_time, double, integer, string, typed
from .metrics import summary_properties
from .vocabulary import IDX, IDX_NS

Triple = tuple[NamedNode, NamedNode, NamedNode | Literal]

__all__ = ["HYPERPARAMETER_KEY", "INDEX_VERSION", "TEST_METRIC_KEY", "hyperparameter_key", "index_triples",
           "test_metric_key"]

#: The index's layout: 2 added the hyperparameters, the test metrics by name and the search of a trial; 3 the
#: epoch-time statistics of an ended run.
INDEX_VERSION = 3

#: The start of a hyperparameter's and of a test metric's key.
HYPERPARAMETER_KEY = IDX_NS + "hp-"
TEST_METRIC_KEY = IDX_NS + "test-"


def hyperparameter_key(name: str) -> NamedNode:
    """The index key of a hyperparameter's value: `idx:hp-` and the name percent-encoded."""
    return NamedNode(HYPERPARAMETER_KEY + quote(name, safe=""))


def test_metric_key(name: str) -> NamedNode:
    """The index key of a test metric's value: `idx:test-` and the name percent-encoded."""
    return NamedNode(TEST_METRIC_KEY + quote(name, safe=""))


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
    yield index_graph(iris.base), IDX.version, integer(INDEX_VERSION)
    if event.name is not None:
        yield run, IDX.name, string(event.name)
    if event.planned_epochs is not None:
        yield run, IDX.plannedEpochs, integer(event.planned_epochs)


@index_triples.register
def _(event: HyperparametersRecorded, iris: RunIris) -> Iterator[Triple]:
    for name, value in event.values.items():
        key = hyperparameter_key(name)
        yield iris.run, key, typed(value)
        yield key, IDX.hyperparameterName, string(name)


@index_triples.register
def _(event: TrialStarted, iris: RunIris) -> Iterator[Triple]:
    yield iris.run, IDX.search, SearchIris(event.search_id, iris.base).search


@index_triples.register
def _(event: RunEnded, iris: RunIris) -> Iterator[Triple]:
    run, summary = iris.run, event.summary
    yield run, IDX.endedAt, date_time(event.ended_at)
    yield run, IDX.status, string(event.status)
    yield run, IDX.epochsCompleted, integer(summary.epochs_completed)
    yield run, IDX.totalTrainingSeconds, double(summary.total_training_seconds)
    for name, value in summary_properties(summary.final_metrics, summary.best_metrics):
        yield run, IDX.term(name), double(value)
    if summary.epoch_seconds:
        yield run, IDX.timedEpochs, integer(len(summary.epoch_seconds))
        yield run, IDX.epochSecondsTotal, double(sum(summary.epoch_seconds))
        yield run, IDX.shortestEpochSeconds, double(min(summary.epoch_seconds))
        yield run, IDX.longestEpochSeconds, double(max(summary.epoch_seconds))


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
    for name, value in event.metrics.items():
        key = test_metric_key(name)
        yield testing, key, double(value)
        yield key, IDX.testMetricName, string(name)
    if event.test_examples is not None:
        yield testing, IDX.testExamples, integer(event.test_examples)
