"""Any SPARQL 1.1 engine: every canned query gives the same rows on the embedded store, on the stock Oxigraph
server (named graphs apart from its default graph), on a union-default-graph Oxigraph server, and on Virtuoso 7
loaded through the endpoint sink; the sink's probes, encodings and refusals against real servers."""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _virtuoso import available, virtuoso
from pyoxigraph import Literal, NamedNode, Quad, RdfFormat

from cnnprov_rdf.capture.events import EpochEnded
from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.graph.mapping import to_quads
from cnnprov_rdf.graph.vocabulary import ONTOLOGY_GRAPH
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.query.library import find_query, load_queries
from cnnprov_rdf.query.runs import find_run
from cnnprov_rdf.query.sources import EndpointSource, LocalSource
from cnnprov_rdf.storage.capabilities import WIDE_INTEGER, XSD_INTEGER, decode_term, encode_quads
from cnnprov_rdf.storage.endpoint import EndpointSink
from cnnprov_rdf.storage.server import start_server
from cnnprov_rdf.storage.store import open_for_reading

QUERIES = sorted(load_queries())


#: The grid's newest run: what single-run queries read by default before the fixture adds its search's runs.
GRID_LATEST: dict[str, str] = {}


def _rows(source, name):
    takes_run = any(p.name == "run" and p.type == "run" for p in find_query(name).parameters)
    return run_query(source, name, **({"run": GRID_LATEST["id"]} if takes_run and GRID_LATEST else {})).rows


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b or math.isclose(a, b, rel_tol=1e-14)
    return a == b


def _order_key(row) -> tuple:
    """A row's sort key for queries without ORDER BY: floats to 6 significant digits, so that engines storing
    them with less precision (Virtuoso) still sort alike."""
    return tuple((k, f"{v:.6g}" if isinstance(v, float) else repr(v)) for k, v in sorted(row.items()))


def _identical(rows_a, rows_b, ordered: bool = True) -> bool:
    if not ordered:  # an unordered query (the leaderboard's long rows): the same rows in any order
        rows_a, rows_b = sorted(rows_a, key=_order_key), sorted(rows_b, key=_order_key)
    return len(rows_a) == len(rows_b) and all(
        ra.keys() == rb.keys() and all(_same(ra[k], rb[k]) for k in ra) for ra, rb in zip(rows_a, rows_b, strict=True))


def _add_a_search(store) -> None:
    """A two-trial grid search of two short runs, through the capture API."""
    with Tracker(store) as tracker, tracker.search("engines-grid", space={"learning_rate": [0.1, 0.01]},
                                                   objective="val_loss") as search:
        for trial, rate in enumerate((0.1, 0.01)):
            run = tracker.start_run(name=f"engines-trial-{trial}", planned_epochs=2)
            search.record_trial(run, trial, {"learning_rate": rate})
            for epoch in (1, 2):
                run.log_epoch(epoch, {"loss": rate / epoch, "val_loss": 2 * rate / epoch}, elapsed_seconds=0.25)
            run.end()
            search.end_trial(run, "completed", 2 * rate / 2)


def _add_unended_runs(store) -> None:
    """Two runs that never end (as if killed): one after two epochs, one before its first (for `running-now`)."""
    with Tracker(store) as tracker:
        killed = tracker.start_run(name="engines-killed", planned_epochs=5)
        for epoch in (1, 2):
            killed.log_epoch(epoch, {"loss": 1 / epoch, "accuracy": 0.25 * epoch, "val_loss": 1.5 / epoch},
                             elapsed_seconds=0.5)
        tracker.start_run(name="engines-first-epoch")


EX = "https://example.org/lab#"

#: Another tool's PROV: an activity of a subclass defined in its own graph, and one of prov:Activity alone.
FOREIGN = f"""
@prefix prov: <http://www.w3.org/ns/prov#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix ex: <{EX}> .
ex:Experiment rdfs:subClassOf prov:Activity .
ex:e1 a ex:Experiment ; prov:startedAtTime "2020-01-01T00:00:00Z"^^xsd:dateTime .
ex:plain a prov:Activity ; prov:startedAtTime "2020-01-02T00:00:00Z"^^xsd:dateTime ;
    prov:endedAtTime "2020-01-03T00:00:00Z"^^xsd:dateTime .
"""


def _add_foreign_activities(store) -> None:
    from cnnprov_rdf.storage.store import open_for_writing

    writable = open_for_writing(store)
    writable.load(FOREIGN.encode(), format=RdfFormat.TURTLE, to_graph=NamedNode(EX + "graph"))
    writable.flush()
    del writable


