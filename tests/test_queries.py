"""Every canned query on the captured grid, with exact rows computed from what Keras itself reported.

The `grid` fixture (conftest) trains, in this order, lr0.01-e1, lr0.01-e2, lr0.005-e1, lr0.005-e2, raises (fails
after epoch 2) and early-stop (4 planned epochs, stops after 2), each with a step decay that halves the rate after
every epoch, and keeps Keras' history, evaluate() result and saved model file of each.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import uuid
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from pyoxigraph import Store

from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.cli import main
from cnnprov_rdf.graph.mapping import RunIris
from cnnprov_rdf.graph.vocabulary import CNN_NS
from cnnprov_rdf.interop.export import export
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.query.library import QueryError, load_queries
from cnnprov_rdf.storage.store import open_for_reading

#: Run names in the order the grid trains them (so "latest" is the last one).
ORDER = ["lr0.01-e1", "lr0.01-e2", "lr0.005-e1", "lr0.005-e2", "raises", "early-stop"]
FINISHED = [name for name in ORDER if name != "raises"]
METRICS = ["test_accuracy", "final_val_accuracy", "best_val_accuracy", "final_accuracy", "best_accuracy"]

#: Every canned query must have a test here (test_every_canned_query_is_covered checks this list).
COVERED = {
    "architecture", "compare-runs", "config-ranking", "dataset-usage", "early-stopped", "epoch-loss-time",
    "epoch-time-stats", "failed-runs", "hyperparameters", "lr-adaptations", "model-lineage", "prov-activities",
    "running-now", "runs", "test-results", "training-time-by-config",
    "epoch-metrics", "run-graph",  # drawn by the visual commands; their exact rows are tested in test_visual.py
    "leaderboard",  # long rows, pivoted by query/leaderboard.py; its exact rows are tested in test_leaderboard.py
    "search-trials", "searches",  # searches: their exact rows are tested in test_tuning.py
}


def f32(rate: float) -> float:
    """The learning rate as the optimizer holds (and the callback records) it."""
    return float(np.float32(rate))


def common_prefix(first: str, second: str) -> str:
    length = next((i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b), len(first))
    return first[:length]


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def rows(store, name: str, **params) -> list[dict]:
    return run_query(store, name, **params).rows


@pytest.fixture(scope="module")
def store(grid) -> Store:
    """One read-only snapshot of the finished grid for the whole module."""
    return open_for_reading(grid.store)


@pytest.fixture(scope="module")
def run_rows(store) -> dict[str, dict]:
    """The `runs` query's row of each run, by run name."""
    return {row["name"]: row for row in rows(store, "runs")}


@pytest.fixture(scope="module")
def stored_epochs(store, grid) -> dict[str, dict[int, dict]]:
    """Per run and epoch, what the store holds (for the failing run, whose Keras history is lost)."""
    result = {}
    for name, run in grid.runs.items():
        compared = rows(store, "compare-runs", a=run.run_id, b=run.run_id)
        result[name] = {
            row["epoch"]: {key.removesuffix("_a"): value for key, value in row.items() if not key.endswith("_b")}
            for row in compared
        }
    return result


def test_every_canned_query_is_covered():
    assert set(load_queries()) == COVERED
    assert len(COVERED) == 21


# --- runs, failures, live runs -----------------------------------------------------------------------


def test_runs_newest_first_with_status_epochs_and_final_metrics(grid, stored_epochs):
    result = run_query(grid.store, "runs")  # by path: opened read-only
    assert result.columns == ["run_id", "name", "status", "started", "ended", "epochs", "final_loss",
                              "final_accuracy"]
    assert [row["name"] for row in result.rows] == ORDER[::-1]
    for row in result.rows:
        run = grid.runs[row["name"]]
        assert row["run_id"] == run.run_id
        assert row["ended"] is not None and when(row["started"]) < when(row["ended"])
        if run.error is None:
            assert (row["status"], row["epochs"]) == ("finished", len(run.history["loss"]))
            assert row["final_loss"] == run.history["loss"][-1]
            assert row["final_accuracy"] == run.history["accuracy"][-1]
        else:
            last = stored_epochs["raises"][2]
            assert (row["status"], row["epochs"]) == ("failed", 2)
            assert (row["final_loss"], row["final_accuracy"]) == (last["loss"], last["accuracy"])
    started = [when(row["started"]) for row in result.rows]
    assert started == sorted(started, reverse=True)


