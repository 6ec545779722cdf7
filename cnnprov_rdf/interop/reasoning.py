"""OWL RL reasoning over captured runs: inferred triples in a named graph per run, and consistency checks.

For each run, the owlrl OWL RL closure of the run's graph, `ontology/cnnprov.ttl` and `ontology/prov-axioms.ttl`
(a hand-written subset of PROV-O) is computed in memory. Only the new triples about the run's own data are
kept: nothing whose subject is an ontology term or an OWL/RDF/RDFS/XSD term, no blank nodes (the anonymous
union classes of domains, owlrl's error reports), and no tautologies (`x owl:sameAs x`, `x a owl:Thing`,
`x a rdfs:Resource`). They are stored in `<run graph>/inferred`, replacing any previous inferences, in one
transaction for all the runs reasoned over.

The inferred graphs are an optional extra: the canned queries never depend on them.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import owlrl  # type: ignore[import-untyped]
from pyoxigraph import NamedNode, Store
from rdflib import BNode, Graph, Namespace, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from ..graph.iris import inferred_graph_of, is_inferred_graph
from ..graph.vocabulary import CNN_NS, MLS_NS, OWL_NS, PROV_NS, RDF_NS, RDFS_NS, XSD_NS
from ..query.runs import RunRef, run_quads, select_runs
from ..resources import ontology_file
from ..storage.store import open_for_writing
from .rdflib_bridge import to_oxigraph_term, to_rdflib_triples

#: Where owlrl records the inconsistencies it finds (as blank nodes typed `ErrorMessage`).
OWLRL_ERRORS = Namespace("http://www.daml.org/2002/03/agents/agent-ont#")

_PROV = Namespace(PROV_NS)
#: Subjects in these namespaces are ontology terms, never run data.
_VOCABULARY_NAMESPACES = (OWL_NS, RDF_NS, RDFS_NS, XSD_NS, PROV_NS, MLS_NS, CNN_NS)
_TAUTOLOGICAL_TYPES = frozenset({OWL.Thing, RDFS.Resource})

#: owlrl (7.x) rejects xsd:double / xsd:float zeros, NaN and infinities as ill-typed (its range check excludes
#: them, and prints NaN and INF in lower case); such reports are dropped when the lexical form is valid XSD.
_OWLRL_LEXICAL_ERROR = re.compile(
    r"Lexical value of the literal '(.*)' does not match its datatype \((.*)\)", re.DOTALL
)
_XSD_FLOATING = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([Ee][+-]?[0-9]+)?|[+-]?(INF|inf)|NaN|nan")


def prov_axioms_file() -> Path:
    """`ontology/prov-axioms.ttl`, next to `cnnprov.ttl` in a checkout or an installed wheel."""
    return ontology_file().parent / "prov-axioms.ttl"


@dataclass
class RunReasoning:
    """What reasoning found for one run."""

    run: str
    graph: str
    inferred_graph: str
    inferred_triples: int
    seconds: float
    inconsistencies: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not self.inconsistencies


@dataclass
class ReasoningReport:
    runs: list[RunReasoning] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return all(run.consistent for run in self.runs)

    @property
    def inferred_triples(self) -> int:
        return sum(run.inferred_triples for run in self.runs)

    @property
    def seconds(self) -> float:
        return sum(run.seconds for run in self.runs)


# --- reasoning --------------------------------------------------------------------------------------


def _ontology_graph() -> Graph:
    graph = Graph()
    graph.parse(ontology_file(), format="turtle")
    graph.parse(prov_axioms_file(), format="turtle")
    return graph


def _ontology_terms(ontology: Graph) -> set[URIRef]:
    """IRIs the ontologies describe (classes, properties, roles, the ontologies themselves)."""
    return {s for s in ontology.subjects() if isinstance(s, URIRef)}


def _is_vocabulary(term: URIRef) -> bool:
    return str(term).startswith(_VOCABULARY_NAMESPACES)


def _keep(triple: tuple, ontology_terms: set[URIRef]) -> bool:  # type: ignore[type-arg]
    """Whether a new triple of the closure is a fact about the run's data worth storing."""
    s, p, o = triple
    if not isinstance(s, URIRef) or isinstance(p, BNode) or isinstance(o, BNode):
        return False
    if s in ontology_terms or _is_vocabulary(s):
        return False
    if p == OWL.sameAs and s == o:
        return False
    return not (p == RDF.type and o in _TAUTOLOGICAL_TYPES)


def _inconsistencies(closure: Graph) -> list[str]:
    found = []
    both = set(closure.subjects(RDF.type, _PROV.Activity)) & set(closure.subjects(RDF.type, _PROV.Entity))
    found += [f"{node} is both a prov:Activity and a prov:Entity" for node in sorted(both, key=str)]
    nothing = set(closure.subjects(RDF.type, OWL.Nothing))
    found += [f"{node} is a member of owl:Nothing" for node in sorted(nothing, key=str)]
    for message in closure.subjects(RDF.type, OWLRL_ERRORS.ErrorMessage):
        found += [f"owlrl: {text}" for text in closure.objects(message, OWLRL_ERRORS.error) if not _spurious(str(text))]
    return found


