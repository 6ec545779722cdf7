"""OWL RL reasoning over captured runs (`cnnprov_rdf.interop.reasoning`) and the generated ontology reference.

Reasoning writes to the store, so every test works on a copy of the session's captured store.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pyoxigraph import NamedNode, Quad
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF

from cnnprov_rdf.graph.iris import INFERRED_SUFFIX
from cnnprov_rdf.graph.vocabulary import CLASS_BASE_TYPES, CNN_NS, MLS, PROV, RDF_TYPE, XSD_NS
from cnnprov_rdf.interop.ontology_docs import render_markdown
from cnnprov_rdf.interop.reasoning import (
    _run_triples,
    infer,
    inferred_graph_of,
    prov_axioms_file,
    reason,
    remove_inferences,
)
from cnnprov_rdf.query.runs import list_runs
from cnnprov_rdf.resources import ontology_file
from cnnprov_rdf.storage.store import open_for_reading, open_for_writing

REPO = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO.parent / "shared" / "reference" / "ontologies"
PROV_O_FILE = REFERENCE_DIR / "prov-o.ttl"
DOCS_FILE = REPO / "docs" / "ontology.md"


@pytest.fixture
def store_copy(captured, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    copy = tmp_path / "store"
    shutil.copytree(captured.store, copy)
    return copy


def _quads(path: Path) -> set[Quad]:
    store = open_for_reading(path)
    quads = set(store)
    del store
    return quads


def _run(path: Path) -> tuple[NamedNode, NamedNode]:
    store = open_for_reading(path)
    [(run, _, graph)] = list_runs(store)
    del store
    return run, graph


# --- the PROV-O subset ------------------------------------------------------------------------------


def test_prov_axioms_parse_and_state_disjointness() -> None:
    graph = Graph().parse(prov_axioms_file(), format="turtle")
    prov = "http://www.w3.org/ns/prov#"
    owl = "http://www.w3.org/2002/07/owl#"
    assert (URIRef(prov + "Activity"), URIRef(owl + "disjointWith"), URIRef(prov + "Entity")) in graph
    assert (
        URIRef(prov + "hadMember"),
        URIRef("http://www.w3.org/2000/01/rdf-schema#domain"),
        URIRef(prov + "Collection"),
    ) in graph


# --- reasoning over a captured run -------------------------------------------------------------------


def test_reason_stores_new_facts_in_an_inferred_graph(store_copy: Path) -> None:
    before = _quads(store_copy)
    run, graph = _run(store_copy)
    progress: list[str] = []

    report = reason(store_copy, progress=progress.append)

    [result] = report.runs
    assert result.run == run.value and result.graph == graph.value
    assert result.inferred_graph == graph.value + INFERRED_SUFFIX
    assert result.inconsistencies == [] and report.consistent
    assert result.inferred_triples > 0 and result.seconds >= 0
    assert progress and any(run.value in line for line in progress)

    after = _quads(store_copy)
    target = inferred_graph_of(graph)
    inferred = {q for q in after if q.graph_name == target}
    assert len(inferred) == result.inferred_triples
    assert after - inferred == before, "reasoning changed graphs other than the inferred one"
    facts = {(q.subject, q.predicate, q.object) for q in inferred}
    # cnn:Training ⊑ mls:Run, cnn:TrainedModel ⊑ mls:Model, cnn:hasLayer ⊑ prov:hadMember
    assert (run, RDF_TYPE, MLS.Run) in facts
    assert (NamedNode(run.value + "/model"), RDF_TYPE, MLS.Model) in facts
    # the architecture's layers live in its own graph; reasoning over the run reads them too
    [architecture] = [q.subject for q in before if q.graph_name == graph and q.predicate == RDF_TYPE
                      and q.object == NamedNode("https://w3id.org/cnnprov/ontology#ModelArchitecture")]
    assert not architecture.value.startswith(run.value)
    # cnn:hasLayer ⊑ prov:hadMember: the mapping now asserts both (PROV tools read a Collection by hadMember)
    assert any(q.predicate == PROV.hadMember and q.subject == architecture for q in before)
    explicit = {(q.subject, q.predicate, q.object) for q in before}
    assert not facts & explicit, "the inferred graph repeats asserted triples"
    vocabulary = ("http://www.w3.org/2002/07/owl#", "http://www.w3.org/2000/01/rdf-schema#", CNN_NS)
    assert not [s for s, _, _ in facts if s.value.startswith(vocabulary)]
    assert (run, NamedNode("http://www.w3.org/2002/07/owl#sameAs"), run) not in facts


def test_reasoning_again_replaces_the_inferred_graph(store_copy: Path) -> None:
    first = reason(store_copy).runs[0].inferred_triples
    once = _quads(store_copy)
    assert reason(store_copy, runs=["latest"]).runs[0].inferred_triples == first
    assert _quads(store_copy) == once


def test_remove_inferences_restores_the_store(store_copy: Path) -> None:
    before = _quads(store_copy)
    run, _ = _run(store_copy)
    reason(store_copy)
    assert len(_quads(store_copy)) > len(before)
    assert remove_inferences(store_copy) == 1
    assert _quads(store_copy) == before
    assert remove_inferences(store_copy) == 0
    reason(store_copy, runs=[run.value])
    assert remove_inferences(store_copy, runs=[run.value]) == 1
    assert _quads(store_copy) == before


def test_an_activity_that_is_also_an_entity_is_reported(store_copy: Path) -> None:
    run, graph = _run(store_copy)
    store = open_for_writing(store_copy)
    store.add(Quad(run, RDF_TYPE, PROV.Entity, graph))
    store.flush()
    del store

    report = reason(store_copy)

    assert not report.consistent
    problems = report.runs[0].inconsistencies
    assert any(run.value in problem and "prov:Activity" in problem and "prov:Entity" in problem for problem in problems)


def test_ill_typed_literals_are_reported_but_valid_zero_and_nan_doubles_are_not() -> None:
    """owlrl 7 wrongly calls 0.0, NaN and INF ill-typed xsd:double values; those reports are dropped."""
    node = URIRef("https://example.org/epoch/1")
    loss = URIRef(CNN_NS + "loss")
    double = URIRef(XSD_NS + "double")
    epoch = [(node, RDF.type, URIRef(CNN_NS + "EpochResult"))]
    for value in ("0.0", "NaN", "INF", "-INF", "-0", "1e-400"):
        _, problems = infer([*epoch, (node, loss, Literal(value, datatype=double))])
        assert problems == [], value
    _, problems = infer([*epoch, (node, loss, Literal("lots", datatype=double))])
    assert problems and "lots" in problems[0]


def test_captured_run_conforms_to_the_official_prov_o(captured) -> None:  # type: ignore[no-untyped-def]
    """The issue's conformance check: the run, cnnprov.ttl and the W3C PROV-O file under OWL RL."""
    if not PROV_O_FILE.is_file():
        pytest.skip(f"the official PROV-O file {PROV_O_FILE} is absent (it is read from the shared reference folder)")
    ontology = Graph()
    ontology.parse(ontology_file(), format="turtle")
    ontology.parse(PROV_O_FILE, format="turtle")
    store = open_for_reading(captured.store)
    [(run, _, graph)] = list_runs(store)
    triples = _run_triples(store, graph)
    del store

    inferred, problems = infer(triples, ontology)

    both = [p for p in problems if "both a prov:Activity and a prov:Entity" in p]
    nothing = [p for p in problems if "owl:Nothing" in p]
    assert both == [], both
    assert nothing == [], nothing
    assert problems == []
    assert (URIRef(run.value), RDF.type, URIRef(str(MLS.Run.value))) in inferred