def test_failed_runs_lists_exactly_the_run_that_raised(store, grid, run_rows):
    raises = grid.runs["raises"]
    assert rows(store, "failed-runs") == [{
        "run_id": raises.run_id, "name": "raises", "status": "failed", "started": run_rows["raises"]["started"],
        "epochs": 2, "error_type": "ValueError", "error_message": "NaN batch in epoch 2",
    }]
    assert str(raises.error) == "NaN batch in epoch 2"


def test_running_now_is_empty_when_every_run_ended(store):
    result = run_query(store, "running-now")
    assert result.rows == []
    assert result.columns == ["run_id", "name", "started", "planned_epochs", "latest_epoch", "loss", "accuracy",
                              "val_loss", "val_accuracy", "updated"]


def test_running_now_shows_a_run_that_has_not_ended(tmp_path):
    path = tmp_path / "store"
    epochs = [
        {"loss": 0.9, "accuracy": 0.4, "val_loss": 1.1, "val_accuracy": 0.25},
        {"loss": 0.7, "accuracy": 0.55, "val_loss": 0.95, "val_accuracy": 0.5},
    ]
    tracker = Tracker(path)
    try:
        run = tracker.start_run(name="live", planned_epochs=5)
        for epoch, metrics in enumerate(epochs, start=1):
            run.log_epoch(epoch, metrics, elapsed_seconds=1.5)
        assert tracker.flush(timeout=30)
        expected = {"run_id": run.run_id, "name": "live", "planned_epochs": 5, "latest_epoch": 2, **epochs[1]}
        for live in (tracker.writer._sink.store, open_for_reading(path)):
            [row] = rows(live, "running-now")
            assert {key: row[key] for key in expected} == expected
            assert when(row["started"]) <= when(row["updated"])
    finally:
        tracker.close()
    # Never ended (as if killed): still "running", and listed as unfinished by runs and failed-runs.
    reader = open_for_reading(path)
    assert [row["latest_epoch"] for row in rows(reader, "running-now")] == [2]
    [unfinished] = rows(reader, "failed-runs")
    assert (unfinished["status"], unfinished["epochs"], unfinished["error_type"]) == ("unfinished", 2, None)
    [listed] = rows(reader, "runs")
    assert (listed["status"], listed["epochs"], listed["ended"], listed["final_loss"]) == ("unfinished", 2, None, None)


def test_running_now_lists_a_run_in_its_first_epoch_without_epoch_values(tmp_path):
    path = tmp_path / "store"
    with Tracker(path) as tracker:
        done = tracker.start_run(name="done")
        done.log_epoch(1, {"loss": 0.5}, elapsed_seconds=1.0)
        done.end()
        first = tracker.start_run(name="first", planned_epochs=3)
        assert tracker.flush(timeout=30)
        [row] = rows(open_for_reading(path), "running-now")
        assert {key: value for key, value in row.items() if key != "started"} == {
            "run_id": first.run_id, "name": "first", "planned_epochs": 3, "latest_epoch": None, "loss": None,
            "accuracy": None, "val_loss": None, "val_accuracy": None, "updated": None}
        first.end()


# --- per-run queries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FINISHED)
def test_epoch_loss_time_rows_are_the_history_by_loss_descending(store, grid, name):
    run = grid.runs[name]
    result = rows(store, "epoch-loss-time", run=run.run_id)
    expected = sorted(((loss, epoch) for epoch, loss in enumerate(run.history["loss"], start=1)),
                      key=lambda pair: (-pair[0], pair[1]))
    assert [(row["loss"], row["epoch"]) for row in result] == expected
    assert all(row["elapsed_seconds"] > 0 for row in result)


def test_epoch_loss_time_defaults_to_the_latest_run(store, grid):
    assert rows(store, "epoch-loss-time") == rows(store, "epoch-loss-time", run=grid.runs["early-stop"].run_id)
    assert rows(store, "epoch-loss-time") == rows(store, "epoch-loss-time", run="latest")
    assert sorted(row["loss"] for row in rows(store, "epoch-loss-time")) == sorted(
        grid.runs["early-stop"].history["loss"])


