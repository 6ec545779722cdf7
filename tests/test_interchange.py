"""PROV-N / PROV-JSON export of a captured run, and imports of foreign provenance into their own graphs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from _stores import one_run_quads, shared_graphs
from prov.model import (
    ProvActivity,
    ProvAgent,
    ProvAssociation,
    ProvCommunication,
    ProvDelegation,
    ProvDerivation,
    ProvDocument,
    ProvEntity,
    ProvGeneration,
    ProvUsage,
)
from pyoxigraph import NamedNode, RdfFormat, serialize
from rdflib import Graph
from rdflib.compare import isomorphic

from cnnprov_rdf.interop.export import EXTENSIONS, FORMATS, export
from cnnprov_rdf.interop.interchange import ImportResult, ProvImportError, export_prov, import_file
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.query.runs import resolve_run
from cnnprov_rdf.storage.store import open_for_reading

PROV = "http://www.w3.org/ns/prov#"


def _count(store, graph, pattern: str) -> int:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT * WHERE {{ GRAPH {graph} {{ {pattern} }} }} }}"
    return int(next(iter(store.query(query)))["n"].value)


def _count_in_run(store, graph, pattern: str) -> int:
    """Distinct matches of `pattern` (which has variables) in a run's graph and the shared nodes' graphs."""
    graphs = " ".join(str(g) for g in (graph, *shared_graphs(store)))
    variables = " ".join(dict.fromkeys(re.findall(r"\?\w+", pattern)))
    query = (f"SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT {variables} WHERE {{ "
             f"VALUES ?g {{ {graphs} }} GRAPH ?g {{ {pattern} }} }} }}")
    return int(next(iter(store.query(query)))["n"].value)


def _rdflib_graph(store, graph) -> Graph:
    triples = [quad.triple for quad in store.quads_for_pattern(None, None, None, graph)]
    result = Graph()
    result.parse(data=serialize(triples, format=RdfFormat.N_TRIPLES), format="nt")
    return result


@pytest.fixture
def store_copy(captured, tmp_path: Path) -> Path:
    """A copy of the captured store, so imports leave the session's store alone."""
    copy = tmp_path / "store"
    shutil.copytree(captured.store, copy, ignore=shutil.ignore_patterns("LOCK"))
    return copy


@pytest.mark.parametrize("fmt, prov_format", [("provn", "provn"), ("provjson", "json")])
def test_prov_export_loads_back_with_every_node_and_relation(captured, fmt, prov_format):
    store = open_for_reading(captured.store)
    _, graph = resolve_run(store, captured.run_id)
    text = export_prov(store, fmt, [captured.run_id])
    document = ProvDocument.deserialize(content=text, format=prov_format)
    assert not document.bundles

    def identifiers(kind):
        return {record.identifier for record in document.get_records(kind)}

    for kind, prov_class in ((ProvActivity, "Activity"), (ProvEntity, "Entity"), (ProvAgent, "Agent")):
        expected = _count_in_run(store, graph, f"?node a <{PROV}{prov_class}>")
        assert expected > 0
        assert len(identifiers(kind)) == expected, prov_class
    assert str(graph.value) not in text  # one flat document, no bundle per run
    assert any(str(record.identifier).endswith(captured.run_id) for record in document.get_records(ProvActivity))
    for kind, predicate in (
        (ProvUsage, "used"),
        (ProvGeneration, "wasGeneratedBy"),
        (ProvAssociation, "wasAssociatedWith"),
        (ProvCommunication, "wasInformedBy"),
        (ProvDerivation, "wasDerivedFrom"),
        (ProvDelegation, "actedOnBehalfOf"),
    ):
        expected = _count_in_run(store, graph, f"?s <{PROV}{predicate}> ?o")
        assert expected > 0, predicate
        assert len(list(document.get_records(kind))) == expected, predicate
    associations = list(document.get_records(ProvAssociation))
    roles = {str(role) for record in associations for role in record.get_attribute("prov:role")}
    assert roles == {"cnn:TrainerRole", "cnn:ExecutorRole", "cnn:OperatorRole"}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_rdf_round_trip_gives_an_isomorphic_graph(captured, tmp_path, fmt):
    store = open_for_reading(captured.store)
    _, run_graph = resolve_run(store, captured.run_id)
    file = tmp_path / f"run.{EXTENSIONS[fmt]}"
    export(store, fmt, [captured.run_id], output=file)
    result = import_file(tmp_path / "fresh", file)
    assert isinstance(result, ImportResult)
    assert result.format == fmt and not result.already_present
    original = Graph().parse(data=serialize([q.triple for q in one_run_quads(store, run_graph)],
                                            format=RdfFormat.N_TRIPLES), format="nt")
    assert result.quads_added == len(original)
    fresh = open_for_reading(tmp_path / "fresh")
    imported = _rdflib_graph(fresh, NamedNode(result.graph))
    assert isomorphic(imported, original)


