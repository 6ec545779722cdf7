"""Other tools' runs in our analysis: MLflow tracking stores (a file store and a sqlite database) made here with
MLflow itself, imported and answered by the canned queries; the CLI's `--from` and its errors. The yProv4ML run
written by the tool itself is tested in test_yprov4ml_real.py."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from cnnprov_rdf.errors import ProvImportError
from cnnprov_rdf.interop.importers import typed_value
from cnnprov_rdf.interop.importers.registry import import_foreign
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.storage.store import open_for_reading

mlflow = pytest.importorskip("mlflow", reason="MLflow is in the test extra: pip install -e '.[test]'")

REPO = Path(__file__).resolve().parents[1]
YPROV = REPO / "tests" / "fixtures" / "yprov4ml" / "real" / "tiny_cnn_0"
PROV = "http://www.w3.org/ns/prov#"
T0 = 1_780_000_000_000  # ms


def _client(folder: Path, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return MlflowClient(tracking_uri=folder.resolve().as_uri())


def _log_run(client, experiment: str, name: str, params: dict, history: dict[str, list[float]], status: str,
             artifact: Path | None = None) -> str:
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(experiment_id, start_time=T0, run_name=name)
    for key, value in params.items():
        client.log_param(run.info.run_id, key, value)
    for key, values in history.items():
        for step, value in enumerate(values):
            client.log_metric(run.info.run_id, key, value, timestamp=T0 + 1000 * (step + 1), step=step)
    if artifact is not None:
        client.log_artifact(run.info.run_id, str(artifact))
    if status != "RUNNING":
        client.set_terminated(run.info.run_id, status=status, end_time=T0 + 10_000)
    return run.info.run_id


@pytest.fixture(scope="module")
def mlruns(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("mlflow") / "mlruns"
    client = _client(folder, monkeypatch)
    weights = folder.parent / "weights.txt"
    weights.write_text("0123456789")
    ids = {
        "good": _log_run(client, "grid", "lr-0.05", {"learning_rate": "0.05", "batch_size": "8", "epochs": "3",
                                                     "optimizer": "sgd"},
                         {"loss": [1.5, 1.0, 0.25], "accuracy": [0.25, 0.5, 0.875], "val_loss": [1.75, 1.25, 0.5],
                          "val_accuracy": [0.25, 0.375, 0.75]}, "FINISHED", artifact=weights),
        "failed": _log_run(client, "grid", "lr-9", {"learning_rate": "9.0"}, {"loss": [7.5]}, "FAILED"),
        "running": _log_run(client, "other", "live", {}, {"loss": [2.0, 1.5]}, "RUNNING"),
    }
    yield folder, ids
    monkeypatch.undo()


def test_mlflow_runs_params_histories_status_and_artifacts(mlruns, tmp_path):
    folder, ids = mlruns
    store = tmp_path / "store"
    result = import_foreign(store, "mlflow", folder)
    assert sorted(result.runs) == sorted(f"mlflow-{i}" for i in ids.values()) and result.quads_added > 0
    runs = {row["run_id"]: row for row in run_query(store, "runs").rows}
    good, failed, running = (runs[f"mlflow-{ids[k]}"] for k in ("good", "failed", "running"))
    assert (good["name"], good["status"], good["epochs"], good["final_loss"], good["final_accuracy"]) == \
        ("lr-0.05", "finished", 3, 0.25, 0.875)
    assert good["started"] == "2026-05-28T20:26:40Z" and good["ended"] == "2026-05-28T20:26:50Z"
    assert (failed["status"], failed["epochs"]) == ("failed", 1)
    assert (running["status"], running["ended"], running["epochs"]) == ("unfinished", None, 2)
    hyper = run_query(store, "hyperparameters", run=f"mlflow-{ids['good']}").rows
    assert [(r["name"], r["value"]) for r in hyper] == [
        ("batch_size", 8), ("epochs", 3), ("learning_rate", 0.05), ("optimizer", "sgd")]
    epochs = run_query(store, "epoch-metrics", run=f"mlflow-{ids['good']}").rows
    assert [(r["epoch"], r["loss"], r["accuracy"], r["val_loss"], r["val_accuracy"], r["elapsed_seconds"])
            for r in epochs] == [(1, 1.5, 0.25, 1.75, 0.25, 1.0), (2, 1.0, 0.5, 1.25, 0.375, 1.0),
                                 (3, 0.25, 0.875, 0.5, 0.75, 1.0)]
    ranking = run_query(store, "config-ranking", metric="final_val_accuracy").rows
    assert [(r["learning_rate"], r["batch_size"], r["optimizer"], r["runs"], r["best_score"]) for r in ranking] == \
        [(0.05, 8, "sgd", 1, 0.75)]
    s = open_for_reading(store)
    run_iri = f"https://w3id.org/cnnprov/id/run/mlflow-{ids['good']}"
    artifact = next(iter(s.query(
        f"SELECT ?path ?size WHERE {{ GRAPH ?g {{ ?a <{PROV}wasGeneratedBy> <{run_iri}> ; "
        "<https://w3id.org/cnnprov/ontology#filePath> ?path ; <https://w3id.org/cnnprov/ontology#byteSize> ?size } }")))
    assert (artifact["path"].value, artifact["size"].value) == ("weights.txt", "10")
    record = f"{folder.resolve().as_uri()}#run-{ids['good']}"
    assert s.query(f"ASK {{ <{run_iri}> <{PROV}wasInfluencedBy> <{record}> . "
                   f"<{run_iri}/epoch/1> <{PROV}hadPrimarySource> <{record}> . "
                   f"?experiment a <{PROV}Collection> ; <{PROV}hadMember> <{record}> }}",
                   use_default_graph_as_union=True)
    del s
    again = import_foreign(store, "mlflow", folder)
    assert again.quads_added == 0


def test_one_of_our_runs_and_an_mlflow_run_epoch_by_epoch(captured, tmp_path, monkeypatch):
    """The captured Keras run's history logged to MLflow (steps from 0, as autolog does), imported beside it:
    compare-runs lines them up epoch by epoch with the same values."""
    store = tmp_path / "store"
    shutil.copytree(captured.store, store, ignore=shutil.ignore_patterns("LOCK"))
    client = _client(tmp_path / "mlruns", monkeypatch)
    keys = ("loss", "accuracy")
    mlflow_id = _log_run(client, "keras", "same", {}, {k: captured.history[k] for k in keys}, "FINISHED")
    import_foreign(store, "mlflow", tmp_path / "mlruns")
    rows = run_query(store, "compare-runs", a=captured.run_id, b=f"mlflow-{mlflow_id}").rows
    assert [row["epoch"] for row in rows] == list(range(1, len(captured.history["loss"]) + 1))
    for row, loss, accuracy in zip(rows, captured.history["loss"], captured.history["accuracy"], strict=True):
        assert row["loss_a"] == row["loss_b"] == loss
        assert row["accuracy_a"] == row["accuracy_b"] == accuracy


def test_cli_import_from_tools_and_their_errors(mlruns, tmp_path):
    folder, _ = mlruns
    cli = [sys.executable, "-m", "cnnprov_rdf.cli", "import", "--store", str(tmp_path / "store")]
    ok = subprocess.run([*cli, "--from", "yprov4ml", str(YPROV)], capture_output=True, text=True, timeout=120,
                        cwd=REPO)
    assert ok.returncode == 0 and "imported 1 yprov4ml run(s)" in ok.stdout and "(yprov4ml-tiny_cnn_GR0_0)" in \
        ok.stdout and "warning: prefix 'default' is 'tiny_cnn_GR0_0', not an IRI" in ok.stderr
    for source, tool, message in ((tmp_path / "nowhere", "mlflow", "not an MLflow tracking store"),
                                  (tmp_path, "yprov4ml", "no yProv4ML PROV-JSON file")):
        bad = subprocess.run([*cli, "--from", tool, str(source)], capture_output=True, text=True, timeout=120,
                             cwd=REPO)
        assert bad.returncode == 2 and message in bad.stderr and bad.stderr.count("\n") == 1
    with pytest.raises(ProvImportError, match="holds no runs"):
        import_foreign(tmp_path / "s2", "mlflow", _empty_store(tmp_path, folder))


def _empty_store(tmp_path: Path, folder: Path) -> Path:
    empty = tmp_path / "empty-mlruns"
    (empty / "0").mkdir(parents=True)
    shutil.copy(folder / "0" / "meta.yaml", empty / "0" / "meta.yaml") if (folder / "0" / "meta.yaml").exists() \
        else None
    return empty


@pytest.mark.parametrize(("text", "value"), [("0.01", 0.01), ("8", 8), ("True", True), ("sgd", "sgd"),
                                             ("1e-3", 0.001), ("nan", float("inf") * 0), (" 3 ", 3)])
def test_mlflow_params_are_typed(text, value):
    got = typed_value(text)
    assert (got != got and value != value) or (got == value and type(got) is type(value))


def test_start_time_in_utc():
    assert datetime.fromtimestamp(T0 / 1000, tz=UTC).isoformat() == "2026-05-28T20:26:40+00:00"


@pytest.fixture(scope="module")
def mlflow_db(tmp_path_factory):
    """A sqlite tracking store written by MLflow's client: a finished run (val metrics on some steps only), a
    killed one and one still running."""
    from mlflow.tracking import MlflowClient

    database = tmp_path_factory.mktemp("mlflow-sqlite").resolve() / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{database}")
    ids = {
        "good": _log_run(client, "sweep", "lr-0.01", {"learning_rate": "0.01", "batch_size": "16",
                                                      "optimizer": "adam", "dropout": "0.25"},
                         {"loss": [2.5, 1.75, 1.25, 0.75], "accuracy": [0.125, 0.375, 0.625, 0.8125]}, "FINISHED"),
        "killed": _log_run(client, "sweep", "lr-5", {"learning_rate": "5"}, {"loss": [9.5, 12.25]}, "KILLED"),
        "running": _log_run(client, "live", "now", {"batch_size": "4"}, {"loss": [3.0]}, "RUNNING"),
    }
    run = ids["good"]
    for step, value in ((0, 2.75), (2, 1.5)):  # validated every other epoch
        client.log_metric(run, "val_loss", value, timestamp=T0 + 1000 * (step + 1) + 500, step=step)
    return database, ids


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_mlflow_sqlite_store_runs_params_histories_and_status(mlflow_db, tmp_path):
    database, ids = mlflow_db
    before = _digest(database)
    store = tmp_path / "store"
    uri = f"sqlite:///{database}"
    result = import_foreign(store, "mlflow", uri)
    assert sorted(result.runs) == sorted(f"mlflow-{i}" for i in ids.values())
    runs = {row["run_id"]: row for row in run_query(store, "runs").rows}
    good, killed, running = (runs[f"mlflow-{ids[k]}"] for k in ("good", "killed", "running"))
    assert (good["name"], good["status"], good["epochs"], good["final_loss"], good["final_accuracy"]) == \
        ("lr-0.01", "finished", 4, 0.75, 0.8125)
    assert (good["started"], good["ended"]) == ("2026-05-28T20:26:40Z", "2026-05-28T20:26:50Z")
    assert (killed["name"], killed["status"], killed["epochs"], killed["final_loss"]) == ("lr-5", "failed", 2, 12.25)
    assert (running["status"], running["ended"], running["epochs"]) == ("unfinished", None, 1)
    hyper = run_query(store, "hyperparameters", run=f"mlflow-{ids['good']}").rows
    assert [(r["name"], r["value"]) for r in hyper] == [
        ("batch_size", 16), ("dropout", 0.25), ("learning_rate", 0.01), ("optimizer", "adam")]
    epochs = run_query(store, "epoch-metrics", run=f"mlflow-{ids['good']}").rows
    assert [(r["epoch"], r["loss"], r["accuracy"], r["val_loss"], r["elapsed_seconds"]) for r in epochs] == [
        (1, 2.5, 0.125, 2.75, 1.5), (2, 1.75, 0.375, None, 0.5), (3, 1.25, 0.625, 1.5, 1.5),
        (4, 0.75, 0.8125, None, 0.5)]
    killed_epochs = run_query(store, "epoch-metrics", run=f"mlflow-{ids['killed']}").rows
    assert [(r["epoch"], r["loss"]) for r in killed_epochs] == [(1, 9.5), (2, 12.25)]
    s = open_for_reading(store)
    record = f"urn:mlflow:{quote(uri, safe=':/')}#run-{ids['good']}"
    assert s.query(f"ASK {{ <https://w3id.org/cnnprov/id/run/mlflow-{ids['good']}> <{PROV}wasInfluencedBy> "
                   f"<{record}> . ?experiment a <{PROV}Collection> ; <{PROV}hadMember> <{record}> }}",
                   use_default_graph_as_union=True)
    del s
    # the .db path names the same store: the same runs, nothing new; the database itself is not changed
    assert import_foreign(store, "mlflow", database).quads_added == 0
    assert _digest(database) == before


def test_cli_mlflow_sqlite_and_bad_databases(mlflow_db, tmp_path):
    database, _ = mlflow_db
    store = tmp_path / "store"
    cli = [sys.executable, "-m", "cnnprov_rdf.cli", "import", "--store", str(store), "--from", "mlflow"]
    ok = subprocess.run([*cli, f"sqlite:///{database}"], capture_output=True, text=True, timeout=180, cwd=REPO)
    assert ok.returncode == 0 and "imported 3 mlflow run(s)" in ok.stdout, ok.stderr
    s = open_for_reading(store)
    count = len(s)
    del s
    text = tmp_path / "notes.db"
    text.write_text("not a database at all, just some text that is long enough to fill a sqlite header page\n")
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as connection:
        connection.execute("CREATE TABLE runs (id INTEGER)")
        connection.commit()
    other_before = _digest(other)
    missing = tmp_path / "nowhere" / "mlflow.db"
    for source, message in ((f"sqlite:///{missing}", "no such database file"),
                            (str(text), "not an MLflow tracking store (file is not a database)"),
                            (str(other), "a sqlite database without MLflow's tables: no alembic_version, "
                                         "experiments, metrics, params")):
        bad = subprocess.run([*cli, source], capture_output=True, text=True, timeout=180, cwd=REPO)
        assert bad.returncode == 2 and message in bad.stderr and bad.stderr.count("\n") == 1, bad.stderr
    assert not missing.parent.exists() and _digest(other) == other_before
    s = open_for_reading(store)
    assert len(s) == count
    del s