@pytest.mark.parametrize("name", ORDER)
def test_hyperparameters_of_each_run(store, grid, name):
    run = grid.runs[name]
    result = rows(store, "hyperparameters", run=run.run_id)
    names = [row["name"] for row in result]
    assert names == sorted(set(names))
    values = {row["name"]: row["value"] for row in result}
    expected = {
        "learning_rate": f32(run.learning_rate), "epochs": run.epochs, "batch_size": 4, "optimizer": "SGD",
        "validation_split": 0.25, "loss_function": "sparse_categorical_crossentropy", "shuffle": True,
        "initial_epoch": 0, "optimizer.momentum": 0.0, "optimizer.nesterov": False,
    }
    assert {key: values.get(key) for key in expected} == expected
    if run.history:
        assert values["learning_rate"] == run.history["learning_rate"][0]


def test_hyperparameters_default_to_the_latest_run(store):
    values = {row["name"]: row["value"] for row in rows(store, "hyperparameters")}
    assert (values["epochs"], values["learning_rate"]) == (4, f32(0.01))


@pytest.mark.parametrize("name", ORDER)
def test_lr_adaptations_one_per_epoch_boundary(store, grid, run_rows, name):
    run = grid.runs[name]
    result = rows(store, "lr-adaptations", run=run.run_id)
    if name.endswith("-e1"):
        assert result == []
        return
    [row] = result  # two epochs trained: the step decay changed the rate once, after epoch 1
    old, new = f32(run.learning_rate), f32(run.learning_rate * 0.5)
    if run.history:  # Keras' own record of the rate in each epoch (the failing run's history is lost)
        assert run.history["learning_rate"][:2] == [old, new]
    assert (row["epoch"], row["old_rate"], row["new_rate"]) == (1, old, new)
    assert row["adaptation_id"] == str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run.run_id}/adaptation/1"))
    started, ended = run_rows[name]["started"], run_rows[name]["ended"]
    assert when(started) < when(row["time"]) < when(ended)


def test_compare_runs_side_by_side(store, grid):
    a, b = grid.runs["lr0.01-e2"], grid.runs["lr0.005-e2"]
    result = rows(store, "compare-runs", a=a.run_id, b=b.run_id)
    metrics = ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
    expected = [
        {"epoch": epoch} | {f"{m}_{side}": run.history[m][epoch - 1] for m in metrics for side, run in
                            (("a", a), ("b", b))}
        for epoch in (1, 2)
    ]
    assert [{k: v for k, v in row.items() if not k.startswith("seconds")} for row in result] == expected
    for side, run in (("a", a), ("b", b)):
        elapsed = {row["epoch"]: row["elapsed_seconds"] for row in rows(store, "epoch-loss-time", run=run.run_id)}
        assert {row["epoch"]: row[f"seconds_{side}"] for row in result} == elapsed


def test_compare_runs_defaults_to_latest_against_previous(store, grid, stored_epochs):
    latest = grid.runs["early-stop"]
    result = rows(store, "compare-runs")
    assert [row["epoch"] for row in result] == [1, 2]
    for row in result:
        epoch = row["epoch"]
        assert row["loss_a"] == latest.history["loss"][epoch - 1]
        assert row["val_accuracy_a"] == latest.history["val_accuracy"][epoch - 1]
        assert row["learning_rate_a"] == latest.history["learning_rate"][epoch - 1]
        assert row["loss_b"] == stored_epochs["raises"][epoch]["loss"]
        assert row["learning_rate_b"] == f32(0.01 * 0.5 ** (epoch - 1))
    assert result == rows(store, "compare-runs", a="latest", b="previous")


def test_compare_runs_of_different_lengths_leaves_the_missing_epochs_empty(store, grid):
    two, one = grid.runs["lr0.01-e2"], grid.runs["lr0.01-e1"]
    result = rows(store, "compare-runs", a=two.run_id, b=one.run_id)
    assert [(row["epoch"], row["loss_a"], row["loss_b"]) for row in result] == [
        (1, two.history["loss"][0], one.history["loss"][0]),
        (2, two.history["loss"][1], None),
    ]
    assert all(result[1][f"{m}_b"] is None for m in ("accuracy", "val_loss", "learning_rate", "seconds"))


