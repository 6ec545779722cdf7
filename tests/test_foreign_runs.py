"""Other tools' runs in our analysis: an MLflow tracking store made here with MLflow itself, and a yProv4ML run
(the committed fixture of tests/fixtures/yprov4ml), imported and answered by the canned queries."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cnnprov_rdf.errors import ProvImportError
from cnnprov_rdf.interop.importers import typed_value
from cnnprov_rdf.interop.importers.registry import import_foreign
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.storage.store import open_for_reading

mlflow = pytest.importorskip("mlflow", reason="MLflow is in the test extra: pip install -e '.[test]'")

REPO = Path(__file__).resolve().parents[1]
YPROV = REPO / "tests" / "fixtures" / "yprov4ml" / "prov" / "cnn_grid_0"
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


def test_yprov4ml_run_is_one_of_ours(tmp_path):
    store = tmp_path / "store"
    result = import_foreign(store, "yprov4ml", YPROV)
    assert result.runs == ("yprov4ml-cnn_grid_GR0_0",)
    assert any("'default' is 'cnn_grid_GR0_0', not an IRI" in w for w in result.warnings)
    assert any("'provml' is 'prov-ml'" in w for w in result.warnings)
    [run] = run_query(store, "runs").rows
    assert (run["run_id"], run["status"], run["started"], run["ended"], run["epochs"], run["final_loss"]) == \
        ("yprov4ml-cnn_grid_GR0_0", "finished", "2026-11-30T10:00:00Z", "2026-11-30T10:00:09.5Z", 3, 0.5)
    hyper = run_query(store, "hyperparameters", run="yprov4ml-cnn_grid_GR0_0").rows
    assert [(r["name"], r["value"]) for r in hyper] == [
        ("batch_size", 8), ("epochs", 3), ("learning_rate", 0.01), ("optimizer", "sgd")]
    epochs = run_query(store, "epoch-metrics", run="yprov4ml-cnn_grid_GR0_0").rows
    assert [(r["epoch"], r["loss"], r["accuracy"], r["val_loss"], r["val_accuracy"]) for r in epochs] == [
        (1, 1.25, 0.5, 1.5, 0.4375), (2, 0.875, 0.625, 1.0, 0.5), (3, 0.5, 0.75, 0.75, 0.5625)]
    # the foreign document itself: its activities with typed times, listed beside ours
    activities = {row["activity"]: row for row in run_query(store, "prov-activities").rows}
    root = next(a for a in activities if a.endswith("/cnn_grid_GR0_0/cnn_grid_GR0_0"))
    assert activities[root]["started"] == "2026-11-30T10:00:00"
    s = open_for_reading(store)
    mapped = "https://w3id.org/cnnprov/id/run/yprov4ml-cnn_grid_GR0_0"
    assert s.query(f"ASK {{ <{mapped}> <{PROV}wasInfluencedBy> <{root}> , "
                   f"<{(YPROV / 'prov_cnn_grid_GR0_0.json').resolve().as_uri()}> }}", use_default_graph_as_union=True)


def test_cli_import_from_tools_and_their_errors(mlruns, tmp_path):
    folder, _ = mlruns
    cli = [sys.executable, "-m", "cnnprov_rdf.cli", "import", "--store", str(tmp_path / "store")]
    ok = subprocess.run([*cli, "--from", "yprov4ml", str(YPROV)], capture_output=True, text=True, timeout=120,
                        cwd=REPO)
    assert ok.returncode == 0 and "imported 1 yprov4ml run(s)" in ok.stdout and "warning:" in ok.stderr
    # the bare document, as plain PROV-JSON: imported with warnings, not a traceback
    plain = subprocess.run([*cli[:-1], str(tmp_path / "plain"), str(YPROV / "prov_cnn_grid_GR0_0.json")],
                           capture_output=True, text=True, timeout=120, cwd=REPO)
    assert plain.returncode == 0 and "(provjson)" in plain.stdout and "Traceback" not in plain.stderr
    assert "prefix 'default' is 'cnn_grid_GR0_0', not an IRI" in plain.stderr
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
