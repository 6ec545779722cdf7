"""Canned queries over SPARQL endpoints and federated over several sources, against real Oxigraph servers."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from pyoxigraph import Store

from cnnprov_rdf.graph.mapping import RunIris
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.query.federation import federated_compare, federated_query, service_runs, shared_datasets
from cnnprov_rdf.query.library import QueryError, load_queries
from cnnprov_rdf.query.runs import RunNotFoundError, list_runs, resolve_run
from cnnprov_rdf.query.sources import EndpointSource, LocalSource, SourceError
from cnnprov_rdf.storage.server import ServerProcess, free_port, start_server
from cnnprov_rdf.storage.store import open_for_reading

DATASET = RunIris("any").dataset("synthetic-shapes", None).value
FOREIGN_ACTIVITY = "https://example.org/othertool/augment/1"
FOREIGN_TURTLE = f"""
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

<{FOREIGN_ACTIVITY}> a prov:Activity ;
    rdfs:label "augment images" ;
    prov:used <{DATASET}> ;
    prov:startedAtTime "2020-01-01T00:00:00Z"^^xsd:dateTime ;
    prov:endedAtTime "2020-01-01T00:05:00Z"^^xsd:dateTime .
<https://example.org/othertool/augmented/1> a prov:Entity ;
    prov:wasGeneratedBy <{FOREIGN_ACTIVITY}> ; prov:wasDerivedFrom <{DATASET}> .
