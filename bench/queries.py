"""Canned-query latency on a store of N runs × M epochs built through the real capture API and writer.

    python bench/queries.py                 # 1,000 runs × 100 epochs, Markdown table
    python bench/queries.py --quick --json  # 100 × 20, one JSON object

Each query runs `--repeat` times on a fresh read-only handle; the table gives median and spread (min–max).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from cnnprov_rdf.events import LayerInfo
from cnnprov_rdf.queries import load_queries, run_query
from cnnprov_rdf.store import open_for_reading
from cnnprov_rdf.tracker import Tracker, local_agents

LAYERS = [
    LayerInfo(1, "conv1", "Conv2D", 34_944, filters=96, kernel_size=(11, 11), strides=(4, 4), activation="relu"),
    LayerInfo(2, "pool1", "MaxPooling2D", 0, kernel_size=(3, 3), strides=(2, 2)),
    LayerInfo(3, "flatten", "Flatten"),
    LayerInfo(4, "dropout6", "Dropout", dropout_rate=0.5),
    LayerInfo(5, "fc6", "Dense", 37_752_832, units=4096, activation="relu"),
    LayerInfo(6, "fc8", "Dense", 69_649, units=17, activation="softmax"),
]


def build_store(path: Path, runs: int, epochs: int, seed: int = 0) -> dict[str, float]:
    """Capture `runs` synthetic trainings of `epochs` epochs each, like a grid search would."""
    rng = random.Random(seed)
    agents = local_agents(framework_name="TensorFlow", framework_version="2.21.0", keras_version="3")
    started = time.perf_counter()
    events = 0
    with Tracker(path, max_pending=50_000) as tracker:
        for index in range(runs):
            rate = rng.choice([0.0005, 0.001, 0.002])
            planned = rng.choice([epochs, epochs, epochs // 2 or 1])
            run = tracker.start_run(name=f"grid-{index}", planned_epochs=planned, agents=agents)
            run.log_hyperparameters(learning_rate=rate, epochs=planned, batch_size=32, optimizer="SGD")
            run.log_dataset("oxford-flowers-17", location="/data/flowers17", train_fraction=0.8,
                            train_examples=1088, test_examples=272)
            run.log_schedule("step-decay", initial_rate=rate, factor=0.5, every=max(1, planned // 3))
            run.log_architecture("alexnet", 58_000_000, LAYERS)
            events += 5
            loss = 3.0
            for epoch in range(1, planned + 1):
                loss *= 0.97 + rng.random() * 0.02
                current = rate * 0.5 ** ((epoch - 1) // max(1, planned // 3))
                run.log_epoch(epoch, {"loss": loss, "accuracy": 1 - loss / 3, "val_loss": loss * 1.1,
                                      "val_accuracy": 1 - loss / 2.8},
                              elapsed_seconds=1 + rng.random(), learning_rate=current)
                events += 1
            if index % 100 == 99:
                continue  # about 1% of runs never end (killed), as running-now and failed-runs must see
            if index % 50 == 7:
                run.fail(RuntimeError("out of memory"))
            run.end()
            run.log_test({"loss": loss * 1.2, "accuracy": 1 - loss / 2.5})
            events += 2
        tracker.flush()
    seconds = time.perf_counter() - started
    return {"build_seconds": seconds, "events": events}


def store_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="100 runs × 20 epochs, 5 repeats")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--keep", type=Path, help="build the store here and keep it")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.epochs, args.repeat = 100, 20, 5
    workdir = Path(tempfile.mkdtemp(prefix="cnnprov-bench-"))
    path = args.keep or workdir / "store"
    try:
        built = build_store(path, args.runs, args.epochs)
        size = store_bytes(path)
        epoch_records = sum(1 for _ in open_for_reading(path).query(
            "SELECT ?e WHERE { GRAPH ?g { ?e a <https://w3id.org/cnnprov/ontology#EpochResult> } }"))
        latencies: dict[str, list[float]] = {}
        for name in load_queries():
            store = open_for_reading(path)
            run_query(store, name)  # warm-up
            samples = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                run_query(store, name)
                samples.append((time.perf_counter() - started) * 1000)
            latencies[name] = samples
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "runs": args.runs, "epochs_per_run": args.epochs, "epoch_records": epoch_records,
        "build_seconds": round(built["build_seconds"], 2),
        "events_per_second": round(built["events"] / built["build_seconds"]),
        "store_bytes": size, "bytes_per_epoch_record": round(size / max(epoch_records, 1)),
        "query_ms": {n: {"median": round(statistics.median(s), 2), "min": round(min(s), 2),
                         "max": round(max(s), 2)} for n, s in latencies.items()},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"Store: {args.runs} runs × {args.epochs} epochs = {epoch_records} epoch records, built in "
          f"{result['build_seconds']} s ({result['events_per_second']} events/s through the writer), "
          f"{size / 1e6:.1f} MB on disk ({result['bytes_per_epoch_record']} bytes per epoch record)\n")
    print("| query | median ms | min–max ms |")
    print("|---|---:|---:|")
    for name, stats in result["query_ms"].items():
        flag = "" if stats["median"] <= 100 else " ⚠"
        print(f"| `{name}` | {stats['median']:.1f}{flag} | {stats['min']:.1f}–{stats['max']:.1f} |")


if __name__ == "__main__":
    main()
