"""Issue 15's small things a user hits: export formats from the file name, a missing Graphviz, an endpoint's base
URL, right-aligned numbers, `serve --read-write` on a new store, a quiet demo, DataFrames without pandas."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.cli import main
from cnnprov_rdf.cli.output import format_rows
from cnnprov_rdf.errors import QueryError, RenderError
from cnnprov_rdf.interop.export import format_for_path, format_name
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.query.sources import EndpointSource, as_source
from cnnprov_rdf.storage.store import open_for_reading

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def one_run(tmp_path):
    store = tmp_path / "store"
    with Tracker(store) as tracker:
        run = tracker.start_run(name="small", planned_epochs=1)
        run.log_hyperparameters({"batch_size": 8})
        run.log_epoch(1, {"loss": 0.5, "accuracy": 0.75}, elapsed_seconds=1.0)
        run.end()
    return store, run


def test_export_format_from_the_output_extension(one_run, tmp_path, capsys):
    store, run = one_run
    assert format_for_path("run.jsonld") == "jsonld" and format_for_path("run.ttl") == "turtle"
    assert format_for_path("run.nq") == "nquads" and format_for_path("run.provn") == "provn"
    assert format_for_path("run.json") == "provjson" and format_for_path("run.txt") is None
    assert [format_name(n) for n in ("ttl", "nt", "nq", "turtle")] == ["turtle", "ntriples", "nquads", "turtle"]
    jsonld = tmp_path / "run.jsonld"
    assert main(["export", "--store", str(store), "-o", str(jsonld)]) == 0
    document = json.loads(jsonld.read_text())
    assert run.iri in jsonld.read_text() and isinstance(document, list | dict)
    quads = tmp_path / "run.nq"
    assert main(["export", "--store", str(store), "-o", str(quads)]) == 0
    assert all(line.rstrip().endswith(">.") or line.rstrip().endswith("> .")
               for line in quads.read_text().splitlines() if line)
    for name in ("ttl", "nt", "nq"):
        assert main(["export", "--store", str(store), "--format", name, "-o", str(tmp_path / f"x.{name}")]) == 0
    capsys.readouterr()
    assert main(["export", "--store", str(store), "--format", "docx"]) == 2
    assert "unknown export format 'docx'" in capsys.readouterr().err


def test_a_missing_graphviz_is_one_line_saying_what_to_install(one_run, tmp_path, monkeypatch, capsys):
    from cnnprov_rdf.visual.graph import render

    store, _ = one_run
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(RenderError, match="install Graphviz"):
        render("digraph { a -> b }", tmp_path / "g.svg")
    assert main(["graph", "--store", str(store), "-o", str(tmp_path / "g.svg")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Graphviz's `dot` program was not found" in err


def test_an_endpoint_source_takes_a_servers_base_url():
    for url in ("http://127.0.0.1:7878", "http://127.0.0.1:7878/", "http://127.0.0.1:7878/query",
                "http://127.0.0.1:7878/update"):
        source = as_source(url)
        assert isinstance(source, EndpointSource) and source.url == "http://127.0.0.1:7878/query"
        assert source.name == url
    assert EndpointSource("http://example.org/sparql").url == "http://example.org/sparql"


def test_numbers_are_right_aligned_in_tables():
    table = format_rows(["name", "epochs", "loss"], [
        {"name": "a", "epochs": 2, "loss": 0.5}, {"name": "longer", "epochs": 12, "loss": None}], "table")
    assert table.splitlines() == [
        "name    epochs  loss",
        "------  ------  ----",
        "a            2   0.5",
        "longer      12",
    ]


def test_serve_read_write_creates_a_missing_store(tmp_path, monkeypatch, capsys):
    import cnnprov_rdf.cli.remote_commands as remote

    started = []

    class Front:  # the proxy `serve` would return: it serves until stopped; here it stops at once
        class backend:
            @staticmethod
            def stop() -> None: ...

        def serve_forever(self) -> None: ...

        def server_close(self) -> None: ...

    def serve(store, host, port, **options):  # type: ignore[no-untyped-def]
        started.append((store, host, port, options))
        return Front()

    monkeypatch.setattr(remote, "serve", serve)
    store = tmp_path / "new-store"
    assert main(["serve", "--store", str(store), "--read-write"]) == 0
    assert (store / "CURRENT").exists() and "created a new provenance store" in capsys.readouterr().err
    assert [(s, h, p, o["read_write"]) for s, h, p, o in started] == [(store, "127.0.0.1", 7878, True)]
    assert run_query(open_for_reading(store), "runs").rows == []
    assert main(["serve", "--store", str(tmp_path / "missing")]) == 2  # read-only: still an error
    assert "no provenance store" in capsys.readouterr().err


def test_a_store_path_in_folders_that_do_not_exist_yet_is_created(tmp_path):
    store = tmp_path / "experiments" / "alexnet" / "prov"
    with Tracker(store) as tracker:
        run = tracker.start_run(name="nested")
        run.end()
    assert [row["name"] for row in run_query(open_for_reading(store), "runs").rows] == ["nested"]


def test_to_dataframe_without_pandas_is_a_clear_error(one_run, monkeypatch):
    store, _ = one_run
    result = run_query(open_for_reading(store), "runs")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(QueryError, match="pip install pandas"):
        result.to_dataframe()


def test_the_demo_is_quiet_but_shows_keras_progress(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run([sys.executable, "-m", "cnnprov_rdf.cli", "demo", "--epochs", "1", "--store",
                           str(tmp_path / "store"), "-o", str(tmp_path / "demo.ttl")],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    expected = f"Training AlexNet for 1 epochs with capture into {tmp_path / 'store'} …"
    assert done.stderr.strip().splitlines() == [expected]  # no TensorFlow or absl log lines
    assert "step" in done.stdout and "━" in done.stdout  # Keras' progress bar
    assert "What were the loss and the elapsed training time of each epoch?" in done.stdout
