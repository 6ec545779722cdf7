"""The reference experiment: AlexNet over a grid of epochs × learning rates, with and without capture.

    python examples/grid_search.py                    # CPU-sized: epochs {2, 4, 8} × lr {0.0005, 0.001, 0.002}, k=2
    python examples/grid_search.py --quick            # epochs {1, 2} × lr {0.001, 0.002}, k=1 (tests, CI)
    python examples/grid_search.py --paper --data /path/to/flowers17/jpg   # epochs {20, 50, 100}, k=5, 224×224
    python examples/grid_search.py --store grid-provenance --json

For each repetition and each (epochs, learning rate) cell the same AlexNet is trained twice, once without
capture and once with a `ProvenanceCallback`, alternating which of the two goes first. Every captured run goes
into one store, each as a trial of one hyperparameter search (`tracker.search(...)`, a `cnn:HyperparameterSearch`
whose trials `cnnprov query search-trials` lists best first). Then:

* Table 1 (the paper's Table 1): mean, min and max training time per cell, read from the store by the
  `training-time-by-config` canned query (the runs' `cnn:totalTrainingSeconds`).
* Table 2: capture overhead per cell. Both sides are the wall-clock time of `model.fit` measured by this script
  (like for like); the uncaptured times exist only in memory, since a run without capture is not in the store.
  The store's mean `totalTrainingSeconds` of the captured runs is shown beside them, and the direct cost of
  capture: seconds inside the callback's hooks during `fit` (`ProvenanceCallback.hook_seconds`) plus the
  writer thread's CPU seconds for the run (its testing record included), as a share of the captured `fit`.
  On short CPU fits the wall-clock difference is mostly noise; the direct cost is not.

Data and model building, compilation and `evaluate` are outside the timed region; only `fit` is timed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from cnnprov_rdf.capture.registry import TRACKERS
from cnnprov_rdf.capture.schedules import StepDecay
from cnnprov_rdf.demo.alexnet import build_alexnet
from cnnprov_rdf.demo.datasets import ImageDataset, load_dataset
from cnnprov_rdf.keras import ProvenanceCallback
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.storage.destination import destination_from
from cnnprov_rdf.storage.store import open_for_reading

CPU_GRID = {"epochs": [2, 4, 8], "learning_rates": [0.0005, 0.001, 0.002], "repeats": 2}
QUICK_GRID = {"epochs": [1, 2], "learning_rates": [0.001, 0.002], "repeats": 1}
PAPER_GRID = {"epochs": [20, 50, 100], "learning_rates": [0.0005, 0.001, 0.002], "repeats": 5}


def cell_key(epochs: int, learning_rate: float) -> tuple[int, float]:
    """A cell as the store knows it: the optimizer (and so the capture) holds the rate as float32."""
    return int(epochs), float(np.float32(learning_rate))


def train_once(
    data: ImageDataset, args: argparse.Namespace, epochs: int, learning_rate: float, seed: int,
    store: Path | None, run_name: str, search: Any = None,
) -> tuple[float, str | None, float | None]:
    """Build, compile and train one AlexNet; return the wall-clock seconds of `fit`, and, if captured, the run id
    and the direct cost of capture in seconds (hooks during `fit` plus the writer's CPU)."""
    keras.utils.set_random_seed(seed)
    size = data.x_train.shape[1]
    model = build_alexnet((size, size, 3), data.num_classes, width=args.width)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    schedule = keras.callbacks.LearningRateScheduler(StepDecay(learning_rate, args.decay_factor, args.decay_every))
    capture = None
    if store is not None:
        # One trial of the grid's search: its sampled values are the run's epochs and learning rate.
        capture = ProvenanceCallback(store, run_name=run_name, dataset={
            "name": data.name, "location": data.location, "train_fraction": data.train_fraction,
            "train_examples": len(data.x_train), "test_examples": len(data.x_test),
        }, search=search, trial_id=run_name if search is not None else None)
    callbacks: list[keras.callbacks.Callback] = [schedule] + ([capture] if capture is not None else [])
    writer_cpu = capture.tracker.writer.stats.cpu_seconds if capture is not None else 0.0  # shared: count the delta
    try:
        started = time.perf_counter()
        model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=args.batch_size, callbacks=callbacks,
                  verbose=0)
        seconds = time.perf_counter() - started
        hook_seconds = sum(capture.hook_seconds.values()) if capture is not None else 0.0
        model.evaluate(data.x_test, data.y_test, batch_size=args.batch_size, callbacks=callbacks, verbose=0)
    finally:
        if capture is not None:
            capture.close()
    if capture is None or capture.run is None:
        return seconds, None, None
    return seconds, capture.run.run_id, hook_seconds + capture.tracker.writer.stats.cpu_seconds - writer_cpu