@pytest.fixture(scope="module")
def engines(grid, tmp_path_factory):
    """name → Source, all holding the grid's store."""
    tmp = tmp_path_factory.mktemp("engines")
    store = tmp / "store"
    shutil.copytree(grid.store, store, ignore=shutil.ignore_patterns("LOCK"))
    GRID_LATEST["id"] = find_run(open_for_reading(store), "latest").id
    _add_a_search(store)  # so that `searches` and `search-trials` have rows to compare
    _add_unended_runs(store)  # and `running-now`
    _add_foreign_activities(store)  # so that `prov-activities` meets an activity of each branch
    servers = [start_server(store, union_default_graph=False), start_server(store)]
    found = {"embedded": LocalSource(store), "oxigraph-stock": EndpointSource(servers[0].url),
             "oxigraph-union": EndpointSource(servers[1].url)}
    context = None
    if available():
        context = virtuoso(tmp / "virtuoso")
        url = context.__enter__()
        sink = EndpointSink(url, tmp / "spool.nq", timeout=60)
        quads = [q for q in open_for_reading(store) if q.graph_name != ONTOLOGY_GRAPH]
        for start in range(0, len(quads), 2000):
            sink.send(quads[start:start + 2000])
        found["virtuoso"] = EndpointSource(url, timeout=60)
    yield found
    for server in servers:
        server.stop()
    if context is not None:
        context.__exit__(None, None, None)


@pytest.mark.parametrize("engine", ["oxigraph-stock", "oxigraph-union", "virtuoso"])
@pytest.mark.parametrize("name", QUERIES)
def test_every_canned_query_gives_the_same_rows(engines, engine, name):
    if engine not in engines:
        pytest.skip("Virtuoso is not installed (apt-get install virtuoso-opensource; .ci/run does)")
    expected = _rows(engines["embedded"], name)
    ordered = "ORDER BY" in find_query(name).text
    got = _rows(engines[engine], name)
    assert expected, f"{name} gives no rows on the embedded store: it proves nothing"
    assert _identical(expected, got, ordered), (name, engine, expected[:3], got[:3])


def test_prov_activities_infers_each_class_alike_on_every_engine(engines):
    expected = {EX + "e1": (EX + "Experiment", "2020-01-01T00:00:00Z", None),
                EX + "plain": ("http://www.w3.org/ns/prov#Activity", "2020-01-02T00:00:00Z", "2020-01-03T00:00:00Z")}
    for name, source in engines.items():
        rows = run_query(source, "prov-activities").rows
        got = {r["activity"]: (r["class"], r["started"], r["ended"]) for r in rows if r["activity"].startswith(EX)}
        assert got == expected, name
        assert len({r["activity"] for r in rows}) == len(rows), name  # one row per activity
        assert rows[0]["activity"] == EX + "e1", name  # the oldest start first


@pytest.mark.parametrize("file", ["early-stop.keras", "sha256"])
def test_model_lineage_by_file_gives_the_same_row_everywhere(engines, file):
    everything = _rows(engines["embedded"], "model-lineage")
    target = next(r for r in everything if r["file_path"].endswith("early-stop.keras"))
    value = target["sha256"] if file == "sha256" else file
    for name, source in engines.items():
        rows = run_query(source, "model-lineage", file=value).rows
        assert len(rows) == 1 and _identical(rows, [target]), (name, rows)


def test_stock_server_is_told_apart_and_union_server_is_not(engines):
    assert engines["oxigraph-stock"].engine().union_default is False
    assert engines["oxigraph-union"].engine().union_default is True


def _epoch(run_id: str, loss: float, epoch: int = 1) -> list:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return to_quads(EpochEnded(run_id, epoch, {"loss": loss, "accuracy": 0.123456789012345}, 1.5, at))


def _losses(source, run_id: str) -> list:
    rows = source.select(
        "PREFIX cnn: <https://w3id.org/cnnprov/ontology#> SELECT ?l ?a WHERE { ?e cnn:loss ?l ; cnn:accuracy ?a . "
        f"FILTER(STRSTARTS(STR(?e), \"https://w3id.org/cnnprov/id/run/{run_id}/\")) }}")[1]
    return [(float(row[0].value), float(row[1].value)) for row in rows]


