"""Run look-ups on the run index (`graph.run_index`): each reads a handful of index facts, whatever the size.

| reference           | look-up                                                                        | cost          |
|---------------------|--------------------------------------------------------------------------------|---------------|
| a run IRI           | the IRI's `idx:runId` and `idx:graph`                                          | O(log n)      |
| a run id            | the run whose `idx:runId` is it                                                | O(log n)      |
| a name              | the runs whose `idx:name` is it                                                | O(log n + k)  |
| a prefix of an id   | runs whose `idx:idPrefix` is its first `ID_PREFIX_LENGTH` characters, filtered | O(log n + k)  |
| a shorter prefix    | every index key (a short inline literal: nothing to decode), filtered          | O(n), small   |
| latest, previous    | the index's start times (inline literals), newest two                          | O(n), small   |

`latest` sorts the index's start times only (one inline literal per run, nothing decoded, no run graph read)
and looks up the newest two's id and graph: a few milliseconds at 10,000 runs. References are joined in as
VALUES terms, never pasted as text.
A store without an index (written before it existed) answers `has_index` False; `query.runs` then scans.
"""

from __future__ import annotations

from typing import Any

from pyoxigraph import Literal, NamedNode

from ..graph.iris import ID_PREFIX_LENGTH
from ..graph.vocabulary import CNN_NS, IDX_NS
from ..storage.run_index import CURRENT_INDEX

__all__ = ["by_reference", "has_current_index", "has_index", "has_runs", "newest"]

_ROW = f"GRAPH ?index {{ ?run <{IDX_NS}runId> ?id ; <{IDX_NS}graph> ?graph ; <{IDX_NS}startedAt> ?started }}"

_HAS_INDEX = f"SELECT ?run WHERE {{ GRAPH ?index {{ ?run <{IDX_NS}runId> ?id }} }} LIMIT 1"

_HAS_CURRENT = f"SELECT ?v WHERE {{ {CURRENT_INDEX} }} LIMIT 1"  # (a SELECT: what every `Source` answers)

_HAS_RUNS = f"SELECT ?run WHERE {{ GRAPH ?graph {{ ?run a <{CNN_NS}Training> }} }} LIMIT 1"

#: The newest runs by start time alone (inline literals, nothing decoded), then their id and graph.
_NEWEST = (f"SELECT ?run ?id ?graph WHERE {{ {{ SELECT ?run WHERE {{ GRAPH ?i {{ ?run <{IDX_NS}startedAt> ?t }} }} "
           f"ORDER BY DESC(?t) LIMIT %d }} {_ROW} }} ORDER BY DESC(?started)")

#: One look-up per kind of reference; `?run`, `?ref` (and `?key`) come in as a VALUES block.
_BY = {
    "iri": f"SELECT ?run ?id ?graph WHERE {{ %s {_ROW} }}",
    "id": f"SELECT ?run ?id ?graph WHERE {{ %s GRAPH ?index {{ ?run <{IDX_NS}runId> ?ref }} {_ROW} }}",
    "name": f"SELECT ?run ?id ?graph WHERE {{ %s GRAPH ?index {{ ?run <{IDX_NS}name> ?ref }} {_ROW} }} "
            "ORDER BY DESC(?started)",
    "prefix": f"SELECT ?run ?id ?graph WHERE {{ %s GRAPH ?index {{ ?run <{IDX_NS}idPrefix> ?key }} {_ROW} "
              "FILTER(STRSTARTS(?id, ?ref)) } ORDER BY DESC(?started)",
    # the keys are short strings, stored inline: filtering all of them decodes nothing
    "short": f"SELECT ?run ?id ?graph WHERE {{ {{ SELECT ?run WHERE {{ %s GRAPH ?index {{ ?run <{IDX_NS}idPrefix> "
             f"?key }} FILTER(STRSTARTS(?key, ?ref)) }} }} {_ROW} }} ORDER BY DESC(?started)",
}


def _values(**terms: Any) -> str:
    """A one-row VALUES block of pyoxigraph-serialized terms (an IRI or an escaped literal each)."""
    return f"VALUES ({' '.join('?' + name for name in terms)}) {{ ({' '.join(str(t) for t in terms.values())}) }}"


def _rows(store: Any, query: str) -> list[tuple[NamedNode, str, NamedNode]]:
    solutions: Any = store.query(query)
    return [(row["run"], row["id"].value, row["graph"]) for row in solutions]


def has_index(store: Any) -> bool:
    """Whether the store holds a run index (any run indexed)."""
    solutions: Any = store.query(_HAS_INDEX)
    return any(True for _ in solutions)


def has_current_index(store: Any) -> bool:
    """Whether the store's run index is of the current `INDEX_VERSION` (what the cross-run queries read)."""
    solutions: Any = store.query(_HAS_CURRENT)
    return any(True for _ in solutions)


def has_runs(store: Any) -> bool:
    """Whether the store holds any captured run (indexed or not)."""
    solutions: Any = store.query(_HAS_RUNS)
    return any(True for _ in solutions)


def newest(store: Any, count: int) -> list[tuple[NamedNode, str, NamedNode]]:
    """The `count` newest indexed runs, newest first: (IRI, id, graph)."""
    return _rows(store, _NEWEST % count)


def by_reference(store: Any, kind: str, reference: str) -> list[tuple[NamedNode, str, NamedNode]]:
    """The indexed runs a reference of `kind` (iri, id, name or prefix) names, newest first."""
    if kind == "iri":
        try:
            block = _values(run=NamedNode(reference))
        except ValueError:
            return []
    elif kind == "prefix" and len(reference) >= ID_PREFIX_LENGTH:
        block = _values(ref=Literal(reference), key=Literal(reference[:ID_PREFIX_LENGTH]))
    else:
        kind = "short" if kind == "prefix" else kind
        block = _values(ref=Literal(reference))
    return _rows(store, _BY[kind] % block)