"""


def _serve_copy(store: Path, tmp: Path) -> ServerProcess:
    copy = tmp / "store"
    shutil.copytree(store, copy)
    return start_server(copy)


@pytest.fixture(scope="module")
def grid_server(grid, tmp_path_factory):
    server = _serve_copy(grid.store, tmp_path_factory.mktemp("served-grid"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def captured_server(captured, tmp_path_factory):
    server = _serve_copy(captured.store, tmp_path_factory.mktemp("served-captured"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def foreign_server():
    """Another tool's PROV, published on an in-memory server and loaded by the Graph Store protocol."""
    server = start_server(None, read_write=True)
    try:
        request = urllib.request.Request(
            server.url + "/store?graph=" + urllib.parse.quote("https://example.org/othertool/graph", safe=""),
            data=FOREIGN_TURTLE.encode(), headers={"Content-Type": "text/turtle"}, method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status in (200, 201, 204)
        yield server
    finally:
        server.stop()


def _outcome(source, name: str, **params):
    try:
        return "rows", run_query(source, name, **params).rows
    except (QueryError, RunNotFoundError) as error:
        return type(error).__name__, str(error)


def test_every_canned_query_gives_the_same_rows_over_an_endpoint(grid, grid_server):
    local = open_for_reading(grid.store)
    endpoint = EndpointSource(grid_server.query_endpoint)
    for name in load_queries():
        expected = _outcome(local, name)
        assert _outcome(endpoint, name) == expected, name
        assert _outcome(grid_server.query_endpoint, name) == expected, name  # a URL string means an endpoint
    # Run references resolve against the endpoint: ids, prefixes, latest/previous, and unknown ones alike.
    run = grid.runs["lr0.01-e2"]
    for params in ({"run": run.run_id}, {"run": run.run_id[:8]}, {"run": "previous"}, {"run": "no-such-run"}):
        assert _outcome(endpoint, "epoch-loss-time", **params) == _outcome(local, "epoch-loss-time", **params)
    assert _outcome(endpoint, "compare-runs", a="latest", b=run.run_id) == _outcome(
        local, "compare-runs", a="latest", b=run.run_id
    )
    assert list_runs(endpoint) == list_runs(LocalSource(local))
    assert resolve_run(endpoint, run.run_id[:8])[0].value.endswith(run.run_id)


def test_federated_runs_from_two_live_servers(grid, captured, grid_server, captured_server):
    sources = [EndpointSource(captured_server.query_endpoint), EndpointSource(grid_server.query_endpoint)]
    result = federated_query(sources, "runs")
    assert result.columns[0] == "source" and result.columns[1:] == list(run_query(grid.store, "runs").columns)
    assert len(result) == 7
    by_source = {row["run_id"]: row["source"] for row in result}
    assert by_source == {captured.run_id: captured_server.query_endpoint} | {
        run.run_id: grid_server.query_endpoint for run in grid.runs.values()
    }
    expected = [{"source": captured_server.query_endpoint, **row} for row in run_query(captured.store, "runs")] + [
        {"source": grid_server.query_endpoint, **row} for row in run_query(grid.store, "runs")
    ]
    assert result.rows == expected
    # Local stores and endpoints mix; a local source is named by its path.
    mixed = federated_query([captured.store, grid_server.query_endpoint], "runs")
    assert [row["source"] for row in mixed] == [str(captured.store)] + [grid_server.query_endpoint] * 6


def test_federated_compare_across_two_servers(grid, captured, grid_server, captured_server):
    other = grid.runs["lr0.01-e2"]
    result = federated_compare(captured_server.query_endpoint, captured.run_id, grid_server.query_endpoint,
                               other.run_id)
    # The same rows as compare-runs on one store that holds both runs.
    merged = Store()
    for path in (captured.store, grid.store):
        merged.extend(open_for_reading(path))
    assert result.rows == run_query(merged, "compare-runs", a=captured.run_id, b=other.run_id).rows
    assert result.columns == list(run_query(merged, "compare-runs").columns)
    # And exactly what Keras reported: captured trained 3 epochs without validation, the grid run 2 with it.
    assert [row["epoch"] for row in result] == [1, 2, 3]
    for row in result:
        epoch = row["epoch"]
        for metric in ("loss", "accuracy", "learning_rate"):
            assert row[f"{metric}_a"] == captured.history[metric][epoch - 1]
        assert row["val_loss_a"] is None and row["val_accuracy_a"] is None
        for metric in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
            assert row[f"{metric}_b"] == (other.history[metric][epoch - 1] if epoch <= 2 else None)
        assert row["seconds_a"] > 0 and (row["seconds_b"] is None) == (epoch == 3)


def test_shared_datasets_across_servers(grid, captured, grid_server, captured_server):
    result = shared_datasets([captured_server.query_endpoint, grid_server.query_endpoint])
    assert result.columns == ["dataset", "source", "activity", "run_id", "name"]
    grid_rows = sorted(
        ({"dataset": DATASET, "source": grid_server.query_endpoint, "activity": RunIris(run.run_id).run.value,
          "run_id": run.run_id, "name": run.name} for run in grid.runs.values()),
        key=lambda row: row["run_id"],
    )
    assert result.rows == [
        {"dataset": DATASET, "source": captured_server.query_endpoint,
         "activity": RunIris(captured.run_id).run.value, "run_id": captured.run_id, "name": "tiny"},
        *grid_rows,
    ]
    # A dataset that only one source uses is not shared.
    assert shared_datasets([grid_server.query_endpoint]).rows == []


def test_a_foreign_prov_graph_federates(grid, captured, captured_server, grid_server, foreign_server):
    foreign = foreign_server.query_endpoint
    activities = federated_query([captured_server.query_endpoint, foreign], "prov-activities")
    assert {"source": foreign, "activity": FOREIGN_ACTIVITY, "class": "http://www.w3.org/ns/prov#Activity",
            "started": "2020-01-01T00:00:00Z", "ended": "2020-01-01T00:05:00Z"} in activities.rows
    assert {row["source"] for row in activities} == {captured_server.query_endpoint, foreign}
    shared = shared_datasets([captured_server.query_endpoint, foreign])
    assert shared.rows == [
        {"dataset": DATASET, "source": captured_server.query_endpoint,
         "activity": RunIris(captured.run_id).run.value, "run_id": captured.run_id, "name": "tiny"},
        {"dataset": DATASET, "source": foreign, "activity": FOREIGN_ACTIVITY, "run_id": None,
         "name": "augment images"},
    ]
    # The foreign server holds no runs: run references fail there with the usual message.
    with pytest.raises(QueryError, match="holds no captured runs"):
        run_query(foreign, "epoch-loss-time")


def test_service_federation_from_a_local_store(grid, captured, grid_server):
    rows = service_runs(open_for_reading(captured.store), [grid_server.query_endpoint])
    assert [(row["source"], row["run_id"]) for row in rows] == [
        (grid_server.query_endpoint, row["run_id"]) for row in run_query(grid.store, "runs")
    ] + [("local", captured.run_id)]


def test_an_unreachable_endpoint_is_a_clear_error():
    url = f"http://127.0.0.1:{free_port()}/query"
    with pytest.raises(SourceError, match=f"cannot reach the SPARQL endpoint {url}"):
        EndpointSource(url).select("ASK {}")
    with pytest.raises(SourceError, match=url):
        run_query(url, "runs")
    with pytest.raises(SourceError, match=url):
        federated_query([url], "runs")


def test_a_bad_query_names_the_endpoint(grid_server):
    with pytest.raises(SourceError, match=f"{grid_server.query_endpoint} rejected the query"):
        EndpointSource(grid_server.query_endpoint).select("SELECT WHERE")


def test_a_read_only_server_rejects_updates(grid_server):
    request = urllib.request.Request(
        grid_server.update_endpoint, data=b"INSERT DATA { <urn:a> <urn:b> <urn:c> }",
        headers={"Content-Type": "application/sparql-update"}, method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == 403
    assert EndpointSource(grid_server.query_endpoint).select("SELECT ?o WHERE { <urn:a> ?p ?o }") == (["o"], [])
