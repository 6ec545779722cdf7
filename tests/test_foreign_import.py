"""Foreign PROV in every W3C serialization: chosen by content and extension, every relation's shortcut present,
real producers' oddities tolerated, and documents that are not what they claim refused with one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prov.model import ProvDocument

from cnnprov_rdf.interop.formats import detect_format
from cnnprov_rdf.interop.interchange import ProvImportError, import_file
from cnnprov_rdf.interop.producers import parse_time
from cnnprov_rdf.query.federation import shared_datasets
from cnnprov_rdf.storage.store import open_for_reading

PROV = "http://www.w3.org/ns/prov#"
EX = "http://example.org/all/"
REPO = Path(__file__).resolve().parents[1]
T = datetime(2024, 5, 1, 10, 0, 0)

#: (subject, PROV-O shortcut, object) every document below must give, whatever its serialization.
RELATIONS = [
    ("train", "used", "data"),
    ("model", "wasGeneratedBy", "train"),
    ("test", "wasInformedBy", "train"),
    ("train", "wasStartedBy", "trigger"),
    ("train", "wasEndedBy", "trigger"),
    ("data", "wasInvalidatedBy", "test"),
    ("model", "wasDerivedFrom", "data"),
    ("model2", "wasRevisionOf", "model"),
    ("quote", "wasQuotedFrom", "data"),
    ("copy", "hadPrimarySource", "data"),
    ("model", "wasAttributedTo", "alice"),
    ("train", "wasAssociatedWith", "bot"),
    ("bot", "actedOnBehalfOf", "alice"),
    ("test", "wasInfluencedBy", "data"),
    ("layers", "hadMember", "data"),
    ("model2", "alternateOf", "model"),
    ("model2", "specializationOf", "model"),
]


def every_relation() -> ProvDocument:
    """A document with each PROV relation kind, each with an attribute where PROV allows one (so `prov` writes
    the qualified form in PROV-O), written by the `prov` package itself."""
    doc = ProvDocument()
    doc.add_namespace("ex", EX)
    for name in ("data", "model", "model2", "quote", "copy", "trigger", "layers"):
        doc.entity(f"ex:{name}")
    doc.collection("ex:layers")
    for name in ("train", "test"):
        doc.activity(f"ex:{name}", T, T)
    doc.agent("ex:alice")
    doc.agent("ex:bot")
    at = {"ex:note": "qualified"}
    doc.used("ex:train", "ex:data", T, other_attributes=at)
    doc.wasGeneratedBy("ex:model", "ex:train", T, other_attributes=at)
    doc.wasInformedBy("ex:test", "ex:train", other_attributes=at)
    doc.wasStartedBy("ex:train", "ex:trigger", time=T, other_attributes=at)
    doc.wasEndedBy("ex:train", "ex:trigger", time=T, other_attributes=at)
    doc.wasInvalidatedBy("ex:data", "ex:test", T, other_attributes=at)
    doc.wasDerivedFrom("ex:model", "ex:data", other_attributes=at)
    doc.wasRevisionOf("ex:model2", "ex:model")
    doc.wasQuotedFrom("ex:quote", "ex:data")
    doc.hadPrimarySource("ex:copy", "ex:data")
    doc.wasAttributedTo("ex:model", "ex:alice", other_attributes=at)
    doc.wasAssociatedWith("ex:train", "ex:bot", other_attributes=at)
    doc.actedOnBehalfOf("ex:bot", "ex:alice", other_attributes=at)
    doc.wasInfluencedBy("ex:test", "ex:data", other_attributes=at)
    doc.hadMember("ex:layers", "ex:data")
    doc.alternateOf("ex:model2", "ex:model")
    doc.specializationOf("ex:model2", "ex:model")
    return doc


def serializations(doc: ProvDocument) -> dict[str, tuple[str, str]]:
    """file name → (content, the format the content must be detected as)."""
    return {
        "doc.provn": (doc.serialize(format="provn"), "provn"),
        "doc.json": (doc.serialize(format="json"), "provjson"),
        "doc.xml": (doc.serialize(format="xml"), "provxml"),
        "doc-prov.jsonld": (doc.serialize(format="jsonld"), "provjsonld"),
        "doc.ttl": (doc.serialize(format="rdf", rdf_format="turtle"), "turtle"),
        "doc.trig": (doc.serialize(format="rdf", rdf_format="trig"), "trig"),
        "doc.nq": (doc.serialize(format="rdf", rdf_format="nquads"), "nquads"),
        "doc.rdf": (doc.serialize(format="rdf", rdf_format="xml"), "rdfxml"),
        "doc-rdf.jsonld": (doc.serialize(format="rdf", rdf_format="json-ld"), "jsonld"),
    }


def _ask(store, pattern: str) -> bool:
    return bool(store.query(f"ASK {{ GRAPH ?g {{ {pattern} }} }}"))


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("docs")
    files = {}
    for name, (content, fmt) in serializations(every_relation()).items():
        (folder / name).write_text(content, encoding="utf-8")
        files[name] = (folder / name, fmt)
    return files


@pytest.mark.parametrize("name", list(serializations(every_relation())))
def test_every_serialization_gives_every_relation_shortcut(documents, tmp_path, name):
    file, fmt = documents[name]
    result = import_file(tmp_path / "store", file)
    assert result.format == fmt and result.quads_added > 0
    store = open_for_reading(tmp_path / "store")
    for subject, relation, obj in RELATIONS:
        assert _ask(store, f"<{EX}{subject}> <{PROV}{relation}> <{EX}{obj}>"), (name, relation)
    # the document's own triples stay exact: shortcuts that it does not state are only in {graph}/shortcuts
    graph = result.graph
    own = store.query(f"ASK {{ GRAPH <{graph}> {{ <{EX}train> <{PROV}used> <{EX}data> }} }}")
    apart = store.query(f"ASK {{ GRAPH <{graph}/shortcuts> {{ <{EX}train> <{PROV}used> <{EX}data> }} }}")
    assert bool(own) != bool(apart)
    # PROV times are xsd:dateTime in every serialization
    started = next(iter(store.query(f"SELECT ?t WHERE {{ GRAPH ?g {{ <{EX}train> <{PROV}startedAtTime> ?t }} }}")))
    assert started["t"].datatype.value == "http://www.w3.org/2001/XMLSchema#dateTime"


def test_qualified_only_prov_o_is_seen_by_shared_datasets(captured, tmp_path):
    """Only `prov:qualifiedUsage` in the document: `federate shared-datasets` finds the dataset through the
    shortcut."""
    store = tmp_path / "store"
    shutil.copytree(captured.store, store, ignore=shutil.ignore_patterns("LOCK"))
    dataset = next(iter(open_for_reading(store).query(
        "PREFIX cnn: <https://w3id.org/cnnprov/ontology#> SELECT ?d WHERE { ?d a cnn:Dataset }",
        use_default_graph_as_union=True)))["d"]
    other = tmp_path / "other"
    doc = tmp_path / "qualified.ttl"
    doc.write_text(
        "@prefix prov: <http://www.w3.org/ns/prov#> .\n@prefix cnn: <https://w3id.org/cnnprov/ontology#> .\n"
        "<http://example.org/t> a prov:Activity, cnn:Training ; cnn:runId \"foreign-1\" ;\n"
        "  prov:startedAtTime \"2024-05-01T10:00:00Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime> ;\n"
        f"  prov:qualifiedUsage [ a prov:Usage ; prov:entity {dataset} ] .\n"
        f"{dataset} a cnn:Dataset ; cnn:datasetName \"shapes\" .\n", encoding="utf-8")
    import_file(other, doc)
    rows = shared_datasets([store, other]).rows
    foreign = [row for row in rows if row["source"] == str(other)]
    assert [(row["dataset"], row["activity"], row["run_id"]) for row in foreign] == [
        (dataset.value, "http://example.org/t", "foreign-1")]
    assert any(row["run_id"] == captured.run_id for row in rows)


@pytest.mark.parametrize(("name", "content", "expected"), [
    # an RDF/XML extension on PROV-XML content, read as PROV-XML (the content decides within XML)
    ("doc.rdf", None, "provxml"),
    ("doc.owl", "<?xml version='1.0'?>\n<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'/>",
     "rdfxml"),
    ("doc.json", '{"@context": {"ex": "http://example.org/"}, "@id": "ex:a"}', "jsonld"),
    ("doc", "document\nendDocument\n", "provn"),
])
def test_content_decides_within_a_family(tmp_path, name, content, expected):
    content = content if content is not None else every_relation().serialize(format="xml")
    assert detect_format(name, content.encode()) == expected


@pytest.mark.parametrize(("name", "content", "message"), [
    ("garbage.xml", "<?xml version='1.0'?>\n<html><body>not provenance</body></html>", "is not PROV-XML"),
    ("json.xml", '{"entity": {}}', "the extension .xml says XML"),
    ("doc.ttl", '{"entity": {"ex:a": {}}}', "the extension .ttl says a text RDF syntax"),
    ("doc.json", "@prefix ex: <http://example.org/> .\n", "the extension .json says JSON"),
    ("doc.provn", "<http://a> <http://b> <http://c> .\n", "the extension .provn says PROV-N"),
    ("list.json", "[1, 2]", "is not PROV-JSON, PROV-JSON-LD or JSON-LD"),
    ("remote.jsonld", '{"@context": "https://schema.org/", "@id": "http://example.org/a"}', "is remote"),
    ("bad.xml", "<?xml version='1.0'?>\n<prov:document xmlns:prov='http://www.w3.org/ns/prov#'>\n<prov:entity>\n",
     "bad.xml, line"),
])
def test_a_document_that_is_not_what_it_says_is_refused_and_nothing_is_imported(tmp_path, name, content, message):
    file = tmp_path / name
    file.write_text(content, encoding="utf-8")
    store = tmp_path / "store"
    with pytest.raises(ProvImportError, match=message.replace(".", r"\.")) as caught:
        import_file(store, file)
    assert "\n" not in str(caught.value)
    assert not store.exists()  # refused before the store is opened
    out = subprocess.run([sys.executable, "-m", "cnnprov_rdf.cli", "import", "--store", str(store), str(file)],
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and str(file) in out.stderr


def test_format_override_is_checked_against_the_content(tmp_path):
    file = tmp_path / "doc.txt"
    file.write_text(every_relation().serialize(format="json"), encoding="utf-8")
    assert import_file(tmp_path / "store", file, fmt="provjson").format == "provjson"
    with pytest.raises(ProvImportError, match="--format provn was asked for, but the content is JSON"):
        import_file(tmp_path / "store2", file, fmt="provn")


def test_non_iri_prefixes_are_resolved_under_the_graph_with_a_warning(tmp_path):
    file = tmp_path / "run.json"
    file.write_text(json.dumps({
        "prefix": {"default": "my_experiment", "provml": "prov-ml"},
        "activity": {"run_0": {"prov:startedAtTime": "2024-05-01T10:00:00.250000", "prov:type": "provml:Run"}},
    }), encoding="utf-8")
    result = import_file(tmp_path / "store", file, graph="http://example.org/g")
    assert any("'default' is 'my_experiment', not an IRI" in w for w in result.warnings)
    assert any("'provml'" in w for w in result.warnings)
    store = open_for_reading(tmp_path / "store")
    row = next(iter(store.query(
        f"SELECT ?t WHERE {{ GRAPH <http://example.org/g> {{ <http://example.org/g/my_experiment/run_0> "
        f"<{PROV}startedAtTime> ?t }} }}")))
    assert row["t"].value == "2024-05-01T10:00:00.25"
    assert row["t"].datatype.value == "http://www.w3.org/2001/XMLSchema#dateTime"
    out = subprocess.run([sys.executable, "-m", "cnnprov_rdf.cli", "import", "--store", str(tmp_path / "s2"),
                          str(file)], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 0 and "warning:" in out.stderr and "my_experiment" in out.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=40))
def test_time_parsing_never_raises_and_only_accepts_date_times(text):
    parsed = parse_time(text)
    if parsed is not None:
        assert "T" in parsed
        datetime.fromisoformat(parsed.replace("Z", "+00:00"))


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(["a.ttl", "a.json", "a.xml", "a.provn", "a.jsonld", "a.nq"]))
def test_format_detection_of_any_bytes_is_a_format_or_one_line_error(content, name):
    try:
        fmt = detect_format(name, content)
    except ProvImportError as error:
        assert "\n" not in str(error).strip()
    else:
        assert isinstance(fmt, str)


def test_one_run_as_json_ld_reads_as_plain_triples_and_graphs_only_when_asked(captured):
    from rdflib import ConjunctiveGraph, Graph

    from cnnprov_rdf.interop.export import export
    from cnnprov_rdf.query.runs import run_quads, select_runs

    store = open_for_reading(captured.store)
    [run] = select_runs(store, [captured.run_id])
    triples = {q.triple for q in run_quads(store, run.graph)}
    plain = Graph().parse(data=export(store, "jsonld", [captured.run_id]), format="json-ld")
    assert len(plain) == len(triples) > 100
    with_graphs = ConjunctiveGraph()
    with_graphs.parse(data=export(store, "jsonld", [captured.run_id], named_graphs=True), format="json-ld")
    assert run.graph.value in {str(c.identifier) for c in with_graphs.contexts()}


def test_validate_reports_a_run_that_lost_its_start_time(captured, tmp_path):
    from pyoxigraph import NamedNode

    from cnnprov_rdf.interop.validation import validate
    from cnnprov_rdf.storage.store import open_for_writing

    store_path = tmp_path / "store"
    shutil.copytree(captured.store, store_path, ignore=shutil.ignore_patterns("LOCK"))
    store = open_for_writing(store_path)
    started = NamedNode(PROV + "startedAtTime")
    run = NamedNode(f"https://w3id.org/cnnprov/id/run/{captured.run_id}")
    for quad in list(store.quads_for_pattern(run, started, None, None)):
        store.remove(quad)
    store.flush()
    del store
    report = validate(open_for_reading(store_path))
    [result] = [r for r in report.runs if r.run_id == captured.run_id]
    assert not report.conforms and not result.conforms
    assert "startedAtTime" in report.text()
