"""Pure mapping of hyperparameter-search events to quads (the rest of the mapping is in `mapping.py`).

A search is a `cnn:HyperparameterSearch` activity in a named graph of its own (`SearchIris.graph`), with its
`cnn:SearchSpace` (one `cnn:SearchDimension` per hyperparameter it varies) and its `cnn:SearchObjective` (a
metric and a direction). Each trial is a run: in the run's graph, the run `prov:wasInformedBy` the search and
carries its trial id, status and objective value; each sampled setting is `cnn:sampledFrom` its dimension.
"""

from __future__ import annotations

from collections.abc import Iterator

from pyoxigraph import Literal, NamedNode, Quad

from ..capture.events import SearchEnded, SearchStarted, TrialEnded, TrialStarted
from .iris import RunIris, SearchIris
from .literals import date_time, double, string
from .vocabulary import CNN, PROV, RDF_TYPE

Triple = tuple[NamedNode, NamedNode, NamedNode | Literal]


def _typed(node: NamedNode, cnn_class: str, prov_class: str) -> Iterator[Triple]:
    yield node, RDF_TYPE, CNN.term(cnn_class)
    yield node, RDF_TYPE, PROV.term(prov_class)


def _dimensions(iris: SearchIris, space: dict[str, str]) -> Iterator[Triple]:
    for name, spec in space.items():
        dimension = iris.dimension(name)
        yield iris.space, CNN.hasDimension, dimension
        yield from _typed(dimension, "SearchDimension", "Entity")
        yield dimension, CNN.dimensionName, string(name)
        if spec:
            yield dimension, CNN.dimensionSpec, string(spec)


def search_quads(event: SearchStarted | SearchEnded, base: str) -> list[Quad]:
    """The quads of an event about a search as a whole, all in the search's named graph."""
    iris = SearchIris(event.search_id, base)
    if isinstance(event, SearchEnded):
        return [Quad(iris.search, PROV.endedAtTime, date_time(event.ended_at), iris.graph)]
    search, space, objective = iris.search, iris.space, iris.objective

    def triples() -> Iterator[Triple]:
        yield from _typed(search, "HyperparameterSearch", "Activity")
        yield search, CNN.searchId, string(event.search_id)
        yield search, CNN.searchName, string(event.name)
        yield search, CNN.tunerName, string(event.tuner)
        yield search, PROV.startedAtTime, date_time(event.started_at)
        for predicate, node in ((CNN.searchSpace, space), (CNN.searchObjective, objective)):
            yield search, predicate, node
            yield search, PROV.used, node
        yield from _typed(space, "SearchSpace", "Entity")
        yield from _dimensions(iris, event.space)
        yield from _typed(objective, "SearchObjective", "Entity")
        yield objective, CNN.objectiveName, string(event.objective)
        yield objective, CNN.objectiveDirection, string(event.direction)

    return [Quad(s, p, o, iris.graph) for s, p, o in triples()]


def trial_statements(event: TrialStarted | TrialEnded, iris: RunIris) -> Iterator[Triple | Quad]:
    """A trial's statements: triples of the run's graph, and quads of the search's graph (the dimensions the
    trial sampled, which an Optuna study only learns trial by trial)."""
    search = SearchIris(event.search_id, iris.base)
    if isinstance(event, TrialEnded):
        yield iris.run, CNN.trialStatus, string(event.status)
        if event.objective_value is not None:
            yield iris.run, CNN.objectiveValue, double(event.objective_value)
        return
    yield iris.run, PROV.wasInformedBy, search.search
    yield iris.run, CNN.trialId, string(event.trial_id)
    for name in event.sampled:
        yield iris.node("hyperparameter", name), CNN.sampledFrom, search.dimension(name)
    for s, p, o in _dimensions(search, event.sampled):
        yield Quad(s, p, o, search.graph)
