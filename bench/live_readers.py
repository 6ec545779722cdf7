"""Readers beside a writing process: failed queries with plain read-only snapshots against `read_consistently`.

    python bench/live_readers.py              # 5 rounds per mode, interleaved (raw, retry, raw, retry, ...)
    python bench/live_readers.py --rounds 3 --readers 6 --runs 3 --epochs 1000

Each round creates a store, starts `--readers` threads that loop a query (the epoch count) until the trainings
end, and runs `--runs` trainings of `--epochs` epochs one after another in a child process (the Tracker API,
no TensorFlow; each writer opened and closed in turn, as `tests/_live_trainings.py` does). Mode `raw` opens
`Store.read_only` per query, as every reader did before; `retry` uses `storage.store.read_consistently`.
The table gives, per mode, the queries run and failed in each round and the median query time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pyoxigraph import Store

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cnnprov_rdf.storage.store import open_for_writing, read_consistently  # noqa: E402

EPOCHS = "PREFIX cnn: <https://w3id.org/cnnprov/ontology#> SELECT (COUNT(?e) AS ?n) WHERE { ?e cnn:epoch ?k }"


def count(store: Store) -> int:
    return int(next(iter(store.query(EPOCHS, use_default_graph_as_union=True)))[0].value)  # type: ignore[index]


def one_round(mode: str, readers: int, runs: int, epochs: int) -> tuple[int, int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store"
        store = open_for_writing(path)
        del store
        stop, failed, times = threading.Event(), [0], []

        def loop() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    if mode == "raw":
                        count(Store.read_only(str(path)))
                    else:
                        read_consistently(path, count)
                    times.append(time.perf_counter() - started)
                except Exception:
                    failed[0] += 1

        threads = [threading.Thread(target=loop) for _ in range(readers)]
        for thread in threads:
            thread.start()
        subprocess.run([sys.executable, str(REPO / "tests" / "_live_trainings.py"), str(path), str(runs),
                        str(epochs)], env={**os.environ, "PYTHONPATH": str(REPO)}, check=True,
                       stdout=subprocess.DEVNULL)
        stop.set()
        for thread in threads:
            thread.join()
        return len(times) + failed[0], failed[0], statistics.median(times) if times else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--readers", type=int, default=6)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1000)
    args = parser.parse_args()
    results: dict[str, list[tuple[int, int, float]]] = {"raw": [], "retry": []}
    for _ in range(args.rounds):
        for mode in results:
            results[mode].append(one_round(mode, args.readers, args.runs, args.epochs))
    print(f"{args.readers} readers beside {args.runs} trainings × {args.epochs} epochs, {args.rounds} rounds\n")
    print("| mode | queries per round | failed per round | rounds with a failure | median query ms |")
    print("|---|---|---|---|---|")
    for mode, rounds in results.items():
        queries = ", ".join(str(q) for q, _, _ in rounds)
        failed = ", ".join(str(f) for _, f, _ in rounds)
        bad = sum(1 for _, f, _ in rounds if f)
        median = statistics.median(t for _, _, t in rounds) * 1000
        print(f"| {mode} | {queries} | {failed} | {bad} of {len(rounds)} | {median:.1f} |")


if __name__ == "__main__":
    main()