FOREIGN = {
    "prefix": {"ex": "http://example.org/mlflow-like/", "xsd": "http://www.w3.org/2001/XMLSchema#"},
    "activity": {
        "ex:training-42": {
            "prov:type": {"$": "ex:TrainingRun", "type": "prov:QUALIFIED_NAME"},
            "prov:startTime": "2024-05-01T10:00:00+00:00",
            "prov:endTime": "2024-05-01T11:30:00+00:00",
            "prov:label": "resnet18 fine-tuning",
        }
    },
    "entity": {
        "ex:learningRate": {"prov:type": {"$": "ex:Hyperparameter", "type": "prov:QUALIFIED_NAME"},
                            "prov:value": {"$": "0.001", "type": "xsd:double"}},
        "ex:batchSize": {"prov:type": {"$": "ex:Hyperparameter", "type": "prov:QUALIFIED_NAME"},
                         "prov:value": 32},
        "ex:accuracy": {"prov:type": {"$": "ex:Metric", "type": "prov:QUALIFIED_NAME"},
                        "prov:value": {"$": "0.91", "type": "xsd:double"}},
        "ex:model-42": {"prov:type": {"$": "ex:Model", "type": "prov:QUALIFIED_NAME"}},
    },
    "agent": {
        "ex:mlflow": {"prov:type": {"$": "prov:SoftwareAgent", "type": "prov:QUALIFIED_NAME"},
                      "ex:version": "2.12.1"},
    },
    "used": {
        "_:u1": {"prov:activity": "ex:training-42", "prov:entity": "ex:learningRate"},
        "_:u2": {"prov:activity": "ex:training-42", "prov:entity": "ex:batchSize"},
    },
    "wasGeneratedBy": {
        "_:g1": {"prov:entity": "ex:accuracy", "prov:activity": "ex:training-42"},
        "_:g2": {"prov:entity": "ex:model-42", "prov:activity": "ex:training-42",
                 "prov:time": "2024-05-01T11:30:00+00:00"},
    },
    "wasAssociatedWith": {"_:a1": {"prov:activity": "ex:training-42", "prov:agent": "ex:mlflow"}},
}


def test_foreign_prov_json_is_listed_beside_captured_activities(captured, store_copy, tmp_path):
    file = tmp_path / "mlflow-run.json"
    file.write_text(json.dumps(FOREIGN, indent=2))
    result = import_file(store_copy, file)
    assert result.format == "provjson" and result.quads_added > 0 and not result.already_present
    assert result.graph.startswith("https://w3id.org/cnnprov/id/import/")

    rows = run_query(store_copy, "prov-activities").rows
    activities = {row["activity"]: row for row in rows}
    foreign = activities["http://example.org/mlflow-like/training-42"]
    assert foreign["started"].startswith("2024-05-01T10:00:00")
    assert foreign["ended"].startswith("2024-05-01T11:30:00")
    assert any(iri.endswith(captured.run_id) for iri in activities)

    store = open_for_reading(store_copy)
    graph = f"<{result.graph}>"
    ex = "http://example.org/mlflow-like/"
    assert _count(store, graph, f'<{ex}learningRate> <{PROV}value> 0.001e0') == 1
    assert _count(store, graph, f'<{ex}accuracy> <{PROV}value> 0.91e0') == 1
    assert _count(store, graph, f"<{ex}training-42> <{PROV}used> ?e") == 2
    # the document's own triples stay exact: the generation with a time is qualified only, its shortcut kept apart
    assert _count(store, graph, f"?e <{PROV}wasGeneratedBy> <{ex}training-42>") == 1
    shortcuts = f"<{result.graph}/shortcuts>"
    assert _count(store, shortcuts, f"?e <{PROV}wasGeneratedBy> <{ex}training-42>") == 1
    assert _count(store, shortcuts, f"<{ex}model-42> <{PROV}wasGeneratedBy> <{ex}training-42>") == 1
    assert _count(store, graph, f"<{ex}training-42> <{PROV}wasAssociatedWith> <{ex}mlflow>") == 1
    assert _count(store, graph, f"<{ex}mlflow> a <{PROV}SoftwareAgent>") == 1


