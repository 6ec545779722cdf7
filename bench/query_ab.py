"""A/B: the canned queries of another git revision (A) against the working tree's (B), and the run scan (A)
against the run index (B), on the same store, in interleaved pairs; medians in a printed table.

    python bench/query_ab.py STORE --rev 71274a9 [--repeat 5] [QUERY ...]

Both texts run through `run_query` on one read-only handle each, after a warm-up; rows are checked equal.
Resolution: `_find(store, list_runs(store), ref)` (A, the scan every store used before the index) against
`find_run` (B). A query slower than `--skip-slow` seconds at its warm-up is timed once.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.query.library import load_queries
from cnnprov_rdf.query.runs import _find, find_run, list_runs
from cnnprov_rdf.storage.store import open_for_reading

ROOT = Path(__file__).resolve().parent.parent


def queries_at(rev: str, directory: Path) -> Path:
    """The `queries/*.rq` files of git revision `rev`, written into `directory`."""
    names = subprocess.run(["git", "ls-tree", "--name-only", rev, "queries/"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    for name in names:
        text = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True, capture_output=True).stdout
        (directory / Path(name).name).write_bytes(text)
    return directory


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", type=Path)
    parser.add_argument("queries", nargs="*", help="default: every canned query")
    parser.add_argument("--rev", default="71274a9", help="the revision whose queries are A")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-slow", type=float, default=10.0)
    args = parser.parse_args()
    old = queries_at(args.rev, Path(tempfile.mkdtemp(prefix="cnnprov-ab-")))
    pairs: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {}
    latest = find_run(open_for_reading(args.store), "latest")
    for label, ref in (("latest", "latest"), ("uuid", latest.id), ("prefix", latest.id[:8])):
        a, b = open_for_reading(args.store), open_for_reading(args.store)
        pairs[f"resolve {label}"] = (lambda a=a, ref=ref: _find(a, list_runs(a), ref),
                                     lambda b=b, ref=ref: find_run(b, ref))
    for name in args.queries or [n for n in load_queries() if (old / f"{n}.rq").exists()]:
        a, b = open_for_reading(args.store), open_for_reading(args.store)
        pairs[name] = (lambda a=a, name=name: run_query(a, name, queries_dir=old).rows,
                       lambda b=b, name=name: run_query(b, name).rows)
    samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in pairs}
    equal: dict[str, str] = {}
    slow = set()
    for name, (a, b) in pairs.items():  # warm-up, and the rows compared
        started = time.perf_counter()
        rows_a, rows_b = a(), b()
        equal[name] = "" if name.startswith("resolve") else ("same" if repr(rows_a) == repr(rows_b) else (
            "same set" if sorted(map(repr, rows_a)) == sorted(map(repr, rows_b)) else "DIFFER"))
        if time.perf_counter() - started > args.skip_slow:
            slow.add(name)
    for round_ in range(args.repeat):
        for name, (a, b) in pairs.items():
            if name in slow and round_ > 0:
                continue
            first, second = (a, b) if round_ % 2 == 0 else (b, a)  # alternate which goes first
            t_first, t_second = timed(first), timed(second)
            samples[name][0].append(t_first if first is a else t_second)
            samples[name][1].append(t_second if first is a else t_first)
    print(f"Store {args.store}; A = queries at {args.rev} (resolution: scan), B = working tree (run index); "
          f"median ms of {args.repeat} interleaved pairs (one where a warm-up took over {args.skip_slow:g} s)\n")
    print("| query | A ms | B ms | A / B | rows |")
    print("|---|---:|---:|---:|---|")
    for name, (a_ms, b_ms) in samples.items():
        ma, mb = statistics.median(a_ms), statistics.median(b_ms)
        print(f"| `{name}` | {ma:.1f} | {mb:.1f} | {ma / mb:.1f}× | {equal[name]} |")


if __name__ == "__main__":
    main()