@contextmanager
def _writable_endpoint(engines, tmp_path, engine) -> Iterator[str]:
    """The URL of a writable endpoint: the session's Virtuoso, or a stock Oxigraph server started for the test."""
    if engine == "virtuoso":
        if "virtuoso" not in engines:
            pytest.skip("Virtuoso is not installed (apt-get install virtuoso-opensource; .ci/run does)")
        yield engines["virtuoso"].url
        return
    server = start_server(tmp_path / "rw", read_write=True, union_default_graph=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.mark.parametrize("engine", ["oxigraph-stock-rw", "virtuoso"])
@pytest.mark.parametrize("loss", [float("nan"), float("inf"), float("-inf"), 0.3333333333333333])
def test_sink_keeps_non_finite_and_full_precision_values(engines, tmp_path, engine, loss):
    with _writable_endpoint(engines, tmp_path, engine) as url:
        run_id = f"nonfinite-{engine}-{loss}"
        sink = EndpointSink(url, tmp_path / "spool.nq", timeout=30)
        sink.write(_epoch(run_id, loss))
        sink.close()
        assert sink.stats.sent_quads > 0 and sink.spooled == 0 and sink.refused is None
        [(got, accuracy)] = _losses(EndpointSource(url, timeout=30), run_id)
        assert (math.isnan(got) and math.isnan(loss)) or got == loss
        assert accuracy == 0.123456789012345  # 15 significant digits: what Virtuoso keeps
        assert sink.capabilities.has_ontology and sink.capabilities.gsp is True


WIDE = [2**31 - 1, 2**31, -(2**31) - 1, 2**63, -(2**70), 10**40]


def test_wide_integers_are_encoded_reversibly():
    quads = [Quad(NamedNode(f"urn:s{i}"), NamedNode("urn:p"), Literal(str(v), datatype=XSD_INTEGER))
             for i, v in enumerate(WIDE)]
    encoded = encode_quads(quads, non_finite=False, skolemize=False, wide=True)
    assert [q.object.datatype == WIDE_INTEGER for q in encoded] == [False, True, True, True, True, True]
    assert [decode_term(q.object) for q in encoded] == [q.object for q in quads]
    assert encode_quads(quads, non_finite=False, skolemize=False) == quads


@pytest.mark.parametrize("engine", ["oxigraph-stock-rw", "virtuoso"])
def test_sink_keeps_wide_integers_exact(engines, tmp_path, engine):
    with _writable_endpoint(engines, tmp_path, engine) as url:
        graph = NamedNode(f"urn:wide:{engine}")
        sink = EndpointSink(url, tmp_path / "spool.nq", timeout=30)
        sink.write([Quad(NamedNode(f"urn:wide:{i}"), NamedNode("urn:wide:p"), Literal(str(v), datatype=XSD_INTEGER),
                         graph) for i, v in enumerate(WIDE)])
        sink.close()
        assert sink.spooled == 0 and sink.refused is None
        _, rows = EndpointSource(url, timeout=30).select(
            f"SELECT ?s ?v WHERE {{ GRAPH {graph} {{ ?s <urn:wide:p> ?v }} }}")
        got = {row[0].value: row[1] for row in rows}
        assert got == {f"urn:wide:{i}": Literal(str(v), datatype=XSD_INTEGER) for i, v in enumerate(WIDE)}


def test_sink_sends_the_ontology_once_and_by_gsp(tmp_path):
    server = start_server(None, union_default_graph=False)
    try:
        first = EndpointSink(server.url, tmp_path / "a.nq")
        first.write(_epoch("onto", 1.0))
        second = EndpointSink(server.url, tmp_path / "b.nq")
        second.write(_epoch("onto", 2.0, epoch=2))
        source = EndpointSource(server.url)
        [(count,)] = source.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {ONTOLOGY_GRAPH} {{ ?s ?p ?o }} }}")[1]
        expected = sum(1 for q in open_for_reading(_ontology_store(tmp_path)) if q.graph_name == ONTOLOGY_GRAPH)
        assert int(count.value) == expected
        assert first.capabilities.has_ontology and second.capabilities.has_ontology
        assert [q.name for q in []] == []
        rows = run_query(source, "prov-activities").rows
        assert rows == []  # epochs alone are no activities; the ontology made it without blank-node trouble
    finally:
        server.stop()


def _ontology_store(tmp_path: Path) -> Path:
    from cnnprov_rdf.storage.store import open_for_writing

    path = tmp_path / "onto-store"
    store = open_for_writing(path)
    del store
    return path


def test_an_authorisation_failure_is_an_error_not_an_outage(tmp_path, caplog, grid):
    server = start_server(grid.store)  # read-only: updates are refused with 403
    try:
        sink = EndpointSink(server.url, tmp_path / "spool.nq", backoff=0.0, close_timeout=5.0)
        with caplog.at_level(logging.ERROR):
            sink.write(_epoch("refused", 1.0))
            sink.write(_epoch("refused", 2.0, epoch=2))
            started = datetime.now(UTC)
            sink.close()
        assert (datetime.now(UTC) - started).total_seconds() < 1.0  # no retries until close_timeout
        assert sink.refused is not None and "authorisation" in str(sink.refused)
        assert sink.stats.failures == 1 and sink.spooled == len(_epoch("refused", 1.0)) * 2  # nothing lost
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and "refused the update" in errors[0].getMessage()
        assert "HTTP 403" in errors[0].getMessage() or "HTTP 401" in errors[0].getMessage()
    finally:
        server.stop()


def test_virtuoso_gets_sample_as_max_outside_strings_iris_and_comments():
    from cnnprov_rdf.query.engines import virtuoso_text

    text = ('SELECT (SAMPLE(?x) AS ?y) (sample (?z) AS ?w) WHERE { ?s <urn:SAMPLE(> "SAMPLE(" . # SAMPLE(\n'
            " ?a ?b 'SAMPLE(x' }")
    assert virtuoso_text(text) == ('SELECT (MAX(?x) AS ?y) (MAX(?z) AS ?w) WHERE { ?s <urn:SAMPLE(> "SAMPLE(" . '
                                   "# SAMPLE(\n ?a ?b 'SAMPLE(x' }")


def test_projected_variables_are_read_outside_strings_of_either_quote():
    from cnnprov_rdf.query.engines import projected_variables

    assert projected_variables("SELECT ?a ('?b' AS ?c) (\"?e\" AS ?f) ?d WHERE { ?a ?x ?d }") == ["a", "c", "f", "d"]