@pytest.mark.parametrize("name, content", [
    ("doc.json", json.dumps(FOREIGN)),
    ("doc.ttl", "@prefix ex: <http://example.org/> .\nex:a a <http://www.w3.org/ns/prov#Activity> ;\n"
                "  ex:p [ ex:q 1 ] .\n"),
])
def test_importing_twice_adds_nothing(store_copy, tmp_path, name, content):
    file = tmp_path / name
    file.write_text(content)
    first = import_file(store_copy, file)
    size = len(open_for_reading(store_copy))
    second = import_file(store_copy, file)
    assert second.graph == first.graph and second.quads_added == 0 and second.already_present
    assert len(open_for_reading(store_copy)) == size
    # the same content under an explicit graph IRI: blank nodes labelled canonically, so again nothing new
    third = import_file(store_copy, file, graph="http://example.org/graph/x")
    fourth = import_file(store_copy, file, graph="http://example.org/graph/x")
    assert third.quads_added == first.quads_added and fourth.quads_added == 0 and fourth.already_present


@pytest.mark.parametrize(("name", "content", "line"), [
    ("broken.ttl",
     '@prefix ex: <http://example.org/> .\nex:a ex:p ex:b .\nex:a ex:p "unterminated .\nex:c ex:p ex:d .\n', 3),
    ("broken.json", '{\n  "activity": {\n    "ex:a": {,\n  }\n}\n', 3),
    ("broken.provn", "document\n  prefix ex <http://example.org/>\n  activity(ex:a,\n  entity(ex:b)\nendDocument\n", 4),
], ids=["turtle", "prov-json", "prov-n"])
def test_malformed_file_names_file_and_line_and_changes_nothing(store_copy, tmp_path, name, content, line):
    file = tmp_path / name
    file.write_text(content)
    before = len(open_for_reading(store_copy))
    with pytest.raises(ProvImportError) as raised:
        import_file(store_copy, file)
    assert str(file) in str(raised.value) and f"line {line}" in str(raised.value)
    assert len(open_for_reading(store_copy)) == before


@pytest.mark.parametrize(("name", "content"), [("invalid.json", '{"activity": 5}'), ("data.csv", "a,b\n")],
                         ids=["invalid-prov-json", "unknown-extension"])
def test_unusable_file_is_rejected_by_name_and_changes_nothing(store_copy, tmp_path, name, content):
    file = tmp_path / name
    file.write_text(content)
    before = len(open_for_reading(store_copy))
    with pytest.raises(ProvImportError, match=re.escape(name)):
        import_file(store_copy, file)
    assert len(open_for_reading(store_copy)) == before


def test_provn_import_and_quads_go_into_one_graph(store_copy, tmp_path):
    provn = tmp_path / "run.provn"
    provn.write_text(
        "document\n  prefix ex <http://example.org/>\n"
        "  activity(ex:train, 2024-01-01T00:00:00Z, -)\n  entity(ex:data)\n  used(ex:train, ex:data, -)\n"
        "endDocument\n"
    )
    result = import_file(store_copy, provn)
    assert result.format == "provn" and result.quads_added >= 3
    nquads = tmp_path / "two-graphs.nq"
    nquads.write_text(
        "<http://example.org/a> <http://example.org/p> <http://example.org/b> <http://example.org/g1> .\n"
        "<http://example.org/c> <http://example.org/p> <http://example.org/d> .\n"
    )
    quads = import_file(store_copy, nquads, graph="http://example.org/imported")
    assert quads.graph == "http://example.org/imported" and quads.quads_added == 2
    store = open_for_reading(store_copy)
    assert _count(store, "<http://example.org/imported>", "?s ?p ?o") == 2
    assert _count(store, "<http://example.org/g1>", "?s ?p ?o") == 0
