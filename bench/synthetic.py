"""Synthetic grid-search data for the benchmarks, and a fast way to build a big store of it.

`synthetic_runs` is plain data (the same for the provenance store, rdflib and MLflow). `run_events` turns one
run into the capture events the tracker would emit for it (`Run.log_*`, `fail`, `end`, `log_test`), with
deterministic ids and times. `bulk_build` maps those events with `graph.mapping.to_quads` — the very quads the
writer would write, the run index included — and loads them with pyoxigraph's `Store.bulk_extend`, which skips
transactions: a 10,000 × 50 store takes minutes this way, where the writer takes far longer.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cnnprov_rdf.capture.events import (
    Agents,
    ArchitectureRecorded,
    DatasetRecorded,
    EpochEnded,
    Event,
    HyperparametersRecorded,
    LayerInfo,
    LearningRateChanged,
    ModelFileSaved,
    RunEnded,
    RunFailed,
    RunStarted,
    RunSummary,
    ScheduleRecorded,
    SearchEnded,
    SearchStarted,
    TestingDone,
    TrialEnded,
    TrialStarted,
)
from cnnprov_rdf.graph.iris import is_write_once
from cnnprov_rdf.graph.mapping import to_quads
from cnnprov_rdf.storage.store import open_for_writing

LAYERS = [
    LayerInfo(1, "conv1", "Conv2D", 34_944, filters=96, kernel_size=(11, 11), strides=(4, 4), activation="relu"),
    LayerInfo(2, "pool1", "MaxPooling2D", 0, kernel_size=(3, 3), strides=(2, 2)),
    LayerInfo(3, "flatten", "Flatten"),
    LayerInfo(4, "dropout6", "Dropout", dropout_rate=0.5),
    LayerInfo(5, "fc6", "Dense", 37_752_832, units=4096, activation="relu"),
    LayerInfo(6, "fc8", "Dense", 69_649, units=17, activation="softmax"),
]

AGENTS = Agents(software_version="0.1.0", python_version="3.11.2", framework_name="TensorFlow",
                framework_version="2.21.0", keras_version="3", device_kind="CPU", device_name="bench-cpu",
                host_name="bench-host", user_name="bench")

_EPOCH_ZERO = datetime(2026, 1, 1, tzinfo=UTC)

#: The first runs are the trials of one recorded search (for `searches` and `search-trials`).
SEARCH_TRIALS = 10
SEARCH_ID = "00000000-0000-4000-8000-00000000beef"

#: Every run saves a checkpoint file every this many epochs, and a finished run its final model.
CHECKPOINT_EVERY = 10


def synthetic_runs(runs: int, epochs: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """The runs of a grid search, as plain data (the same for the provenance store and for MLflow)."""
    rng = random.Random(seed)
    for index in range(runs):
        rate = rng.choice([0.0005, 0.001, 0.002])
        planned = rng.choice([epochs, epochs, epochs // 2 or 1])
        loss = 3.0
        epoch_rows = []
        for epoch in range(1, planned + 1):
            loss *= 0.97 + rng.random() * 0.02
            current = rate * 0.5 ** ((epoch - 1) // max(1, planned // 3))
            epoch_rows.append({"epoch": epoch, "elapsed_seconds": 1 + rng.random(), "learning_rate": current,
                               "metrics": {"loss": loss, "accuracy": 1 - loss / 3, "val_loss": loss * 1.1,
                                           "val_accuracy": 1 - loss / 2.8}})
        if index % 20 == 11:  # 5% stop early (as early stopping would), for early-stopped
            epoch_rows = epoch_rows[: max(1, planned * 2 // 3)]
        # about 1% of runs never end (killed), as running-now and failed-runs must see; 2% fail
        status = "running" if index % 100 == 99 else "failed" if index % 50 == 7 else "finished"
        yield {"index": index, "rate": rate, "planned": planned, "epochs": epoch_rows, "status": status,
               "test": {"loss": loss * 1.2, "accuracy": 1 - loss / 2.5}}


def _model_saved(run_id: str, index: int, file_name: str, at: datetime, epoch: int | None) -> ModelFileSaved:
    digest = hashlib.sha256(f"{run_id}/{file_name}/{epoch}".encode()).hexdigest()
    return ModelFileSaved(run_id, f"/models/grid-{index}/{file_name}", 233_000_000, digest, at, epoch)


def run_events(data: dict[str, Any], seed: int = 0) -> list[Event]:
    """The events a tracker emits for one synthetic run, with a deterministic id and clock."""
    run_id = str(uuid.UUID(int=random.Random(f"{seed}/{data['index']}").getrandbits(128), version=4))
    clock = _EPOCH_ZERO + timedelta(hours=data["index"])
    rate, planned = data["rate"], data["planned"]
    events: list[Event] = [
        RunStarted(run_id, clock, AGENTS, name=f"grid-{data['index']}", planned_epochs=planned),
        HyperparametersRecorded(run_id, {"learning_rate": rate, "epochs": planned, "batch_size": 32,
                                         "optimizer": "SGD"}),
        DatasetRecorded(run_id, "oxford-flowers-17", "/data/flowers17", 0.8, 1088, 272),
        ScheduleRecorded(run_id, "step-decay", rate, 0.5, max(1, planned // 3)),
        ArchitectureRecorded(run_id, "alexnet", 58_000_000, tuple(LAYERS)),
    ]
    trial = data["index"] < SEARCH_TRIALS
    if data["index"] == 0:
        events.insert(0, SearchStarted(SEARCH_ID, clock, "synthetic-grid", "grid", "val_accuracy", "maximize",
                                       {"learning_rate": '{"values": [0.0005, 0.001, 0.002]}'}))
    if trial:
        events.append(TrialStarted(run_id, SEARCH_ID, str(data["index"]), {"learning_rate": ""}))
    previous, adaptations, total = None, 0, 0.0
    final: dict[str, float] = {}
    best: dict[str, float] = {}
    for row in data["epochs"]:
        clock += timedelta(seconds=row["elapsed_seconds"])
        total += row["elapsed_seconds"]
        if previous is not None and previous != row["learning_rate"]:
            adaptations += 1
            events.append(LearningRateChanged(run_id, adaptations, row["epoch"] - 1, previous, row["learning_rate"],
                                              clock, True))
        previous = row["learning_rate"]
        events.append(EpochEnded(run_id, row["epoch"], row["metrics"], row["elapsed_seconds"], clock,
                                 row["learning_rate"]))
        if row["epoch"] % CHECKPOINT_EVERY == 0:  # one checkpoint file, saved again and again (for model-lineage)
            events.append(_model_saved(run_id, data["index"], "best.keras", clock, row["epoch"]))
        final = row["metrics"]
        for name, value in final.items():
            better = max if "accuracy" in name else min
            best[name] = better(best.get(name, value), value)
    if data["status"] == "running":
        return events
    if data["status"] == "failed":
        events.append(RunFailed(run_id, "RuntimeError", "out of memory", clock))
    clock += timedelta(seconds=1)
    summary = RunSummary(len(data["epochs"]), total, dict(final), dict(best),
                         tuple(row["elapsed_seconds"] for row in data["epochs"]))
    if data["status"] == "finished":
        events.append(_model_saved(run_id, data["index"], "final.keras", clock, None))
    events.append(RunEnded(run_id, clock, data["status"], summary))
    events.append(TestingDone(run_id, 1, data["test"], clock, clock + timedelta(seconds=2), 272, True))
    if trial:
        status = "completed" if data["status"] == "finished" else "failed"
        events.append(TrialEnded(run_id, SEARCH_ID, status, final.get("val_accuracy")))
        if data["index"] == SEARCH_TRIALS - 1:
            events.append(SearchEnded(SEARCH_ID, clock))
    return events


def bulk_build(path: Path, runs: int, epochs: int, seed: int = 0) -> dict[str, float]:
    """Build a store of `runs` synthetic runs from the mapping's quads with `Store.bulk_extend`."""
    started = time.perf_counter()
    counts = {"events": 0, "quads": 0}

    def quads() -> Iterator[Any]:
        written_once: set[Any] = set()  # shared nodes' graphs: written once, as the writer's StoreSink does
        for data in synthetic_runs(runs, epochs, seed):
            for event in run_events(data, seed):
                counts["events"] += 1
                for quad in to_quads(event):
                    if is_write_once(quad.graph_name):
                        if quad in written_once:
                            continue
                        written_once.add(quad)
                    counts["quads"] += 1
                    yield quad

    store = open_for_writing(path)
    store.bulk_extend(quads())
    store.flush()
    store.optimize()
    del store
    return {"build_seconds": time.perf_counter() - started, **counts}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="build a synthetic store with bulk loading")
    parser.add_argument("path", type=Path)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=100)
    arguments = parser.parse_args()
    print(bulk_build(arguments.path, arguments.runs, arguments.epochs))
