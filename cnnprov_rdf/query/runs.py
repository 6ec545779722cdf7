"""Finding runs in a store: the latest one, the previous one, or one named by IRI, UUID, name or a unique UUID prefix.

`find_run` reads the run index (`query.run_index`: a few look-ups, whatever the store's size) when the store
has one, and scans every run (`list_runs`) in a store written before the index existed, or when the index
names no run for a reference (so a run the index lacks is still found, and an unknown one is reported).

`select_runs` is the one rule for a list of run references (or none, meaning every run); export,
interchange, reasoning, validation and the report all choose their runs through it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from pyoxigraph import Literal, NamedNode, Quad, Store

from ..errors import RunNotFoundError
from ..graph.iris import base_of, shared_graph
from ..graph.vocabulary import CNN_NS, MLS, PROV, PROV_NS
from . import run_index

_RUNS = f"""
SELECT ?run ?id ?graph ?started WHERE {{
  GRAPH ?graph {{ ?run a <{CNN_NS}Training> ; <{CNN_NS}runId> ?id
                  OPTIONAL {{ ?run <{PROV_NS}startedAtTime> ?started }} }}
}} ORDER BY DESC(?started)
"""


_NAMED = f"""
SELECT ?run ?id ?graph ?started WHERE {{
  GRAPH ?graph {{ ?run <{CNN_NS}runName> ?name ; <{CNN_NS}runId> ?id ; <{PROV_NS}startedAtTime> ?started }}
}} ORDER BY DESC(?started)
"""

_REFERENCES = (PROV.used, MLS.specifiedBy)


class RunRef(NamedTuple):
    """A captured run: its IRI, its run id (a UUID) and the named graph that holds it."""

    iri: NamedNode
    id: str
    graph: NamedNode


def _named(store: Store | Any, name: str) -> list[tuple[RunRef, str]]:
    """The runs named `name` with their start times, newest first (the name bound as a literal)."""
    text = _NAMED.replace("WHERE {", f"WHERE {{ VALUES ?name {{ {Literal(name)} }}", 1)
    solutions: Any = store.query(text)
    return [(RunRef(row["run"], row["id"].value, row["graph"]), row["started"].value) for row in solutions]


def _ambiguous(reference: str, what: str, matches: list[tuple[str, str]]) -> RunNotFoundError:
    candidates = "; ".join(f"{run_id} (started {started})" for run_id, started in matches)
    return RunNotFoundError(f"{reference!r} {what} {len(matches)} runs: {candidates}")


#: How many candidates an error about an ambiguous prefix lists.
CANDIDATES_LISTED = 10


def _ambiguous_prefix(reference: str, ids: list[str]) -> RunNotFoundError:
    listed = ", ".join(ids[:CANDIDATES_LISTED]) + (f" and {len(ids) - CANDIDATES_LISTED} more"
                                                   if len(ids) > CANDIDATES_LISTED else "")
    return RunNotFoundError(f"{reference!r} is the start of {len(ids)} run ids: {listed}; give more of the id")


def list_runs(store: Store | Any) -> list[RunRef]:
    """Every captured run (found by its type and id), newest first, runs without a start time last (also on a
    `sources.Source`)."""
    solutions: Any = store.query(_RUNS)
    return [RunRef(row["run"], row["id"].value, row["graph"]) for row in solutions]


def _find(store: Store | Any, runs: list[RunRef], reference: str | None) -> RunRef:
    if not runs:
        raise RunNotFoundError("the store holds no captured runs yet")
    if reference is None or reference == "latest":
        return runs[0]
    if reference == "previous":
        if len(runs) < 2:
            raise RunNotFoundError("the store holds a single run, so there is no previous run")
        return runs[1]
    matches = [run for run in runs if reference in (run.iri.value, run.id)]
    if len(matches) == 1:
        return matches[0]
    named = _named(store, reference)
    if len(named) == 1:
        return named[0][0]
    if named:
        raise _ambiguous(reference, "names", [(run.id, started) for run, started in named])
    if not matches:
        matches = [run for run in runs if run.id.startswith(reference)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(run.id for run in runs[:5]) + (" …" if len(runs) > 5 else "")
    if not matches:
        raise RunNotFoundError(f"no run {reference!r} in the store (newest runs: {known})")
    raise _ambiguous_prefix(reference, [run.id for run in matches])


def find_run(store: Store | Any, reference: str | None) -> RunRef:
    """The run `reference` names: None or "latest" for the newest run, "previous" for the one before it, else
    a run IRI, a run id, a run's name (an error listing the candidates if several runs have it) or a unique
    prefix of a run id. Raises `RunNotFoundError`."""
    if not run_index.has_index(store):
        return _find(store, list_runs(store), reference)
    if reference is None or reference in ("latest", "previous"):
        wanted = 1 if reference == "previous" else 0
        newest = run_index.newest(store, 2)
        if len(newest) > wanted:
            return RunRef(*newest[wanted])
        return _find(store, [RunRef(*row) for row in newest], reference)  # raises the scan's error
    for kind in ("iri", "id", "name", "prefix"):
        matches = run_index.by_reference(store, kind, reference)
        if len(matches) == 1:
            return RunRef(*matches[0])
        if matches and kind == "prefix":
            raise _ambiguous_prefix(reference, [row[1] for row in matches])  # newest first
        if matches:
            break  # several: the scan's error lists the candidates
    return _find(store, list_runs(store), reference)  # not indexed (a run the index lacks), ambiguous or not there


def resolve_run(store: Store | Any, reference: str | None) -> tuple[NamedNode, NamedNode]:
    """The (run IRI, graph) that `reference` names (see `find_run`)."""
    run = find_run(store, reference)
    return run.iri, run.graph


def select_runs(store: Store | Any, references: Iterable[str] | None = None) -> list[RunRef]:
    """The runs the references name, in the order given, each once; None means every run, newest first."""
    if references is None:
        return list_runs(store)
    chosen: dict[str, RunRef] = {}
    for reference in references:
        run = find_run(store, reference)
        chosen.setdefault(run.graph.value, run)
    return list(chosen.values())


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