@pytest.mark.parametrize("name", ORDER)
def test_epoch_time_stats_of_a_run(store, grid, name):
    run = grid.runs[name]
    seconds = [row["elapsed_seconds"] for row in rows(store, "epoch-loss-time", run=run.run_id)]
    [row] = rows(store, "epoch-time-stats", run=run.run_id)
    assert (row["run_id"], row["epochs"]) == (run.run_id, len(run.history.get("loss", [])) or 2)
    assert (row["min_seconds"], row["max_seconds"]) == (min(seconds), max(seconds))
    assert row["total_seconds"] == pytest.approx(sum(seconds), rel=1e-12)
    assert row["mean_seconds"] == pytest.approx(sum(seconds) / len(seconds), rel=1e-12)
    assert all(value > 0 for value in seconds)


def test_epoch_time_stats_for_all_runs(store, grid):
    result = rows(store, "epoch-time-stats", run="all")
    newest_first = [row["run_id"] for row in sorted(rows(store, "runs"), key=lambda row: when(row["started"]),
                                                     reverse=True)]
    epochs = {run.run_id: 2 if run.error else len(run.history["loss"]) for run in grid.runs.values()}
    assert [(row["run_id"], row["epochs"]) for row in result] == [(run_id, epochs[run_id]) for run_id in newest_first]
    for row in result:  # the ended runs' statistics (the run index's) are each run's own
        assert [row] == rows(store, "epoch-time-stats", run=row["run_id"])
    assert rows(store, "epoch-time-stats") == [r for r in result if r["run_id"] == grid.runs["early-stop"].run_id]


def expected_layers() -> list[dict]:
    """The layers of the grid's model, read off a rebuilt Keras model."""
    import keras

    from cnnprov_rdf.demo.alexnet import build_alexnet

    def shape(values) -> str | None:
        return "x".join(str(v) for v in values) if values else None

    model = build_alexnet((64, 64, 3), 2, width=0.125)
    layers = []
    for position, layer in enumerate(model.layers, start=1):
        activation = getattr(layer, "activation", None)
        layers.append({
            "position": position, "name": layer.name, "kind": type(layer).__name__,
            "filters": getattr(layer, "filters", None),
            "kernel_size": shape(getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)),
            "strides": shape(getattr(layer, "strides", None)), "units": getattr(layer, "units", None),
            "activation": activation.__name__ if activation is not None else None,
            "dropout_rate": float(layer.rate) if isinstance(layer, keras.layers.Dropout) else None,
            "parameters": int(layer.count_params()),
        })
    return layers


def test_architecture_rows_are_the_model_layers_in_order(store, grid):
    result = rows(store, "architecture")
    assert result == expected_layers()
    assert rows(store, "architecture", run=grid.runs["lr0.01-e1"].run_id) == result
    # Every run of the grid trained the same AlexNet: its layers are stored once, in the architecture's graph,
    # and an export of all runs lists them once.
    [architecture_graph] = [g for g in store.named_graphs() if "/graph/architecture/" in g.value]
    assert len(list(store.quads_for_pattern(None, None, None, architecture_graph))) > 5 * len(result)
    lines = export(store, "nquads").decode().splitlines()
    assert len(lines) == len(set(lines))
    assert sum(architecture_graph.value in line for line in lines) == len(list(
        store.quads_for_pattern(None, None, None, architecture_graph)))
    by_name = {row["name"]: row for row in result}
    assert (by_name["conv1"]["kind"], by_name["conv1"]["filters"], by_name["conv1"]["kernel_size"],
            by_name["conv1"]["strides"]) == ("Conv2D", 12, "11x11", "4x4")
    assert [row["dropout_rate"] for row in result if row["kind"] == "Dropout"] == [0.5, 0.5]
    assert (by_name["fc8"]["units"], by_name["fc8"]["activation"]) == (2, "softmax")


