"""The `cnnprov` CLI on a captured run: queries, errors, injection attempts and the Turtle export."""

from __future__ import annotations

import csv
import io
import json

import pytest
import rdflib
from _stores import one_run_quads, shared_graphs
from pyoxigraph import RdfFormat, serialize
from rdflib.compare import isomorphic

from cnnprov_rdf.cli import main
from cnnprov_rdf.interop.export import export
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.query.library import QueryError, load_queries
from cnnprov_rdf.query.runs import resolve_run
from cnnprov_rdf.storage.store import open_for_reading


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_query_epoch_loss_time_json_is_ordered_by_loss_descending(capsys, captured):
    code, out, _ = cli(capsys, "query", "epoch-loss-time", "--store", str(captured.store), "--format", "json")
    rows = json.loads(out)
    expected = sorted(zip(captured.history["loss"], [1, 2, 3], strict=True), reverse=True)
    assert code == 0
    assert [(r["loss"], r["epoch"]) for r in rows] == expected
    assert list(rows[0]) == ["elapsed_seconds", "epoch", "loss"]


def test_query_by_run_id_prefix_and_csv(capsys, captured):
    code, out, _ = cli(capsys, "query", "epoch-loss-time", "--store", str(captured.store),
                       "--run", captured.run_id[:8], "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert sorted(float(r["loss"]) for r in rows) == sorted(captured.history["loss"])


def test_query_runs_reports_status(capsys, captured):
    code, out, _ = cli(capsys, "query", "runs", "--store", str(captured.store), "--format", "json")
    rows = json.loads(out)
    assert code == 0
    assert [(r["run_id"], r["name"], r["status"], r["epochs"]) for r in rows] == [
        (captured.run_id, "tiny", "finished", 3)
    ]


def test_unknown_query_suggests_the_closest_names(capsys, captured):
    code, _, err = cli(capsys, "query", "epoch-los-time", "--store", str(captured.store))
    assert code == 2
    assert "unknown query 'epoch-los-time'" in err and "did you mean epoch-loss-time" in err


def test_unknown_parameter_and_missing_store_are_clear_errors(capsys, captured, tmp_path):
    code, _, err = cli(capsys, "query", "runs", "--store", str(captured.store), "--param", "run=latest")
    assert code == 2 and "has no parameter 'run'" in err
    code, _, err = cli(capsys, "query", "runs", "--store", str(tmp_path / "missing"))
    assert code == 2 and f"no provenance store at {tmp_path / 'missing'}" in err


ATTEMPTS = ["x> } DROP ALL #", '" } ; DROP ALL ; #', "latest> } INSERT DATA { <a> <b> <c> } #"]


@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_injection_through_a_parameter_changes_neither_store_nor_meaning(capsys, captured, attempt):
    before = len(open_for_reading(captured.store))
    code, out, err = cli(capsys, "query", "epoch-loss-time", "--store", str(captured.store),
                         "--param", f"run={attempt}")
    assert code == 2 and "no run" in err and out == ""
    assert len(open_for_reading(captured.store)) == before


def test_ill_typed_parameter_is_rejected(tmp_path):
    (tmp_path / "by-epoch.rq").write_text(
        "# title: t\n# description: d\n# param: n integer required  An epoch.\n# columns: n\n"
        "SELECT ?n WHERE { BIND(1 AS ?x) }\n"
    )
    queries = load_queries(tmp_path)
    assert "by-epoch" in queries and queries["by-epoch"].parameters[0].required
    with pytest.raises(QueryError, match="must be integer"):
        run_query(rdflib_free_store(), "by-epoch", queries_dir=tmp_path, n="three")
    with pytest.raises(QueryError, match="needs the parameter 'n'"):
        run_query(rdflib_free_store(), "by-epoch", queries_dir=tmp_path)
    rows = run_query(rdflib_free_store(), "by-epoch", queries_dir=tmp_path, n="3").rows
    assert rows == [{"n": 3}]


def rdflib_free_store():
    from pyoxigraph import Store

    return Store()


def test_queries_listing_json(capsys):
    code, out, _ = cli(capsys, "queries", "--format", "json")
    listing = {q["name"]: q for q in json.loads(out)}
    assert code == 0
    assert listing["epoch-loss-time"]["parameters"] == [
        {"name": "run", "type": "run", "required": False, "default": "latest"}
    ]
    assert listing["epoch-loss-time"]["columns"] == ["elapsed_seconds", "epoch", "loss"]


def test_turtle_export_parses_back_into_exactly_the_run_and_its_shared_nodes(capsys, captured, tmp_path):
    output = tmp_path / "run.ttl"
    code, _, _ = cli(capsys, "export", "--store", str(captured.store), "--format", "turtle",
                     "--run", captured.run_id, "-o", str(output))
    assert code == 0
    exported = rdflib.Graph().parse(output, format="turtle")
    store = open_for_reading(captured.store)
    graph = resolve_run(store, captured.run_id)[1]
    in_store = serialize([q.triple for q in one_run_quads(store, graph)], None, RdfFormat.N_TRIPLES)
    expected = rdflib.Graph().parse(data=in_store.decode(), format="nt")
    assert len(shared_graphs(store)) > 10  # one architecture, the hyperparameters, the test's measures
    assert len(exported) == len(expected) > 100
    assert isomorphic(exported, expected)
    assert "@prefix prov:" in output.read_text()


@pytest.mark.parametrize("fmt", ["trig", "nquads", "ntriples", "jsonld", "rdfxml"])
def test_other_formats_export_the_same_number_of_statements(captured, fmt):
    store = open_for_reading(captured.store)
    turtle = rdflib.Graph().parse(data=export(store, "turtle").decode(), format="turtle")
    data = export(store, fmt).decode()
    parsed = rdflib.Dataset() if fmt in ("trig", "nquads", "jsonld") else rdflib.Graph()
    parsed.parse(data=data, format={"ntriples": "nt", "rdfxml": "xml", "jsonld": "json-ld"}.get(fmt, fmt))
    count = sum(len(g) for g in parsed.graphs()) if isinstance(parsed, rdflib.Dataset) else len(parsed)
    assert count == len(turtle)


def test_compact_keeps_every_quad_and_reports_sizes(capsys, tmp_path):
    from cnnprov_rdf.capture.tracker import Tracker

    path = tmp_path / "store"
    with Tracker(path) as tracker, tracker.start_run() as run:
        for epoch in range(1, 30):
            run.log_epoch(epoch, {"loss": 1 / epoch})
    before = set(open_for_reading(path))
    code, out, _ = cli(capsys, "compact", "--store", str(path))
    assert code == 0 and out.startswith(f"compacted {path}: ")
    assert set(open_for_reading(path)) == before
    code, _, err = cli(capsys, "compact", "--store", str(tmp_path / "missing"))
    assert code == 2 and "no provenance store" in err


def test_cli_export_prov_json_and_provn_load_in_prov(capsys, captured, tmp_path):
    import prov.model

    for fmt, prov_format in (("provjson", "json"), ("provn", "provn")):
        output = tmp_path / f"run.{fmt}"
        code, _, _ = cli(capsys, "export", "--store", str(captured.store), "--format", fmt, "-o", str(output))
        assert code == 0
        if prov_format == "json":
            document = prov.model.ProvDocument.deserialize(output, format="json")
        else:
            document = prov.read(str(output), format="provn")
        activities = [r for r in document.get_records() if isinstance(r, prov.model.ProvActivity)]
        assert len(activities) == 3  # training, adaptation, testing


def test_cli_import_twice_reason_and_validate(capsys, captured, tmp_path):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(captured.store, store)
    turtle = tmp_path / "foreign.ttl"
    turtle.write_text("@prefix prov: <http://www.w3.org/ns/prov#> .\n"
                      "<http://lab.example/run/9> a prov:Activity ;\n"
                      "  prov:startedAtTime \"2024-01-01T00:00:00Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n")
    code, out, _ = cli(capsys, "import", str(turtle), "--store", str(store))
    assert code == 0 and "2 quads added" in out
    code, out, _ = cli(capsys, "import", str(turtle), "--store", str(store))
    assert code == 0 and "already present" in out
    code, out, _ = cli(capsys, "query", "prov-activities", "--store", str(store), "--format", "json")
    assert "http://lab.example/run/9" in {row["activity"] for row in json.loads(out)}

    broken = tmp_path / "broken.ttl"
    broken.write_text("@prefix prov: <http://www.w3.org/ns/prov#> .\n<a> prov:used .\n")
    before = len(open_for_reading(store))
    code, _, err = cli(capsys, "import", str(broken), "--store", str(store))
    assert code == 2 and str(broken) in err and "line 2" in err
    assert len(open_for_reading(store)) == before

    code, out, _ = cli(capsys, "validate", "--store", str(store), "--run", captured.run_id)
    assert code == 0, out
    code, out, _ = cli(capsys, "reason", "--store", str(store), "--run", captured.run_id)
    assert code == 0 and "consistent" in out and "INCONSISTENT" not in out
    code, out, _ = cli(capsys, "reason", "--store", str(store), "--remove")
    assert code == 0 and "removed 1 inferred graph" in out
    assert len(open_for_reading(store)) == before


def test_cli_validate_fails_naming_the_shape_on_a_broken_run(capsys, tmp_path):
    from pyoxigraph import NamedNode

    from cnnprov_rdf.capture.tracker import Tracker
    from cnnprov_rdf.storage.store import open_for_writing

    path = tmp_path / "store"
    with Tracker(path) as tracker, tracker.start_run() as run:
        run.log_epoch(1, {"loss": 0.5})
        run.log_epoch(2, {"loss": 0.25})
    code, _, _ = cli(capsys, "validate", "--store", str(path))
    assert code == 0
    store = open_for_writing(path)
    loss = NamedNode("https://w3id.org/cnnprov/ontology#loss")
    for quad in list(store.quads_for_pattern(None, loss, None)):
        if quad.subject.value.endswith("/epoch/2"):
            store.remove(quad)
    store.flush()
    del store
    code, out, _ = cli(capsys, "validate", "--store", str(path))
    assert code == 1
    assert "Epoch result shape" in out and "/epoch/2" in out


def test_cli_graph_plot_and_report_write_their_files(capsys, captured, tmp_path):
    code, out, _ = cli(capsys, "graph", "--store", str(captured.store))
    assert code == 0 and out.startswith("digraph") and "house" in out and "wasInformedBy" in out
    code, _, _ = cli(capsys, "plot", "--store", str(captured.store), "--metric", "accuracy",
                     "-o", str(tmp_path / "curves.svg"))
    assert code == 0 and "<svg" in (tmp_path / "curves.svg").read_text()
    code, _, err = cli(capsys, "report", "--store", str(captured.store), "-o", str(tmp_path / "report.html"))
    html = (tmp_path / "report.html").read_text()
    assert code == 0 and "wrote" in err and 'id="runs"' in html and captured.run_id in html
    assert not any(fetch in html for fetch in ('src="http', "src='http", 'href="http', "<script", "<link"))