def _spurious(owlrl_error: str) -> bool:
    """Whether an owlrl error is its known false report of a valid xsd:double or xsd:float (0.0, NaN, INF)."""
    match = _OWLRL_LEXICAL_ERROR.fullmatch(owlrl_error.strip())
    if not match or match.group(2) not in (XSD_NS + "double", XSD_NS + "float"):
        return False
    return _XSD_FLOATING.fullmatch(match.group(1).strip()) is not None


def infer(run_triples: Iterable[tuple], ontology: Graph | None = None) -> tuple[Graph, list[str]]:  # type: ignore[type-arg]
    """The new triples the OWL RL closure adds about a run's data, and the inconsistencies the closure shows.

    `run_triples` are rdflib (subject, predicate, object) triples; `ontology` defaults to cnnprov.ttl plus
    prov-axioms.ttl (pass another graph, e.g. with the official PROV-O, to reason with it instead).
    """
    ontology = _ontology_graph() if ontology is None else ontology
    asserted = Graph()
    for triple in run_triples:
        asserted.add(triple)
    closure = Graph()
    for triple in ontology:
        closure.add(triple)
    for triple in asserted:
        closure.add(triple)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(closure)
    terms = _ontology_terms(ontology)
    inferred = Graph()
    for triple in closure:
        if triple not in asserted and triple not in ontology and _keep(triple, terms):
            inferred.add(triple)
    return inferred, _inconsistencies(closure)


def _run_triples(store: Store, graph: NamedNode) -> list[tuple]:  # type: ignore[type-arg]
    """A run's quads (with its shared nodes') as rdflib triples."""
    return to_rdflib_triples(run_quads(store, graph))


def _chosen_runs(store: Store, runs: list[str] | None) -> list[RunRef]:
    """The runs `runs` names, or every run, oldest first."""
    return select_runs(store, runs) if runs is not None else select_runs(store)[::-1]


def _graph_update(graph: NamedNode, triples: Graph) -> str:
    body = " .\n".join(
        f"{to_oxigraph_term(s)} {to_oxigraph_term(p)} {to_oxigraph_term(o)}" for s, p, o in sorted(triples))
    update = f"DROP SILENT GRAPH {graph} ;\n"
    if body:
        update += f"INSERT DATA {{ GRAPH {graph} {{\n{body} .\n}} }} ;\n"
    return update


def reason(
    store_path: str | os.PathLike[str],
    runs: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReasoningReport:
    """Reason over the chosen runs (references as `resolve_run` takes them; default all) and store the inferences.

    Opens the store for writing (so no other process may be writing it), computes each run's closure, then
    replaces every chosen run's `<graph>/inferred` in a single transaction.
    """
    store = open_for_writing(store_path)
    try:
        ontology = _ontology_graph()
        report = ReasoningReport()
        updates: list[str] = []
        chosen = _chosen_runs(store, runs)
        for number, (iri, _, graph) in enumerate(chosen, 1):
            if progress:
                progress(f"[{number}/{len(chosen)}] reasoning over {iri.value}")
            started = time.perf_counter()
            inferred, inconsistencies = infer(_run_triples(store, graph), ontology)
            target = inferred_graph_of(graph)
            updates.append(_graph_update(target, inferred))
            seconds = time.perf_counter() - started
            report.runs.append(
                RunReasoning(iri.value, graph.value, target.value, len(inferred), seconds, inconsistencies)
            )
            if progress:
                verdict = "consistent" if not inconsistencies else f"{len(inconsistencies)} inconsistencies"
                progress(f"[{number}/{len(chosen)}] {len(inferred)} inferred triples in {seconds:.1f} s, {verdict}")
        if updates:
            store.update("".join(updates).rstrip(" ;\n"))
        store.flush()
    finally:
        del store
    return report


def remove_inferences(store_path: str | os.PathLike[str], runs: list[str] | None = None) -> int:
    """Delete the inferred graphs of the chosen runs (default: every `.../inferred` graph); returns how many."""
    store = open_for_writing(store_path)
    try:
        if runs is None:
            targets = [g for g in store.named_graphs() if is_inferred_graph(g)]
        else:
            targets = [inferred_graph_of(run.graph) for run in _chosen_runs(store, runs)]
        targets = [g for g in targets if store.contains_named_graph(g)]
        if targets:
            store.update(" ;\n".join(f"DROP SILENT GRAPH {g}" for g in targets))
        store.flush()
    finally:
        del store
    return len(targets)