# --- across runs -------------------------------------------------------------------------------------


def score(run, metric: str) -> float:
    if metric == "test_accuracy":
        return run.test_result["accuracy"]
    kind, _, measure = metric.partition("_")
    values = run.history[measure]
    return values[-1] if kind == "final" else max(values)


@pytest.mark.parametrize("metric", METRICS)
def test_config_ranking_by_each_metric(store, grid, metric):
    result = rows(store, "config-ranking", metric=metric)
    expected = [
        {"rank_by": metric, "learning_rate": run.history["learning_rate"][0], "epochs": run.epochs,
         "batch_size": 4, "optimizer": "SGD", "runs": 1, "mean_score": score(run, metric),
         "best_score": score(run, metric)}
        for run in (grid.runs[name] for name in FINISHED)
    ]

    def key(row):
        return row["epochs"], row["learning_rate"]

    assert sorted(result, key=key) == sorted(expected, key=key)  # raises (epochs 3) is left out
    means = [row["mean_score"] for row in result]
    assert means == sorted(means, reverse=True)


def test_config_ranking_defaults_to_test_accuracy_and_rejects_other_metrics(store):
    def key(row):
        return row["epochs"], row["learning_rate"]

    assert sorted(rows(store, "config-ranking"), key=key) == sorted(
        rows(store, "config-ranking", metric="test_accuracy"), key=key)
    with pytest.raises(QueryError, match="parameter 'metric' must be one of") as raised:
        run_query(store, "config-ranking", metric="test_loss")
    assert all(choice in str(raised.value) for choice in METRICS)


def test_training_time_by_config(store, grid, run_rows):
    result = rows(store, "training-time-by-config")
    finished = sorted((grid.runs[name].epochs, f32(grid.runs[name].learning_rate), name) for name in FINISHED)
    assert [(row["epochs"], row["learning_rate"], row["runs"]) for row in result] == [
        (epochs, rate, 1) for epochs, rate, _ in finished
    ]
    for row, (_, _, name) in zip(result, finished, strict=True):
        assert row["mean_seconds"] == row["min_seconds"] == row["max_seconds"] > 0
        wall = (when(run_rows[name]["ended"]) - when(run_rows[name]["started"])).total_seconds()
        assert abs(row["mean_seconds"] - wall) < 0.5
        [stats] = rows(store, "epoch-time-stats", run=grid.runs[name].run_id)
        assert stats["total_seconds"] < row["mean_seconds"]  # epochs are part of the training


def test_test_results_equal_evaluate(store, grid):
    result = rows(store, "test-results")
    assert sorted(row["name"] for row in result) == sorted(FINISHED)
    for row in result:
        run = grid.runs[row["name"]]
        assert (row["run_id"], row["test_loss"], row["test_accuracy"]) == (
            run.run_id, run.test_result["loss"], run.test_result["accuracy"])
        assert row["tested_at"] is not None
    accuracies = [row["test_accuracy"] for row in result]
    assert accuracies == sorted(accuracies, reverse=True)
    chosen = grid.runs["lr0.005-e2"]
    assert [row["run_id"] for row in rows(store, "test-results", run=chosen.run_id)] == [chosen.run_id]
    assert rows(store, "test-results", run=grid.runs["raises"].run_id) == []
    assert rows(store, "test-results", run="all") == result


def test_test_results_report_the_number_of_test_examples(store, grid):
    assert [row["test_examples"] for row in rows(store, "test-results")] == [4] * len(FINISHED)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_model_lineage_of_every_file(store, grid):
    result = rows(store, "model-lineage")
    expected = {
        run.run_id: {"file_path": str(run.model_file.resolve()), "sha256": sha256(run.model_file), "epoch": None,
                     "saves": 1, "run_id": run.run_id, "learning_rate": run.history["learning_rate"][0],
                     "epochs": run.epochs, "batch_size": 4, "optimizer": "SGD", "dataset": "synthetic-shapes",
                     "train_fraction": 0.75, "test_examples": 4}
        for run in (grid.runs[name] for name in FINISHED)}
    newest_first = sorted(result, key=lambda row: when(row["saved_at"]), reverse=True)
    assert [row["run_id"] for row in result] == [row["run_id"] for row in newest_first]
    assert [{k: v for k, v in row.items() if k not in ("train_examples", "saved_at")} for row in result] == [
        expected[row["run_id"]] for row in newest_first]
    assert grid.runs["raises"].model_file is None


