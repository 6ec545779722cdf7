"""examples/grid_search.py --quick: Table 1 is the store's training-time-by-config, Table 2 covers every cell."""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path

import numpy as np

from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.storage.store import open_for_reading

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "grid_search.py"


def load_example():
    spec = importlib.util.spec_from_file_location("grid_search_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_grid_search(tmp_path, capsys):
    example = load_example()
    store = tmp_path / "grid"
    result = example.main(["--quick", "--store", str(store), "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert printed["table1"] == result["table1"]

    cells = {(epochs, float(np.float32(rate)))
             for epochs, rate in itertools.product(example.QUICK_GRID["epochs"], example.QUICK_GRID["learning_rates"])}
    repeats = example.QUICK_GRID["repeats"]
    snapshot = open_for_reading(store)

    # Table 1 is exactly the canned query's rows on the store, one row per cell with k runs each.
    assert result["table1"] == run_query(snapshot, "training-time-by-config").rows
    assert {(row["epochs"], row["learning_rate"]) for row in result["table1"]} == cells
    assert all(row["runs"] == repeats and row["mean_seconds"] > 0 for row in result["table1"])

    # Table 2: one row per cell, with k timings on each side and an overhead percentage.
    assert {(row["epochs"], row["learning_rate"]) for row in result["table2"]} == cells
    for row in result["table2"]:
        assert row["runs"] == repeats
        assert row["uncaptured_fit_seconds"] > 0 and row["captured_fit_seconds"] > 0
        expected = 100 * (row["captured_fit_seconds"] - row["uncaptured_fit_seconds"]) / row["uncaptured_fit_seconds"]
        assert abs(row["overhead_percent"] - expected) < 1e-9
        assert row["store_mean_seconds"] is not None
        assert 0 < row["direct_cost_percent"] < 100  # hooks plus writer CPU, a share of the captured fit

    # The store holds exactly cells × k runs, all finished (the uncaptured trainings left nothing in it).
    runs = run_query(snapshot, "runs").rows
    assert len(runs) == len(cells) * repeats
    assert {row["status"] for row in runs} == {"finished"}
    # Every captured run is a trial of the grid's search, with its epochs and learning rate as sampled values.
    trials = run_query(snapshot, "search-trials", search="alexnet-grid")
    assert trials.columns == ["trial_id", "run_id", "epochs", "learning_rate", "objective", "status"]
    assert {(row["epochs"], row["learning_rate"]) for row in trials} == cells
    assert {row["status"] for row in trials} == {"completed"} and len(trials) == len(cells) * repeats
    markdown = example.markdown(result["table1"], result["table2"])
    assert markdown.count("\n| ") == 2 * len(cells) + 2 and "overhead %" in markdown and "direct cost %" in markdown