# --- the generated ontology reference ----------------------------------------------------------------


def test_ontology_docs_are_up_to_date() -> None:
    expected = render_markdown(ontology_file())
    assert DOCS_FILE.is_file(), (
        "docs/ontology.md is missing: python -m cnnprov_rdf.interop.ontology_docs > docs/ontology.md"
    )
    assert DOCS_FILE.read_text(encoding="utf-8") == expected, (
        "docs/ontology.md is stale: regenerate it with python -m cnnprov_rdf.interop.ontology_docs > docs/ontology.md"
    )


def test_ontology_docs_cover_every_class_and_union_domains() -> None:
    text = render_markdown(ontology_file())
    for name in CLASS_BASE_TYPES:
        assert f"### `cnn:{name}`" in text, name
    assert "[`cnn:EpochResult`](#cnn-epochresult) or [`cnn:TestResult`](#cnn-testresult)" in text
    assert "`mls:Run`" in text and "`prov:hadMember`" in text and "### `cnn:TrainerRole`" in text


def test_canned_queries_give_the_same_rows_after_reasoning(captured, tmp_path):
    """No canned query depends on reasoning, and inferred graphs do not change their answers."""
    from cnnprov_rdf.query.execute import run_query
    from cnnprov_rdf.query.library import load_queries

    copy = tmp_path / "store"
    shutil.copytree(captured.store, copy)
    def answers() -> dict[str, object]:
        results: dict[str, object] = {}
        for name in load_queries():
            try:
                results[name] = run_query(copy, name).rows
            except ValueError as error:  # e.g. compare-runs needs a previous run; the same error after
                results[name] = str(error)
        return results

    before = answers()
    reason(copy)
    assert answers() == before
