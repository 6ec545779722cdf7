"""The leaderboard (queries/leaderboard.rq pivoted by cnnprov_rdf.query.leaderboard): exact rows on the grid."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from conftest import record_searches

from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.cli import main
from cnnprov_rdf.errors import QueryError
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.query.leaderboard import leaderboard
from cnnprov_rdf.query.run_table import lower_is_better, sort_rows
from cnnprov_rdf.storage.store import open_for_reading

ORDER = ["lr0.01-e1", "lr0.01-e2", "lr0.005-e1", "lr0.005-e2", "raises", "early-stop"]


def f32(rate: float) -> float:
    return float(np.float32(rate))


@pytest.fixture(scope="module")
def store(grid):
    return open_for_reading(grid.store)


def expected_row(store, grid, name: str) -> dict:
    """The row as the other canned queries and Keras itself report it."""
    run = grid.runs[name]
    listed = next(row for row in run_query(store, "runs").rows if row["name"] == name)
    settings = {f"hp.{row['name']}": row["value"] for row in run_query(store, "hyperparameters", run=run.run_id)}
    tests = run_query(store, "test-results", run=run.run_id).rows
    history = run.history
    finished = run.error is None
    epochs = {row["epoch"]: row for row in run_query(store, "epoch-metrics", run=run.run_id).rows}
    last = epochs[max(epochs)]
    return {
        "run_id": run.run_id, "name": name, "status": "finished" if finished else "failed",
        "started": listed["started"], "ended": listed["ended"], "epochs": len(epochs),
        **settings,
        "final_loss": history["loss"][-1] if finished else last["loss"],
        "final_accuracy": history["accuracy"][-1] if finished else last["accuracy"],
        "final_val_loss": history["val_loss"][-1] if finished else last["val_loss"],
        "final_val_accuracy": history["val_accuracy"][-1] if finished else last["val_accuracy"],
        "best_accuracy": max(r["accuracy"] for r in epochs.values()),
        "best_val_accuracy": max(r["val_accuracy"] for r in epochs.values()),
        "best_val_loss": min(r["val_loss"] for r in epochs.values()),
        "test_accuracy": run.test_result["accuracy"] if run.test_result else None,
        "test_loss": run.test_result["loss"] if run.test_result else None,
    } | ({"test_accuracy": tests[0]["test_accuracy"], "test_loss": tests[0]["test_loss"]} if tests else {})


def test_one_row_per_run_with_each_hyperparameter_as_a_column(store, grid):
    result = leaderboard(store)
    names = {row["name"] for run in grid.runs.values()
             for row in run_query(store, "hyperparameters", run=run.run_id).rows}
    assert {"batch_size", "epochs", "learning_rate", "optimizer", "validation_split"} <= names
    assert result.columns == ["run_id", "name", "status", "started", "ended", "epochs",
                              *sorted(f"hp.{name}" for name in names),
                              "final_loss", "final_accuracy", "final_val_loss", "final_val_accuracy",
                              "best_accuracy", "best_val_accuracy", "best_val_loss", "test_accuracy", "test_loss"]
    assert [row["name"] for row in result.rows] == ORDER[::-1]  # newest first by default
    for row in result.rows:
        assert row == expected_row(store, grid, row["name"])
        assert list(row) == result.columns
        run = grid.runs[row["name"]]
        assert row["hp.learning_rate"] == f32(run.learning_rate)
        assert row["hp.epochs"] == run.epochs
        assert row["hp.optimizer"] == "SGD"
    assert {row["name"]: row["test_accuracy"] is None for row in result.rows} == {
        name: name == "raises" for name in ORDER}


def test_sorted_by_a_metric_in_its_better_direction_missing_values_last(store):
    by_accuracy = leaderboard(store, sort="test_accuracy").rows
    values = [row["test_accuracy"] for row in by_accuracy]
    assert values[-1] is None and values[:-1] == sorted(values[:-1], reverse=True)
    by_loss = leaderboard(store, sort="final_val_loss").rows
    losses = [row["final_val_loss"] for row in by_loss]
    assert losses == sorted(losses)
    by_rate = [row["hp.learning_rate"] for row in leaderboard(store, sort="hp.learning_rate").rows]
    assert by_rate == sorted(by_rate)
    assert lower_is_better("test_loss") and not lower_is_better("best_val_accuracy")
    with pytest.raises(QueryError, match="cannot sort the leaderboard by 'nope'"):
        leaderboard(store, sort="nope")


def test_sorting_puts_nan_and_missing_after_every_number():
    for column in ("test_accuracy", "test_loss"):
        rows = [{column: value} for value in (float("nan"), None, 0.5, 0.9)]
        ordered = [row[column] for row in sort_rows(rows, column)]
        assert ordered[:2] == ([0.9, 0.5] if column == "test_accuracy" else [0.5, 0.9])
        assert math.isnan(ordered[2]) and ordered[3] is None


def test_match_finds_names_ids_status_and_hyperparameter_values(store, grid):
    # (not a bare "e2": a run id, hexadecimal, may contain it)
    assert [row["name"] for row in leaderboard(store, match="LR0.005").rows] == ["lr0.005-e2", "lr0.005-e1"]
    assert [row["name"] for row in leaderboard(store, match="fail").rows] == ["raises"]
    assert [row["name"] for row in leaderboard(store, match=grid.runs["raises"].run_id[:8]).rows] == ["raises"]
    assert leaderboard(store, match="no such thing").rows == []


def test_a_user_hyperparameter_and_a_run_in_progress(grid, tmp_path):
    path = tmp_path / "store"
    shutil.copytree(grid.store, path)
    with Tracker(path) as tracker:
        live = tracker.start_run(name="live", planned_epochs=5)
        live.log_hyperparameters({"filters": 8, "learning_rate": 0.1})
        live.log_epoch(1, {"loss": 0.9, "accuracy": 0.4})
        live.log_epoch(2, {"loss": 0.7, "accuracy": 0.5})
        tracker.flush()
    result = leaderboard(str(path), sort="hp.filters")  # the writer closed, the run never ended
    assert "hp.filters" in result.columns
    first = result.rows[0]
    assert {k: first[k] for k in ("name", "status", "epochs", "ended", "hp.filters", "hp.learning_rate")} == {
        "name": "live", "status": "unfinished", "epochs": 2, "ended": None, "hp.filters": 8,
        "hp.learning_rate": 0.1}
    assert [row["hp.filters"] for row in result.rows[1:]] == [None] * len(ORDER)


def test_cli_prints_the_leaderboard(grid, capsys):
    assert main(["leaderboard", "--store", str(grid.store), "--sort", "test_accuracy", "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in printed] == [row["name"] for row in leaderboard(grid.store, "test_accuracy")]
    assert main(["leaderboard", "--store", str(grid.store), "--sort", "bogus"]) == 2
    assert "cannot sort the leaderboard" in capsys.readouterr().err


def _two_searches(path):
    """Two grid searches of two runs each, beside the runs already in the store; their trial names by search."""
    searches = [("first-grid", "first-grid", (0.1, 0.2)), ("second grid", "second grid", (0.3, 0.4))]
    record_searches(path, searches)
    return {name: [f"{prefix}-{trial}" for trial in range(len(rates))] for name, prefix, rates in searches}


def test_filtered_by_a_search_its_trials_only_with_their_sampled_values(grid, tmp_path, capsys):
    path = tmp_path / "store"
    shutil.copytree(grid.store, path)
    trials = _two_searches(path)
    every = leaderboard(str(path))
    assert len(every.rows) == len(ORDER) + 4
    first = leaderboard(str(path), search="first-grid", sort="final_val_loss").rows
    assert [(row["name"], row["hp.learning_rate"], row["final_val_loss"]) for row in first] == [
        ("first-grid-0", 0.1, 0.2), ("first-grid-1", 0.2, 0.4)]
    latest = leaderboard(str(path), search="latest").rows  # the newest search: "second grid"
    assert sorted(row["name"] for row in latest) == sorted(trials["second grid"])
    both = leaderboard(str(path), search="second grid", match="grid-1").rows
    assert [row["name"] for row in both] == ["second grid-1"]
    assert run_query(str(path), "leaderboard", search="first-grid", sort="final_val_loss").rows == first
    assert main(["leaderboard", "--store", str(path), "--search", "first-grid", "--format", "json"]) == 0
    assert [row["name"] for row in json.loads(capsys.readouterr().out)] == ["first-grid-1", "first-grid-0"]
    assert main(["leaderboard", "--store", str(path), "--search", "no-such-search"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no search 'no-such-search'" in error


def test_cli_columns_picks_and_orders_columns_and_refuses_unknown_ones(grid, capsys):
    chosen = "name,hp.learning_rate,test_accuracy"
    assert main(["leaderboard", "--store", str(grid.store), "--sort", "test_accuracy", "--columns", chosen,
                 "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = leaderboard(grid.store, "test_accuracy").rows
    assert printed == [{c: row[c] for c in chosen.split(",")} for row in expected]
    assert list(printed[0]) == chosen.split(",")
    assert main(["leaderboard", "--store", str(grid.store), "--columns", "name,nope"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no column 'nope'" in error