def test_model_lineage_filters_by_file_end_or_sha(store, grid):
    run = grid.runs["lr0.01-e2"]
    [by_name] = rows(store, "model-lineage", file="lr0.01-e2.keras")
    assert (by_name["run_id"], by_name["sha256"]) == (run.run_id, sha256(run.model_file))
    assert rows(store, "model-lineage", file=str(run.model_file.resolve())) == [by_name]
    assert rows(store, "model-lineage", file=sha256(run.model_file)) == [by_name]
    both = {grid.runs["lr0.01-e2"].run_id, grid.runs["lr0.005-e2"].run_id}
    assert {row["run_id"] for row in rows(store, "model-lineage", file="-e2.keras")} == both
    assert rows(store, "model-lineage", file="no-such-model.keras") == []
    assert rows(store, "model-lineage", file="0" * 64) == []


def test_model_lineage_train_examples_counts_what_fit_trained_on(store):
    from cnnprov_rdf.demo.datasets import synthetic_shapes

    data = synthetic_shapes(n_per_class=8, num_classes=2, size=64, split=0.75, seed=5)  # as in train_grid
    fitted = math.floor(len(data.x_train) * (1 - 0.25))  # Keras' train_validation_split keeps this many
    assert {row["train_examples"] for row in rows(store, "model-lineage")} == {fitted}


def test_dataset_usage(store, run_rows):
    started = [row["started"] for row in run_rows.values()]
    assert rows(store, "dataset-usage") == [{
        "dataset": "synthetic-shapes", "location": None, "runs": 6, "finished_runs": 5,
        "first_used": min(started, key=when), "last_used": max(started, key=when),
    }]
    assert run_rows["lr0.01-e1"]["started"] == min(started, key=when)


def test_early_stopped_lists_exactly_the_early_stop_run(store, grid, run_rows):
    run = grid.runs["early-stop"]
    assert rows(store, "early-stopped") == [{
        "run_id": run.run_id, "name": "early-stop", "planned_epochs": 4, "epochs_completed": 2,
        "final_loss": run.history["loss"][-1], "best_val_loss": min(run.history["val_loss"]),
        "ended": run_rows["early-stop"]["ended"],
    }]


def test_prov_activities_are_the_trainings_adaptations_and_testings(store, grid, run_rows):
    result = rows(store, "prov-activities")
    expected = set()
    for name, run in grid.runs.items():
        iris = RunIris(run.run_id)
        expected.add((iris.run.value, CNN_NS + "Training"))
        if not name.endswith("-e1"):  # two epochs or more: the rate changed once
            expected.add((iris.node("adaptation", 1).value, CNN_NS + "Adaptation"))
        if run.error is None:
            expected.add((iris.node("testing", 1).value, CNN_NS + "Testing"))
    assert len(expected) == 6 + 4 + 5
    assert {(row["activity"], row["class"]) for row in result} == expected
    assert len(result) == len(expected)
    by_activity = {row["activity"]: row for row in result}
    for name, run in grid.runs.items():
        training = by_activity[RunIris(run.run_id).run.value]
        assert (training["started"], training["ended"]) == (run_rows[name]["started"], run_rows[name]["ended"])
    for row in rows(store, "test-results"):
        assert by_activity[RunIris(row["run_id"]).node("testing", 1).value]["ended"] == row["tested_at"]
    started = [when(row["started"]) for row in result]
    assert started == sorted(started)


# --- run references, results, listing ----------------------------------------------------------------


