"""Flood: `Run.log_epoch` called in a tight loop through the public Tracker API, into an on-disk store.

    python bench/flood.py                  # 3 floods of 8 s each, Markdown table
    python bench/flood.py --seconds 4 --floods 2 --json

Each flood is a fresh store and a fresh Tracker (default settings: linger 1 s, queue of 10,000 events and
0.5 s). Reported per flood and as medians: epoch events per second sustained (submitted and written:
the queue is bounded, so submits cannot run ahead for long), the longest a `log_epoch` waited for room,
the queue's time bound as measured (longest from a submit to its batch being on disk), the CPU per epoch record
(all threads of the process, and the writer thread alone: figures that do not depend on how busy the machine
is), the process's peak resident memory growth, and the store's size per epoch record after `close()`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.storage.store import store_size

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def flood(path: Path, seconds: float) -> dict[str, float]:
    rss_before = peak_rss_mb()
    cpu_before = time.process_time()
    tracker = Tracker(path)
    run = tracker.start_run(planned_epochs=None)
    started = time.perf_counter()
    epoch = 0
    while time.perf_counter() - started < seconds:
        epoch += 1
        run.log_epoch(epoch, {m: 1.0 / (epoch + i) for i, m in enumerate(METRICS)}, elapsed_seconds=0.001,
                      learning_rate=0.01)
    submitted = time.perf_counter() - started
    run.end()
    tracker.flush()
    written = time.perf_counter() - started
    stats = tracker.writer.stats
    tracker.close()
    cpu = time.process_time() - cpu_before
    return {
        "epochs": epoch,
        "submit_per_s": epoch / submitted,
        "written_per_s": epoch / written,
        "max_submit_wait_s": stats.max_wait_seconds,
        "max_latency_s": stats.max_latency_seconds,
        "batches": stats.batches,
        "cpu_us_per_epoch": cpu / epoch * 1e6,  # every thread: the flooding loop, the writer, RocksDB's
        "writer_cpu_us_per_epoch": stats.cpu_seconds / epoch * 1e6,
        "peak_rss_growth_mb": peak_rss_mb() - rss_before,
        "bytes_per_epoch": store_size(path) / epoch,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--floods", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cnnprov-flood-"))
    results = []
    try:
        for index in range(args.floods):
            results.append(flood(workdir / f"store-{index}", args.seconds))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    median = {key: statistics.median(r[key] for r in results) for key in results[0]}
    if args.json:
        print(json.dumps({"floods": results, "median": median}, indent=2))
        return
    print(f"{args.floods} floods of {args.seconds:g} s, {os.cpu_count()} CPUs ({platform.machine()}), load average "
          f"{os.getloadavg()[0]:.1f}, Python {platform.python_version()}\n")
    print("| flood | epochs | events/s submitted | events/s written | longest submit wait s | longest submit → disk s "
          "| batches | CPU µs per epoch (all threads) | writer CPU µs per epoch | peak RSS growth MB "
          "| bytes per epoch record |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in [*((str(i + 1), r) for i, r in enumerate(results)), ("median", median)]:
        print(f"| {name} | {r['epochs']:.0f} | {r['submit_per_s']:.0f} | {r['written_per_s']:.0f} | "
              f"{r['max_submit_wait_s']:.3f} | {r['max_latency_s']:.3f} | {r['batches']:.0f} | "
              f"{r['cpu_us_per_epoch']:.0f} | {r['writer_cpu_us_per_epoch']:.0f} | "
              f"{r['peak_rss_growth_mb']:.0f} | {r['bytes_per_epoch']:.0f} |")


if __name__ == "__main__":
    main()
