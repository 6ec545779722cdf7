"""Ingest throughput: events/s and quads/s through the asynchronous writer versus raw pyoxigraph loading.

    python bench/ingest.py            # 20 runs × 500 epochs, 5 interleaved pairs, Markdown table
    python bench/ingest.py --quick --json

A (raw): the same quads, mapped beforehand, written with `Store.extend` in batches of the same size.
B (writer): the events submitted to `AsyncWriter` (mapping happens on its thread), timed until flushed.
Pairs run interleaved (A B A B …) on fresh on-disk stores; the table gives medians and min–max.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pyoxigraph import Store

from cnnprov_rdf.capture.events import EpochEnded, Event, HyperparametersRecorded, RunEnded, RunStarted, RunSummary
from cnnprov_rdf.capture.tracker import local_agents
from cnnprov_rdf.graph.mapping import to_quads
from cnnprov_rdf.storage.writer import AsyncWriter, StoreSink


def make_events(runs: int, epochs: int) -> list[Event]:
    agents, at = local_agents(), datetime(2026, 1, 1, tzinfo=UTC)
    events: list[Event] = []
    for index in range(runs):
        run_id = f"00000000-0000-4000-8000-{index:012d}"
        events.append(RunStarted(run_id, at, agents, f"run-{index}", epochs))
        events.append(HyperparametersRecorded(run_id, {"learning_rate": 0.001, "epochs": epochs, "batch_size": 32}))
        for epoch in range(1, epochs + 1):
            metrics = {"loss": 1 / epoch, "accuracy": 1 - 1 / (epoch + 1), "val_loss": 1.1 / epoch,
                       "val_accuracy": 1 - 1.1 / (epoch + 1)}
            events.append(EpochEnded(run_id, epoch, metrics, 0.5, at, 0.001))
        events.append(RunEnded(run_id, at, "finished", RunSummary(epochs, 1.0)))
    return events


def raw(path: Path, events: list[Event], batch: int) -> tuple[float, int]:
    quads = [quad for event in events for quad in to_quads(event)]
    store = Store(str(path))
    started = time.perf_counter()
    for offset in range(0, len(quads), batch):
        store.extend(quads[offset:offset + batch])
    store.flush()
    return time.perf_counter() - started, len(quads)


def through_writer(path: Path, events: list[Event], batch: int) -> tuple[float, int]:
    writer = AsyncWriter(StoreSink(Store(str(path))), max_batch=batch, max_pending=len(events) + 1)
    started = time.perf_counter()
    for event in events:
        writer.submit(event)
    writer.flush()
    writer.close()
    return time.perf_counter() - started, writer.stats.quads_written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=2000, help="events per writer batch (raw: same quads)")
    parser.add_argument("--quick", action="store_true", help="10 runs × 100 epochs, 3 pairs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.epochs, args.pairs = 10, 100, 3
    events = make_events(args.runs, args.epochs)
    quads_per_event = len([q for e in events for q in to_quads(e)]) / len(events)
    workdir = Path(tempfile.mkdtemp(prefix="cnnprov-ingest-"))
    seconds: dict[str, list[float]] = {"raw": [], "writer": []}
    quads = 0
    try:
        for pair in range(args.pairs):
            for name, load in (("raw", raw), ("writer", through_writer)):
                elapsed, quads = load(workdir / f"{name}-{pair}", events,
                                      int(args.batch * quads_per_event) if name == "raw" else args.batch)
                seconds[name].append(elapsed)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    median = {name: statistics.median(values) for name, values in seconds.items()}
    result = {
        "events": len(events), "quads": quads, "pairs": args.pairs,
        "raw": {"median_s": round(median["raw"], 3), "quads_per_s": round(quads / median["raw"]),
                "min_s": round(min(seconds["raw"]), 3), "max_s": round(max(seconds["raw"]), 3)},
        "writer": {"median_s": round(median["writer"], 3), "quads_per_s": round(quads / median["writer"]),
                   "events_per_s": round(len(events) / median["writer"]),
                   "min_s": round(min(seconds["writer"]), 3), "max_s": round(max(seconds["writer"]), 3)},
        "writer_vs_raw": round(median["raw"] / median["writer"], 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{len(events)} events = {quads} quads, {args.pairs} interleaved pairs, on-disk stores\n")
    print("| path | median s | min–max s | quads/s | events/s |")
    print("|---|---:|---:|---:|---:|")
    for name in ("raw", "writer"):
        r = result[name]
        print(f"| {name} | {r['median_s']} | {r['min_s']}–{r['max_s']} | {r['quads_per_s']} | "
              f"{round(len(events) / median[name])} |")
    print(f"\nwriter throughput = {result['writer_vs_raw']:.0%} of raw pyoxigraph loading (mapping included)")


if __name__ == "__main__":
    main()
