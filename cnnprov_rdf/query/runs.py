"""Finding runs in a store: the latest one, the previous one, or one named by IRI, UUID, name or a unique UUID
prefix."""

from __future__ import annotations

from typing import Any

from pyoxigraph import Literal, NamedNode, Quad, Store

from ..errors import RunNotFoundError
from ..graph.iris import base_of, shared_graph
from ..graph.vocabulary import CNN_NS, MLS, PROV, PROV_NS

_RUNS = f"""
SELECT ?run ?id ?graph ?started WHERE {{
  GRAPH ?graph {{ ?run a <{CNN_NS}Training> ; <{CNN_NS}runId> ?id ; <{PROV_NS}startedAtTime> ?started }}
}} ORDER BY DESC(?started)
"""


_NAMED = f"""
SELECT ?run ?id ?graph ?started WHERE {{
  GRAPH ?graph {{ ?run <{CNN_NS}runName> ?name ; <{CNN_NS}runId> ?id ; <{PROV_NS}startedAtTime> ?started }}
}} ORDER BY DESC(?started)
"""

_REFERENCES = (PROV.used, MLS.specifiedBy)


def _named(store: Store, name: str) -> list[tuple[NamedNode, str, NamedNode, str]]:
    """(run IRI, id, graph, start time) of the runs named `name`, newest first (the name bound as a literal)."""
    text = _NAMED.replace("WHERE {", f"WHERE {{ VALUES ?name {{ {Literal(name)} }}", 1)
    solutions: Any = store.query(text)
    return [(row["run"], row["id"].value, row["graph"], row["started"].value) for row in solutions]


def _ambiguous(reference: str, what: str, matches: list[tuple[str, str]]) -> RunNotFoundError:
    candidates = "; ".join(f"{run_id} (started {started})" for run_id, started in matches)
    return RunNotFoundError(f"{reference!r} {what} {len(matches)} runs: {candidates}")


def list_runs(store: Store) -> list[tuple[NamedNode, str, NamedNode]]:
    """(run IRI, run id, graph) for every captured run, newest first (also on a `sources.Source`)."""
    return [(row["run"], row["id"].value, row["graph"]) for row in store.query(_RUNS)]  # type: ignore[index]


def resolve_run(store: Store, reference: str | None) -> tuple[NamedNode, NamedNode]:
    """The (run IRI, graph) that `reference` names: None or "latest" for the newest run, "previous" for the one
    before it, else a run's IRI, UUID, name (an error listing the candidates if several runs have it) or a unique
    prefix of its UUID."""
    runs = list_runs(store)
    if not runs:
        raise RunNotFoundError("the store holds no captured runs yet")
    if reference is None or reference == "latest":
        return runs[0][0], runs[0][2]
    if reference == "previous":
        if len(runs) < 2:
            raise RunNotFoundError("the store holds a single run, so there is no previous run")
        return runs[1][0], runs[1][2]
    matches = [(iri, graph) for iri, run_id, graph in runs if reference in (iri.value, run_id)]
    if len(matches) == 1:
        return matches[0]
    named = _named(store, reference)
    if len(named) == 1:
        return named[0][0], named[0][2]
    if named:
        raise _ambiguous(reference, "names", [(run_id, started) for _, run_id, _, started in named])
    if not matches:
        matches = [(iri, graph) for iri, run_id, graph in runs if run_id.startswith(reference)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(run_id for _, run_id, _ in runs[:5]) + (" …" if len(runs) > 5 else "")
    if not matches:
        raise RunNotFoundError(f"no run {reference!r} in the store (newest runs: {known})")
    raise RunNotFoundError(f"{reference!r} matches {len(matches)} runs; give more of the run id")


def run_quads(store: Store, graph: NamedNode) -> list[Quad]:
    """A run's quads: its named graph, and the graphs of the shared nodes it refers to (its architecture,
    hyperparameters and measures), which other runs refer to as well."""
    quads = list(store.quads_for_pattern(None, None, None, graph))
    base = base_of(graph)
    shared = {shared_graph(quad.object, base) for quad in quads
              if quad.predicate in _REFERENCES and isinstance(quad.object, NamedNode)}
    for node_graph in sorted((g for g in shared if g is not None), key=str):
        quads += store.quads_for_pattern(None, None, None, node_graph)
    return quads
