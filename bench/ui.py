"""How fast the web app shows the run table of a store of N runs (1,000 by default) built through the real
capture API and writer (bench/queries.py's builder), in headless Chromium (/usr/bin/chromium via playwright).

    python bench/ui.py                       # 1,000 runs × 50 epochs, a Markdown table
    python bench/ui.py --keep /tmp/ui-store  # build the store there once, reuse it next time
    python bench/ui.py --json

Measured, each the median of --repeat (5) samples with min–max:
  - `leaderboard()` itself on a fresh read-only snapshot (the query and the pivot, in this process);
  - `GET /api/runs` on a running `cnnprov ui`, cold (the server computes the leaderboard) and cached (nobody
    wrote the store since: the server answers from its fingerprint cache);
  - a hyperparameter search's table (the store's one search, 10 trials): its trials' run ids by the canned query
    `search-trials` (what the app filters its cached board by) against `leaderboard(search=…)` recomputed,
    interleaved in this process; and `GET /api/runs?search=ID` on a server whose board is cached, the first
    time (the trial ids queried) and cached;
  - the run table in the browser: navigation start → table rows present (the page's `runs-rendered`
    performance mark), cold (a fresh server process per sample) and warm (reloads on one server).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parents[1]

from synthetic import SEARCH_ID, bulk_build  # noqa: E402  (bench/synthetic.py: the same store as the query benchmark)

from cnnprov_rdf.query.execute import run_query  # noqa: E402
from cnnprov_rdf.query.leaderboard import leaderboard  # noqa: E402
from cnnprov_rdf.storage.store import open_for_reading  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def summary(samples: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(samples), 1), "min": round(min(samples), 1),
            "max": round(max(samples), 1), "n": len(samples)}


def start_server(store: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "cnnprov_rdf.cli", "ui", "--store", str(store),
                                "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline() if process.stdout else ""
    if " at http://" not in line:
        process.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return process, line.split(" at ")[1].split()[0].rstrip("/")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


def fetch_ms(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def table_ms(page: Any, url: str) -> float:
    """Navigation start → the run table's rows are in the page (the `runs-rendered` mark)."""
    page.goto(url + "/", wait_until="commit")
    page.wait_for_selector("table#runs tbody tr", timeout=120_000)
    page.wait_for_function("() => performance.getEntriesByName('runs-rendered').length > 0")
    return float(page.evaluate("performance.getEntriesByName('runs-rendered')[0].startTime"))


def measure(store: Path, repeat: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    result: dict[str, Any] = {}
    samples = []
    for _ in range(repeat):
        snapshot = open_for_reading(store)
        started = time.perf_counter()
        rows = len(leaderboard(snapshot).rows)
        samples.append((time.perf_counter() - started) * 1000)
    result["leaderboard() [ms]"] = summary(samples)
    result["runs"] = rows
    by_trials, by_board = [], []
    for _ in range(repeat):  # interleaved A/B: what the app does for a search, against recomputing the board
        snapshot = open_for_reading(store)
        started = time.perf_counter()
        trials = {row["run_id"] for row in run_query(snapshot, "search-trials", search=SEARCH_ID).rows}
        by_trials.append((time.perf_counter() - started) * 1000)
        snapshot = open_for_reading(store)
        started = time.perf_counter()
        board = leaderboard(snapshot, search=SEARCH_ID).rows
        by_board.append((time.perf_counter() - started) * 1000)
    if trials != {row["run_id"] for row in board}:
        raise SystemExit("search-trials and leaderboard(search=…) disagree on the search's trials")
    result["search-trials run ids [ms]"] = summary(by_trials)
    result["leaderboard(search=…) [ms]"] = summary(by_board)
    result["trials"] = len(trials)

    cold_api, cached_api, cold_page, warm_page, first_search, cached_search = [], [], [], [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(repeat):  # cold: a fresh server, whose first request computes the leaderboard
            process, url = start_server(store)
            try:
                cold_api.append(fetch_ms(url + "/api/runs"))
            finally:
                stop(process)
            process, url = start_server(store)
            try:
                fetch_ms(url + "/api/runs")  # the board computed and cached
                first_search.append(fetch_ms(f"{url}/api/runs?search={SEARCH_ID}"))
                cached_search.append(fetch_ms(f"{url}/api/runs?search={SEARCH_ID}"))
            finally:
                stop(process)
            process, url = start_server(store)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                cold_page.append(table_ms(page, url))
                page.close()
            finally:
                stop(process)
        process, url = start_server(store)
        try:
            fetch_ms(url + "/api/runs")
            cached_api.extend(fetch_ms(url + "/api/runs") for _ in range(repeat))
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            table_ms(page, url)
            warm_page.extend(table_ms(page, url) for _ in range(repeat))
            page.close()
        finally:
            stop(process)
        browser.close()
    result["GET /api/runs, cold [ms]"] = summary(cold_api)
    result["GET /api/runs, cached [ms]"] = summary(cached_api)
    result["GET /api/runs?search=ID, board cached, first [ms]"] = summary(first_search)
    result["GET /api/runs?search=ID, cached [ms]"] = summary(cached_search)
    result["run table in Chromium, cold server [ms]"] = summary(cold_page)
    result["run table in Chromium, warm server [ms]"] = summary(warm_page)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the store here, or reuse the one already there")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"needs Chromium at {CHROMIUM}")
    with tempfile.TemporaryDirectory() as tmp:
        store = args.keep or Path(tmp) / "store"
        built: dict[str, float] = {}
        if not (store / "CURRENT").exists():
            store.parent.mkdir(parents=True, exist_ok=True)
            built = bulk_build(store, args.runs, args.epochs)
        result = {"store": str(store), "built": built, "cpus": os.cpu_count(), **measure(store, args.repeat)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    how = f", built in {built['build_seconds']:.0f} s" if built else ""
    print(f"{result['runs']} runs, a search of {result['trials']} (store {store}{how}; {result['cpus']} CPUs)\n")
    print("| what | median | min–max | n |\n|---|---:|---:|---:|")
    for key, value in result.items():
        if isinstance(value, dict) and "median" in value:
            print(f"| {key} | {value['median']} | {value['min']}–{value['max']} | {value['n']} |")


if __name__ == "__main__":
    main()