def test_run_references_by_prefix_iri_latest_and_previous(store, grid):
    ids = [run.run_id for run in grid.runs.values()]
    target = grid.runs["lr0.01-e2"]
    length = next(n for n in range(1, 37) if sum(i.startswith(target.run_id[:n]) for i in ids) == 1)
    by_id = rows(store, "hyperparameters", run=target.run_id)
    assert rows(store, "hyperparameters", run=target.run_id[:length]) == by_id
    assert rows(store, "hyperparameters", run=RunIris(target.run_id).run.value) == by_id
    assert rows(store, "hyperparameters", run="latest") == rows(store, "hyperparameters",
                                                                 run=grid.runs["early-stop"].run_id)
    previous = {row["name"]: row["value"] for row in rows(store, "hyperparameters", run="previous")}
    assert (previous["epochs"], previous["learning_rate"]) == (3, f32(0.01))  # the run that raised


def test_ambiguous_and_unknown_run_references_are_query_errors(store, grid):
    ids = sorted(run.run_id for run in grid.runs.values())
    shared = max((common_prefix(first, second) for first, second in itertools.pairwise(ids)), key=len)
    matching = sum(i.startswith(shared) for i in ids)  # two runs or more ("" when no two ids share a first digit)
    with pytest.raises(QueryError, match=f"is the start of {matching} run ids: .*; give more of the id") as raised:
        run_query(store, "epoch-loss-time", run=shared)
    candidates = str(raised.value).split(": ", 1)[1].split("; ")[0].split(", ")
    assert sorted(candidates) == [i for i in ids if i.startswith(shared)]  # every candidate, by its whole id
    with pytest.raises(QueryError, match="no run 'no-such-run' in the store"):
        run_query(store, "epoch-loss-time", run="no-such-run")
    with pytest.raises(QueryError, match="has no parameter 'run'"):
        run_query(store, "runs", run="latest")
    with pytest.raises(QueryError, match="did you mean runs"):
        run_query(store, "runz")


def test_results_convert_to_dataframes_with_the_header_columns(store, grid):
    pytest.importorskip("pandas")
    for name, query in load_queries().items():
        if name == "search-trials":  # this store holds no search (test_tuning.py covers it)
            with pytest.raises(QueryError, match="no hyperparameter searches"):
                run_query(store, name)
            continue
        result = run_query(store, name)
        frame = result.to_dataframe()
        if name == "leaderboard":  # the header's columns, then one per hyperparameter, summary and test metric
            assert list(frame.columns) == result.columns and result.columns[:6] == list(query.columns)
            assert "hp.learning_rate" in result.columns and "test_accuracy" in result.columns
        else:
            assert list(frame.columns) == result.columns == list(query.columns)
        assert len(frame) == len(result)
    frame = run_query(store, "runs").to_dataframe()
    assert frame["name"].tolist() == ORDER[::-1]
    assert frame["final_loss"].iloc[0] == grid.runs["early-stop"].history["loss"][-1]


def test_cli_lists_every_query_with_its_parameters_as_json(capsys):
    assert main(["queries", "--format", "json"]) == 0
    listing = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    queries = load_queries()
    assert set(listing) == set(queries) == COVERED

    def run(name: str, default: str) -> dict:
        return {"name": name, "type": "run", "required": False, "default": default}

    expected = {name: [] for name in queries} | {
        name: [run("run", "latest")]
        for name in ("architecture", "epoch-loss-time", "epoch-time-stats", "hyperparameters", "lr-adaptations",
                     "epoch-metrics", "run-graph")
    } | {
        "compare-runs": [run("a", "latest"), run("b", "previous"),
                         {"name": "runs", "type": "runs", "required": False, "default": "all"}],
        "search-trials": [{"name": "search", "type": "search", "required": False, "default": "latest"}],
        "leaderboard": [{"name": "sort", "type": "string", "required": False, "default": "started"},
                        {"name": "search", "type": "search", "required": False, "default": "all"}],
        "test-results": [run("run", "all")],
        "model-lineage": [{"name": "file", "type": "string", "required": False, "default": "all"}],
        "config-ranking": [{"name": "metric", "type": "choice", "required": False, "default": "test_accuracy",
                            "choices": METRICS},
                           {"name": "by", "type": "strings", "required": False,
                            "default": "learning_rate,epochs,batch_size,optimizer"}],
    }
    assert {name: entry["parameters"] for name, entry in listing.items()} == expected
    for name, entry in listing.items():
        assert entry["columns"] == list(queries[name].columns)
        assert entry["title"] and entry["description"]