def run_grid(args: argparse.Namespace, store: Path, log: Any = None) -> dict[tuple[int, float], dict[str, list]]:
    """Train every cell `repeats` times with and without capture, interleaved; the fit() seconds per cell."""
    data = load_dataset(args.data, args.input_size, args.split, args.seed)
    timings: dict[tuple[int, float], dict[str, list]] = {}
    order = 0
    tracker = TRACKERS.acquire(destination_from(store))  # the callbacks share it (one writer per store and process)
    space = {"epochs": list(args.epochs), "learning_rate": list(args.learning_rates)}
    with tracker.search("alexnet-grid", space=space, objective="accuracy", direction="maximize") as search:
        _grid(args, data, store, search, timings, order, log)
    TRACKERS.release(tracker)
    return timings


def _grid(args: argparse.Namespace, data: ImageDataset, store: Path, search: Any,
          timings: dict[tuple[int, float], dict[str, list]], order: int, log: Any) -> None:
    for repeat in range(args.repeats):
        for epochs in args.epochs:
            for rate in args.learning_rates:
                cell = timings.setdefault(cell_key(epochs, rate), {"uncaptured": [], "captured": [], "run_ids": [],
                                                                      "direct": []})
                seed = args.seed + repeat
                captured_first = order % 2 == 1
                order += 1
                for captured in ([True, False] if captured_first else [False, True]):
                    name = f"grid-e{epochs}-lr{rate:g}-r{repeat + 1}"
                    seconds, run_id, direct = train_once(data, args, epochs, rate, seed, store if captured else None,
                                                         name, search)
                    cell["captured" if captured else "uncaptured"].append(seconds)
                    if run_id is not None and direct is not None:
                        cell["run_ids"].append(run_id)
                        cell["direct"].append(direct / seconds)
                    if log is not None:
                        log(f"{name} {'captured' if captured else 'uncaptured'}: fit {seconds:.2f} s")


def table1(store: Path) -> list[dict[str, Any]]:
    """The paper's Table 1, from the store: the `training-time-by-config` canned query."""
    return run_query(open_for_reading(store), "training-time-by-config").rows


def table2(timings: dict[tuple[int, float], dict[str, list]], table1_rows: list[dict[str, Any]]) -> list[dict]:
    """Capture overhead per cell: mean captured vs mean uncaptured fit() wall time, both measured here."""
    stored = {cell_key(row["epochs"], row["learning_rate"]): row["mean_seconds"] for row in table1_rows}
    rows = []
    for (epochs, rate), cell in sorted(timings.items()):
        uncaptured = statistics.mean(cell["uncaptured"])
        captured = statistics.mean(cell["captured"])
        rows.append({
            "epochs": epochs, "learning_rate": rate, "runs": len(cell["captured"]),
            "uncaptured_fit_seconds": uncaptured, "captured_fit_seconds": captured,
            "overhead_seconds": captured - uncaptured,
            "overhead_percent": 100.0 * (captured - uncaptured) / uncaptured,
            "store_mean_seconds": stored.get((epochs, rate)),
            "direct_cost_percent": 100.0 * statistics.mean(cell["direct"]) if cell["direct"] else None,
        })
    return rows


