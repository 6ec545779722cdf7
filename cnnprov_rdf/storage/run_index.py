"""Building the run index (`graph.run_index`) from runs already in a store: for a store written before the
index existed (`cnnprov store reindex`), and for runs that arrive in an imported document.

The same facts the mapping writes are derived by SPARQL updates from each run's graph (its `cnn:Training`
node, its end summary, datasets and testings) into the default base's index graph. Every update only adds
facts, so reindexing twice changes nothing; `has_unindexed_runs` says whether a store has runs it lacks.
"""

from __future__ import annotations

from typing import Any

from pyoxigraph import NamedNode, Store

from ..graph.iris import ID_PREFIX_LENGTH, index_graph
from ..graph.metrics import BEST_PROPERTIES, FINAL_PROPERTIES
from ..graph.run_index import HYPERPARAMETER_KEY, INDEX_VERSION, TEST_METRIC_KEY
from ..graph.vocabulary import CNN_NS, IDX_NS, MLS_NS, PROV_NS

__all__ = ["CURRENT_INDEX", "has_unindexed_runs", "indexed_runs", "predates_run_index", "reindex"]

_PREFIXES = f"PREFIX prov: <{PROV_NS}>\nPREFIX cnn: <{CNN_NS}>\nPREFIX idx: <{IDX_NS}>\nPREFIX mls: <{MLS_NS}>\n"

_SUMMARY = " ".join(f"(cnn:{p} idx:{p})" for p in sorted({*FINAL_PROPERTIES.values(), *BEST_PROPERTIES.values()}))

#: One update per group of facts; `{graph}` opens the run's graph ?g (any, or the one given), `{index}` is the
#: index graph.
_UPDATES = (
    """INSERT {{ GRAPH {index} {{ ?run idx:runId ?id ; idx:idPrefix ?prefix ; idx:startedAt ?started ;
                                    idx:graph ?g }} }}
       WHERE {{ {graph} {{ ?run a cnn:Training ; cnn:runId ?id ; prov:startedAtTime ?started }}
                BIND(SUBSTR(?id, 1, {prefix_length}) AS ?prefix) }}""",
    """INSERT {{ GRAPH {index} {{ ?run idx:name ?name }} }}
       WHERE {{ {graph} {{ ?run a cnn:Training ; cnn:runName ?name }} }}""",
    """INSERT {{ GRAPH {index} {{ ?run idx:plannedEpochs ?planned }} }}
       WHERE {{ {graph} {{ ?run a cnn:Training ; cnn:plannedEpochs ?planned }} }}""",
    """INSERT {{ GRAPH {index} {{ ?run idx:endedAt ?ended ; idx:status ?status ; idx:epochsCompleted ?epochs ;
                                    idx:totalTrainingSeconds ?seconds }} }}
       WHERE {{ {graph} {{ ?run a cnn:Training ; prov:endedAtTime ?ended ; cnn:status ?status ;
                           cnn:epochsCompleted ?epochs ; cnn:totalTrainingSeconds ?seconds }} }}""",
    """INSERT {{ GRAPH {index} {{ ?run idx:timedEpochs ?n ; idx:epochSecondsTotal ?total ;
                                    idx:shortestEpochSeconds ?shortest ; idx:longestEpochSeconds ?longest }} }}
       WHERE {{ {{ SELECT ?run (COUNT(?seconds) AS ?n) (SUM(?seconds) AS ?total) (MIN(?seconds) AS ?shortest)
                         (MAX(?seconds) AS ?longest)
                  WHERE {{ {graph} {{ ?run a cnn:Training ; prov:endedAtTime ?ended .
                                      ?result cnn:elapsedSeconds ?seconds }} }} GROUP BY ?run }}
                # (summed in another order, a total may differ in its last bit: never a second one)
                FILTER NOT EXISTS {{ GRAPH {index} {{ ?run idx:timedEpochs ?timed }} }} }}""",
    """INSERT {{ GRAPH {index} {{ ?run ?to ?value }} }}
       WHERE {{ VALUES (?from ?to) {{ {summary} }} {graph} {{ ?run a cnn:Training ; ?from ?value }} }}""",
    """INSERT {{ GRAPH {index} {{ ?run idx:dataset ?data . ?data idx:datasetName ?name ; idx:location ?where }} }}
       WHERE {{ {graph} {{ ?run a cnn:Training ; prov:used ?data . ?data a cnn:Dataset ; cnn:datasetName ?name
                           OPTIONAL {{ ?data cnn:location ?where }} }} }}""",
    """INSERT {{ GRAPH {index} {{ ?run ?key ?value . ?key idx:hyperparameterName ?name }} }}
       WHERE {{ {graph} {{ ?run a cnn:Training ; prov:used ?setting .
                           ?setting cnn:hyperparameterName ?name ; mls:hasValue ?value }}
                BIND(IRI(CONCAT("{hp_key}", ENCODE_FOR_URI(?name))) AS ?key) }}""",
    """INSERT {{ GRAPH {index} {{ ?run idx:search ?search }} }}
       WHERE {{ {graph} {{ ?run a cnn:Training ; prov:wasInformedBy ?search ; cnn:trialId ?trial }} }}""",
    """INSERT {{ GRAPH {index} {{ ?testing idx:testOf ?run ; idx:testedAt ?at ; idx:testExamples ?examples }} }}
       WHERE {{ {graph} {{ ?testing a cnn:Testing ; prov:wasInformedBy ?run ; prov:endedAtTime ?at .
                           ?run a cnn:Training .
                           ?result prov:wasGeneratedBy ?testing ; a cnn:TestResult .
                           OPTIONAL {{ ?result cnn:testExamples ?examples }} }} }}""",
    """INSERT {{ GRAPH {index} {{ ?testing ?key ?value . ?key idx:testMetricName ?name }} }}
       WHERE {{ {graph} {{ ?testing a cnn:Testing ; prov:wasInformedBy ?run .
                           ?run a cnn:Training .
                           ?result prov:wasGeneratedBy ?testing ; a cnn:TestResult ; cnn:hasMetric ?metric .
                           ?metric cnn:metricName ?name ; mls:hasValue ?value }}
                BIND(IRI(CONCAT("{test_key}", ENCODE_FOR_URI(?name))) AS ?key) }}""",
)

