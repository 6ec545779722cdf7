"""Ingest throughput: events/s and quads/s through the asynchronous writer versus pyoxigraph's raw loading paths.

    python bench/ingest.py            # 20 runs × 500 epochs, 5 interleaved rounds, Markdown table
    python bench/ingest.py --quick --json

Raw paths get the same quads, mapped (and, for the text paths, serialized as N-Quads) beforehand, untimed, in
chunks of `--chunk` quads: `extend` (one transaction per chunk), `load` (N-Quads text, one transaction per
chunk), `bulk_extend` and `bulk_load` (the bulk loader). The writer gets the events (mapping on its thread)
through `AsyncWriter.submit` with its default settings, timed until flushed. Each round runs every path on a
fresh on-disk store, in a rotating order; the table gives medians and min–max, and the writer as a share of the
fastest raw path.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pyoxigraph import RdfFormat, Store, serialize

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


def raw(method: str, path: Path, quads: list, chunk: int) -> float:
    """Seconds for `Store.<method>` over the quads (as objects, or as N-Quads text for load/bulk_load)."""
    chunks = [quads[offset:offset + chunk] for offset in range(0, len(quads), chunk)]
    if method in ("load", "bulk_load"):
        texts = []
        for part in chunks:
            buffer = io.BytesIO()
            serialize(part, buffer, RdfFormat.N_QUADS)
            texts.append(buffer.getvalue())
    store = Store(str(path))
    started = time.perf_counter()
    for index, part in enumerate(chunks):
        if method in ("load", "bulk_load"):
            getattr(store, method)(texts[index], format=RdfFormat.N_QUADS)
        else:
            getattr(store, method)(part)
    store.flush()
    return time.perf_counter() - started


def through_writer(path: Path, events: list[Event]) -> tuple[float, int]:
    writer = AsyncWriter(StoreSink(Store(str(path))))
    started = time.perf_counter()
    for event in events:
        writer.submit(event)
    writer.flush()
    elapsed = time.perf_counter() - started
    writer.close()
    return elapsed, writer.stats.quads_written


PATHS = ("writer", "extend", "load", "bulk_extend", "bulk_load")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=20_000, help="quads per raw call")
    parser.add_argument("--quick", action="store_true", help="10 runs × 200 epochs, 3 rounds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.epochs, args.rounds = 10, 200, 3
    events = make_events(args.runs, args.epochs)
    quads = [quad for event in events for quad in to_quads(event)]
    workdir = Path(tempfile.mkdtemp(prefix="cnnprov-ingest-"))
    seconds: dict[str, list[float]] = {name: [] for name in PATHS}
    try:
        for round_ in range(args.rounds):
            for name in PATHS[round_ % len(PATHS):] + PATHS[:round_ % len(PATHS)]:
                target = workdir / f"{name}-{round_}"
                if name == "writer":
                    elapsed, written = through_writer(target, events)
                    assert written == len(quads), (written, len(quads))
                else:
                    elapsed = raw(name, target, quads, args.chunk)
                seconds[name].append(elapsed)
                shutil.rmtree(target, ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    median = {name: statistics.median(values) for name, values in seconds.items()}
    fastest = min((name for name in PATHS if name != "writer"), key=median.__getitem__)
    result = {
        "events": len(events), "quads": len(quads), "rounds": args.rounds, "chunk": args.chunk,
        "machine": f"{os.cpu_count()} CPUs ({platform.machine()}), load average {os.getloadavg()[0]:.1f}",
        "paths": {name: {"median_s": round(median[name], 3), "min_s": round(min(seconds[name]), 3),
                         "max_s": round(max(seconds[name]), 3), "quads_per_s": round(len(quads) / median[name]),
                         "events_per_s": round(len(events) / median[name])} for name in PATHS},
        "fastest_raw": fastest,
        "writer_vs_fastest_raw": round(median[fastest] / median["writer"], 3),
        "writer_vs_bulk_extend": round(median["bulk_extend"] / median["writer"], 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{len(events)} events = {len(quads)} quads, {args.rounds} interleaved rounds, on-disk stores, "
          f"{result['machine']}\n")
    print("| path | median s | min–max s | quads/s | events/s |")
    print("|---|---:|---:|---:|---:|")
    for name in PATHS:
        r = result["paths"][name]
        print(f"| {name} | {r['median_s']} | {r['min_s']}–{r['max_s']} | {r['quads_per_s']} | {r['events_per_s']} |")
    print(f"\nwriter = {result['writer_vs_fastest_raw']:.0%} of the fastest raw path ({fastest}), "
          f"{result['writer_vs_bulk_extend']:.0%} of bulk_extend (mapping included in the writer only)")


if __name__ == "__main__":
    main()
