"""The CLI from one laptop to a lab: queries over live endpoints, federation, spool status and flush."""

from __future__ import annotations

import json
import shutil

import pytest

from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.cli import main
from cnnprov_rdf.storage.server import free_port, start_server


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def two_servers(captured, grid, tmp_path):
    shutil.copytree(captured.store, tmp_path / "a")
    shutil.copytree(grid.store, tmp_path / "b")
    first, second = start_server(tmp_path / "a"), start_server(tmp_path / "b")
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


def every_run_with_its_source(captured, grid, first, second) -> set[tuple[str, str]]:
    """(endpoint, run id) of every run: the captured run is served by `first`, the grid's runs by `second`."""
    grid_runs = {(second.query_endpoint, run.run_id) for run in grid.runs.values()}
    return {(first.query_endpoint, captured.run_id)} | grid_runs


def test_query_runs_over_two_live_endpoints_returns_every_run_with_its_source(capsys, captured, grid, two_servers):
    first, second = two_servers
    code, out, _ = cli(capsys, "query", "runs", "--endpoint", first.query_endpoint,
                       "--endpoint", second.query_endpoint, "--format", "json")
    rows = json.loads(out)
    assert code == 0
    assert {(r["source"], r["run_id"]) for r in rows} == every_run_with_its_source(captured, grid, first, second)


def test_federated_compare_and_shared_datasets_from_the_cli(capsys, captured, grid, two_servers):
    first, second = two_servers
    other = grid.runs["lr0.01-e2"]
    code, out, _ = cli(capsys, "federate", "compare-runs", "--a", f"{captured.run_id}@{first.query_endpoint}",
                       "--b", f"{other.run_id}@{second.query_endpoint}", "--format", "json")
    rows = json.loads(out)
    assert code == 0
    assert [(r["epoch"], r["loss_a"], r["loss_b"]) for r in rows] == [
        (1, captured.history["loss"][0], other.history["loss"][0]),
        (2, captured.history["loss"][1], other.history["loss"][1]),
        (3, captured.history["loss"][2], None),
    ]
    code, out, _ = cli(capsys, "federate", "shared-datasets", "--endpoint", first.query_endpoint,
                       "--endpoint", second.query_endpoint, "--format", "json")
    rows = json.loads(out)
    assert code == 0
    assert {(r["source"], r["run_id"]) for r in rows} == every_run_with_its_source(captured, grid, first, second)


def test_unreachable_endpoint_is_a_clear_error(capsys):
    url = f"http://127.0.0.1:{free_port()}/query"
    code, _, err = cli(capsys, "query", "runs", "--endpoint", url)
    assert code == 2 and url in err


def test_status_and_flush_replay_a_spool_left_behind(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPROV_SPOOL_DIR", str(tmp_path / "spool"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with Tracker(endpoint=url) as tracker, tracker.start_run(name="offline") as run:  # nobody listens yet
        run.log_epoch(1, {"loss": 0.5})
    code, out, _ = cli(capsys, "status")
    assert code == 0 and f"{url}/update" in out
    server = start_server(tmp_path / "server", port=port, read_write=True)
    try:
        code, out, _ = cli(capsys, "flush")
        assert code == 0 and "quads sent" in out
        code, out, _ = cli(capsys, "query", "runs", "--endpoint", server.query_endpoint, "--format", "json")
        assert [(r["name"], r["status"], r["epochs"]) for r in json.loads(out)] == [("offline", "finished", 1)]
    finally:
        server.stop()
    code, out, _ = cli(capsys, "status")
    assert "no spooled events" in out