_UNINDEXED = _PREFIXES + """SELECT ?run WHERE {
  GRAPH ?g { ?run a cnn:Training ; cnn:runId ?id ; prov:startedAtTime ?started }
  FILTER NOT EXISTS { GRAPH ?index { ?run idx:runId ?id } }
} LIMIT 1"""


_ANY_RUN = _PREFIXES + "SELECT ?run WHERE { GRAPH ?g { ?run a cnn:Training } } LIMIT 1"
#: What makes a store's run index current: its graph says it is of `INDEX_VERSION` (or later).
CURRENT_INDEX = f"GRAPH ?index {{ ?index <{IDX_NS}version> ?v FILTER(?v >= {INDEX_VERSION}) }}"
_CURRENT = f"ASK {{ {CURRENT_INDEX} }}"


def predates_run_index(store: Store) -> bool:
    """Whether the store holds runs but no run index of the current `INDEX_VERSION` (two one-row look-ups)."""
    runs: Any = store.query(_ANY_RUN)
    return any(True for _ in runs) and not bool(store.query(_CURRENT))


def indexed_runs(store: Store) -> int:
    """How many runs the run index holds."""
    count = "SELECT (COUNT(DISTINCT ?run) AS ?n) WHERE { GRAPH ?i { ?run idx:runId ?id } }"
    solutions: Any = store.query(_PREFIXES + count)
    return int(next(iter(solutions))["n"].value)


def has_unindexed_runs(store: Store) -> bool:
    """Whether the store holds a run that the run index lacks (O(runs): for maintenance, not per query)."""
    solutions: Any = store.query(_UNINDEXED)
    return any(True for _ in solutions)


def reindex(store: Store, graph: NamedNode | None = None) -> None:
    """Add the index facts of every run in `graph` (every graph when None) that the index lacks, and mark the
    index as of the current `INDEX_VERSION`."""
    scope = "GRAPH ?g" if graph is None else f"VALUES ?g {{ {graph} }} GRAPH ?g"
    for update in _UPDATES:
        text = update.format(index=index_graph(), graph=scope, prefix_length=ID_PREFIX_LENGTH, summary=_SUMMARY,
                             hp_key=HYPERPARAMETER_KEY, test_key=TEST_METRIC_KEY)
        store.update(_PREFIXES + text)
    index = index_graph()
    store.update(_PREFIXES + f"INSERT DATA {{ GRAPH {index} {{ {index} idx:version {INDEX_VERSION} }} }}")