def markdown(table1_rows: list[dict], table2_rows: list[dict]) -> str:
    lines = ["Table 1: training time per configuration (from the store: `training-time-by-config`)", "",
             "| epochs | learning rate | runs | mean s | min s | max s |", "|---:|---:|---:|---:|---:|---:|"]
    for row in table1_rows:
        lines.append(f"| {row['epochs']} | {row['learning_rate']:.4g} | {row['runs']} | {row['mean_seconds']:.2f} "
                     f"| {row['min_seconds']:.2f} | {row['max_seconds']:.2f} |")
    lines += ["", "Table 2: capture overhead per configuration (mean wall-clock time of `model.fit`, measured by this "
              "script; the uncaptured times are kept in memory only, not in the store)", "",
              "| epochs | learning rate | runs | without capture s | with capture s | overhead s | overhead % "
              "| store mean s | direct cost % |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in table2_rows:
        store_mean = "–" if row["store_mean_seconds"] is None else f"{row['store_mean_seconds']:.2f}"
        direct = "–" if row["direct_cost_percent"] is None else f"{row['direct_cost_percent']:.2f} %"
        lines.append(f"| {row['epochs']} | {row['learning_rate']:.4g} | {row['runs']} "
                     f"| {row['uncaptured_fit_seconds']:.2f} | {row['captured_fit_seconds']:.2f} "
                     f"| {row['overhead_seconds']:+.3f} | {row['overhead_percent']:+.1f} % | {store_mean} "
                     f"| {direct} |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, help="provenance store for the captured runs (default: a fresh temp dir)")
    parser.add_argument("--quick", action="store_true", help="epochs {1, 2} × lr {0.001, 0.002}, k=1")
    parser.add_argument("--paper", action="store_true",
                        help="the paper's grid: epochs {20, 50, 100}, k=5, 224×224 images, width 1.0")
    parser.add_argument("--epochs", type=int, nargs="+", help="epochs of each cell (overrides the preset)")
    parser.add_argument("--learning-rates", type=float, nargs="+", help="initial learning rates (overrides the preset)")
    parser.add_argument("--repeats", "-k", type=int, help="repetitions per cell (overrides the preset)")
    parser.add_argument("--data", help="Oxford Flowers 17 folder (1,360 jpg files); default: generated shapes")
    parser.add_argument("--input-size", type=int, help="image side in pixels (default 64; --paper: 224)")
    parser.add_argument("--width", type=float, help="AlexNet width multiplier (default 0.125; --paper: 1.0)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--split", type=float, default=0.8, help="fraction of images used for training")
    parser.add_argument("--decay-factor", type=float, default=0.5)
    parser.add_argument("--decay-every", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of Markdown")
    args = parser.parse_args(argv)
    if args.quick and args.paper:
        parser.error("--quick and --paper exclude each other")
    preset = PAPER_GRID if args.paper else QUICK_GRID if args.quick else CPU_GRID
    args.epochs = args.epochs or preset["epochs"]
    args.learning_rates = args.learning_rates or preset["learning_rates"]
    args.repeats = args.repeats or preset["repeats"]
    args.input_size = args.input_size or (224 if args.paper else 64)
    args.width = args.width or (1.0 if args.paper else 0.125)
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    store = args.store or Path(tempfile.mkdtemp(prefix="grid-provenance-")) / "store"
    if store.exists() and any(store.iterdir()):
        print(f"note: {store} already holds data; Table 1 covers every finished run in it")
    log = None if args.json else print
    started = time.perf_counter()
    timings = run_grid(args, store, log)
    rows1 = table1(store)
    rows2 = table2(timings, rows1)
    result = {
        "store": str(store), "epochs": args.epochs, "learning_rates": args.learning_rates, "repeats": args.repeats,
        "input_size": args.input_size, "width": args.width, "data": args.data or "synthetic-shapes",
        "wall_seconds": round(time.perf_counter() - started, 2), "table1": rows1, "table2": rows2,
        "note": "Table 2 times are model.fit wall-clock seconds measured by this script; the uncaptured ones are "
                "kept in memory only (a run without capture is not in the store).",
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"\nStore: {store} ({args.repeats} repetition(s) × {len(timings)} cells, "
              f"{args.input_size}×{args.input_size}, width {args.width}, {result['data']}; "
              f"{result['wall_seconds']} s in all)\n")
        print(markdown(rows1, rows2))
    return result


if __name__ == "__main__":
    main()
