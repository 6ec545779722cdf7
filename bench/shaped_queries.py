"""Latency of the queries with a Python shaping step (the leaderboard, config-ranking's `by`, compare-runs'
`runs`, search-trials) and model-lineage, on one store of N runs built as bench/queries.py builds it.

    python bench/shaped_queries.py                 # 1,000 runs × 10 epochs, 7 repeats each
    python bench/shaped_queries.py --runs 200 --epochs 5 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import bulk_build as build_store

from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.storage.store import open_for_reading

CASES = [
    ("leaderboard", {}),
    ("leaderboard", {"sort": "test_accuracy", "search": "latest"}),
    ("config-ranking", {}),
    ("config-ranking", {"by": "optimizer,batch_size"}),
    ("config-ranking", {"metric": "final_val_accuracy", "by": "learning_rate,epochs,batch_size,optimizer,momentum"}),
    ("compare-runs", {}),
    ("compare-runs", {"runs": "latest,previous"}),
    ("search-trials", {}),
    ("model-lineage", {}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--store", type=Path, help="reuse (or build) the store here")
    args = parser.parse_args()
    path = args.store or Path(tempfile.mkdtemp(prefix="shaped-")) / "store"
    if not (path / "CURRENT").exists():
        print(f"building {args.runs} runs × {args.epochs} epochs: {build_store(path, args.runs, args.epochs)}")
    store = open_for_reading(path)
    times: list[list[float]] = [[] for _ in CASES]
    for _ in range(args.repeat):  # interleaved, so that a busy machine slows every case alike
        for samples, (name, params) in zip(times, CASES, strict=True):
            started = time.perf_counter()
            run_query(store, name, **params)
            samples.append(time.perf_counter() - started)
    print("| query | parameters | median ms | min ms |\n|---|---|---:|---:|")
    for samples, (name, params) in zip(times, CASES, strict=True):
        print(f"| {name} | {params or '—'} | {statistics.median(samples) * 1e3:.1f} | {min(samples) * 1e3:.1f} |")


if __name__ == "__main__":
    main()
