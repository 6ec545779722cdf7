"""A run written by yProv4ML 3.2.8 itself (tests/fixtures/yprov4ml/real, see its README), imported with
`--from yprov4ml` and as plain PROV-JSON: the expected values are read from the tool's own files."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cnnprov_rdf.interop.importers.registry import import_foreign
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.storage.store import open_for_reading

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / "tests" / "fixtures" / "yprov4ml" / "real" / "tiny_cnn_0"
DOCUMENT = RUN / "prov_tiny_cnn_GR0_0.json"
RUN_ID = "yprov4ml-tiny_cnn_GR0_0"
PROV = "http://www.w3.org/ns/prov#"
CNN = "https://w3id.org/cnnprov/ontology#"


def _metric(name: str, context: str) -> list[tuple[int, float, int]]:
    """yProv4ML's own metric file: `epoch,value,timestep` lines under that header."""
    with (RUN / "metrics_GR0" / f"{name}_{context}_None_GR0.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["epoch", "value", "timestep"]
    return [(int(e), float(v), int(t)) for e, v, t in rows[1:]]


def _root() -> dict:
    return json.loads(DOCUMENT.read_text())["activity"]["tiny_cnn_GR0_0"]


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    store = tmp_path_factory.mktemp("yprov") / "store"
    return store, import_foreign(store, "yprov4ml", RUN)


def test_the_fixture_is_what_yprov4ml_writes():
    document = json.loads(DOCUMENT.read_text())
    assert document["prefix"]["default"] == "tiny_cnn_GR0_0" and document["prefix"]["provml"] == "prov-ml"
    assert _root()["yprov:time_zone"] == "UTC+0000"
    assert _metric("loss", "Training")[1][:2] == (1, 0.29806944727897644)


def test_runs_row_from_the_real_document(imported):
    store, result = imported
    assert result.runs == (RUN_ID,) and result.quads_added > 0
    assert any("prefix 'default' is 'tiny_cnn_GR0_0', not an IRI" in w for w in result.warnings)
    assert any("prefix 'provml' is 'prov-ml', not an IRI" in w for w in result.warnings)
    [run] = run_query(store, "runs").rows
    root = _root()
    assert (run["run_id"], run["name"], run["status"], run["epochs"]) == (RUN_ID, "tiny_cnn_GR0_0", "finished", 3)
    assert (run["started"], run["ended"]) == (root["prov:startedAtTime"] + "Z", root["prov:endedAtTime"] + "Z")
    assert (run["final_loss"], run["final_accuracy"]) == (_metric("loss", "Training")[-1][1],
                                                          _metric("accuracy", "Training")[-1][1])
    assert (run["final_loss"], run["final_accuracy"]) == (0.19665729999542236, 0.921875)


def test_hyperparameters_and_config_ranking(imported):
    store, _ = imported
    hyper = run_query(store, "hyperparameters", run=RUN_ID).rows
    assert [(r["name"], r["value"]) for r in hyper] == [
        ("batch_size", 8), ("epochs", 3), ("learning_rate", 0.1), ("optimizer", "adam")]
    ranking = run_query(store, "config-ranking", metric="final_val_accuracy").rows
    assert [(r["learning_rate"], r["batch_size"], r["optimizer"], r["runs"], r["best_score"]) for r in ranking] == \
        [(0.1, 8, "adam", 1, _metric("accuracy", "Validation")[-1][1])]


def test_epoch_metrics_are_the_tool_files_values(imported):
    store, _ = imported
    rows = run_query(store, "epoch-metrics", run=RUN_ID).rows
    files = [_metric("loss", "Training"), _metric("accuracy", "Training"), _metric("loss", "Validation"),
             _metric("accuracy", "Validation")]
    expected = [(e + 1, *(f[e][1] for f in files)) for e in range(3)]
    assert [(r["epoch"], r["loss"], r["accuracy"], r["val_loss"], r["val_accuracy"]) for r in rows] == expected
    assert (rows[1]["loss"], rows[1]["val_accuracy"]) == (0.29806944727897644, 0.78125)
    # each epoch ends at its last metric timestamp; the first counts from the run's start
    ends = [max(f[e][2] for f in files) / 1000 for e in range(3)]
    start = datetime.fromisoformat(_root()["prov:startedAtTime"]).replace(tzinfo=UTC).timestamp()
    assert [r["elapsed_seconds"] for r in rows] == pytest.approx(
        [ends[0] - start, ends[1] - ends[0], ends[2] - ends[1]], abs=1e-3)


def test_links_to_the_document_its_metrics_and_the_model(imported):
    store, _ = imported
    s = open_for_reading(store)
    mapped = f"https://w3id.org/cnnprov/id/run/{RUN_ID}"
    [root] = [r["activity"] for r in run_query(store, "prov-activities").rows
              if r["activity"].endswith("/tiny_cnn_GR0_0/tiny_cnn_GR0_0")]
    namespace = root.removesuffix("tiny_cnn_GR0_0")
    assert s.query(f"ASK {{ <{mapped}> <{PROV}wasInfluencedBy> <{root}> , <{DOCUMENT.resolve().as_uri()}> . "
                   f"<{mapped}/epoch/2> <{PROV}hadPrimarySource> <{DOCUMENT.resolve().as_uri()}> ; "
                   f"<{PROV}wasDerivedFrom> <{namespace}loss//Training> , <{namespace}accuracy//Validation> . "
                   f"<{namespace}loss//Training> <http://purl.org/dc/terms/identifier> "
                   "'prov/tiny_cnn_0/metrics_GR0/loss_Training_None_GR0.csv' }", use_default_graph_as_union=True)
    derived = {row["m"].value for row in s.query(
        f"SELECT ?m WHERE {{ GRAPH ?g {{ <{mapped}/epoch/2> <{PROV}wasDerivedFrom> ?m }} }}")}
    assert derived == {f"{namespace}{m}//{c}" for m in ("loss", "accuracy") for c in ("Training", "Validation")}
    artifacts = sorted((r["path"].value, int(r["size"].value)) for r in s.query(
        f"SELECT ?path ?size WHERE {{ GRAPH ?g {{ ?a <{PROV}wasGeneratedBy> <{mapped}> ; <{CNN}filePath> ?path ; "
        f"<{CNN}byteSize> ?size }} }}"))
    model, requirements = RUN / "artifacts_GR0" / "tiny_cnn_model" / "tiny_cnn_model.pt", RUN / "artifacts_GR0"
    assert artifacts == [("artifacts_GR0/requirements.txt", (requirements / "requirements.txt").stat().st_size),
                         ("artifacts_GR0/tiny_cnn_model/tiny_cnn_model.pt", model.stat().st_size)]
    assert model.stat().st_size == 2915
    del s


def test_imported_twice_adds_nothing_and_compare_runs_lines_it_up(imported):
    store, _ = imported
    again = import_foreign(store, "yprov4ml", DOCUMENT)
    assert again.quads_added == 0
    rows = run_query(store, "compare-runs", a=RUN_ID, b=RUN_ID).rows
    assert [(r["epoch"], r["loss_a"], r["loss_b"]) for r in rows] == [
        (e + 1, v, v) for e, v, _ in _metric("loss", "Training")]


def test_local_times_are_read_in_the_runs_time_zone(tmp_path):
    run = tmp_path / "tiny_cnn_0"
    shutil.copytree(RUN, run)
    document = json.loads(DOCUMENT.read_text())
    document["activity"]["tiny_cnn_GR0_0"]["yprov:time_zone"] = "CET+0100"
    (run / DOCUMENT.name).write_text(json.dumps(document))
    import_foreign(tmp_path / "store", "yprov4ml", run)
    [row] = run_query(tmp_path / "store", "runs").rows
    local = datetime.fromisoformat(_root()["prov:startedAtTime"])  # 00:29:59.78 CET is 23:29:59.78 UTC
    assert row["started"] == (local - timedelta(hours=1)).isoformat() + "Z"


def test_a_metric_file_the_document_names_but_is_gone(tmp_path):
    run = tmp_path / "tiny_cnn_0"
    shutil.copytree(RUN, run)
    (run / "metrics_GR0" / "accuracy_Validation_None_GR0.csv").unlink()
    result = import_foreign(tmp_path / "store", "yprov4ml", run)
    assert any("metric 'accuracy//Validation': its file prov/tiny_cnn_0/metrics_GR0/"
               "accuracy_Validation_None_GR0.csv is not in" in w for w in result.warnings)
    rows = run_query(tmp_path / "store", "epoch-metrics", run=RUN_ID).rows
    assert [(r["val_loss"], r["val_accuracy"]) for r in rows] == [(v, None) for _, v, _ in
                                                                  _metric("loss", "Validation")]


def test_cli_plain_provjson_of_the_real_document(tmp_path):
    """The bare document as plain PROV-JSON: imported with warnings naming its non-IRI prefixes, no traceback."""
    plain = subprocess.run([sys.executable, "-m", "cnnprov_rdf.cli", "import", "--store", str(tmp_path / "plain"),
                            str(DOCUMENT)], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert plain.returncode == 0 and "(provjson)" in plain.stdout and "Traceback" not in plain.stderr
    assert "prefix 'default' is 'tiny_cnn_GR0_0', not an IRI" in plain.stderr
    assert "prefix 'provml' is 'prov-ml', not an IRI" in plain.stderr
    activities = {r["activity"]: r for r in run_query(tmp_path / "plain", "prov-activities").rows}
    [root] = [a for a in activities if a.endswith("/tiny_cnn_GR0_0/tiny_cnn_GR0_0")]
    assert activities[root]["started"] == _root()["prov:startedAtTime"]


def test_compare_runs_across_tools_yprov4ml_and_mlflow(tmp_path):
    """The yProv4ML run's values logged to an MLflow sqlite store by MLflow's client (steps from 0, as yProv4ML's
    epochs are), both imported: compare-runs lines them up epoch by epoch with the same values."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.create_run(client.create_experiment("mirror"), run_name="mirror").info.run_id
    for name, context, key in (("loss", "Training", "loss"), ("accuracy", "Training", "accuracy"),
                               ("loss", "Validation", "val_loss")):
        for epoch, value, stamp in _metric(name, context):
            client.log_metric(run, key, value, timestamp=stamp, step=epoch)
    client.set_terminated(run)
    store = tmp_path / "store"
    import_foreign(store, "yprov4ml", RUN)
    import_foreign(store, "mlflow", tmp_path / "mlflow.db")
    rows = run_query(store, "compare-runs", a=RUN_ID, b=f"mlflow-{run}").rows
    assert [(r["epoch"], r["loss_a"], r["loss_b"], r["accuracy_a"], r["accuracy_b"], r["val_loss_a"],
             r["val_loss_b"]) for r in rows] == [
        (e + 1, loss, loss, accuracy, accuracy, val_loss, val_loss)
        for (e, loss, _), (_, accuracy, _), (_, val_loss, _) in zip(
            _metric("loss", "Training"), _metric("accuracy", "Training"), _metric("loss", "Validation"), strict=True)]
    assert len(rows) == 3
