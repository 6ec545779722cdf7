"""CPU per epoch record, spaced like real epochs: cnnprov against a keep-alive HTTP POST and MLflow; and the
fixed per-run cost on the calling thread.

    python bench/percall.py                 # 3 rounds × 20 epochs, 0.2 s apart
    python bench/percall.py --rounds 5 --json

Per-epoch variants, interleaved in a rotating order each round, each a fresh destination:

  none     the loop alone (sleep between epochs), subtracted from the others
  cnnprov  `Tracker(store, linger=0.1).start_run()` and `run.log_epoch` per epoch; the writer flushed at the end
           (every epoch is its own transaction, as with real epochs seconds apart and the default 1 s linger)
  post     one keep-alive HTTP POST of the epoch's metrics as JSON per epoch (DfAnalyzer's way), to a local
           server in another process that answers 204
  mlflow   `mlflow.log_metrics(..., step=epoch)` into a sqlite tracking store (synchronous logging)

The figure is CPU time of this process over all its threads (`time.process_time`, the writer's and
RocksDB's included) from the first record to the last one written, divided by the epochs, minus the `none`
variant (the loop and its sleeps). The POST server's own CPU is not counted (it is another process), nor is
a store or server process's for the others. yProv4ML is left out: it requires
`rdflib<7` (this project needs rdflib 7) and PyTorch, so it cannot share this environment.

The fixed per-run cost is the wall time on the calling thread of `Tracker(store)` and of its `close(wait=False)`
(what the Keras callback's close does: the writer finishes and closes the store in the background), around five
epochs over a second, median and max over rounds; and, off the calling thread, the writer thread's whole CPU for
that run (opening the store, which is most of it, writing, closing; `WriterStats.thread_cpu_seconds`), and for
a second run of the same store right after it, which takes the store the first one left open (`storage.kept`).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.storage import kept

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H); print(s.server_port, flush=True); s.serve_forever()
"""


def metrics(epoch: int) -> dict[str, float]:
    return {name: 1.0 / (epoch + index) for index, name in enumerate(METRICS)}


def spaced(epochs: int, spacing: float, record) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds of the whole process (every thread, background ones included) over the spaced loop."""
    started = time.process_time()
    for epoch in range(1, epochs + 1):
        time.sleep(spacing)
        record(epoch)
    return time.process_time() - started


def run_none(workdir: Path, epochs: int, spacing: float, port: int) -> float:
    return spaced(epochs, spacing, lambda epoch: None)


def run_cnnprov(workdir: Path, epochs: int, spacing: float, port: int) -> float:
    tracker = Tracker(workdir / "store", linger=0.1)
    run = tracker.start_run(planned_epochs=epochs)
    tracker.flush()  # the store is open (on the writer thread) and the run started: per-run costs, not per epoch
    cpu = spaced(epochs, spacing, lambda epoch: run.log_epoch(epoch, metrics(epoch)))
    started = time.process_time()
    time.sleep(spacing)  # the last epoch's write, as the others had
    tracker.flush()
    cpu += time.process_time() - started
    tracker.close()
    return cpu


def run_post(workdir: Path, epochs: int, spacing: float, port: int) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port)

    def post(epoch: int) -> None:
        body = json.dumps({"epoch": epoch, "metrics": metrics(epoch)}).encode()
        connection.request("POST", "/epoch", body, {"Content-Type": "application/json"})
        connection.getresponse().read()

    cpu = spaced(epochs, spacing, post)
    connection.close()
    return cpu


def run_mlflow(workdir: Path, epochs: int, spacing: float, port: int) -> float:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    with mlflow.start_run():
        return spaced(epochs, spacing, lambda epoch: mlflow.log_metrics(metrics(epoch), step=epoch))


VARIANTS = {"none": run_none, "cnnprov": run_cnnprov, "post": run_post, "mlflow": run_mlflow}


def fixed_costs(workdir: Path) -> tuple[float, float, float, float]:
    """Wall ms on the calling thread of `Tracker(store)` and of `close(wait=False)`, around a 1 s stand-in for a
    fit with five epochs (the store opens on the writer thread meanwhile); the writer thread's CPU ms for that
    first run of the store in this process, and for a second run right after it (which takes the store kept
    open, `storage.kept`)."""
    cpu = []
    for run_number in (1, 2):
        started = time.perf_counter()
        tracker = Tracker(workdir / "store")
        if run_number == 1:
            opened = time.perf_counter() - started
        run = tracker.start_run()
        for epoch in range(1, 6):
            time.sleep(0.2)
            run.log_epoch(epoch, metrics(epoch))
        run.end()
        started = time.perf_counter()
        tracker.close(wait=False)
        if run_number == 1:
            closed = time.perf_counter() - started
        tracker.writer.join()
        cpu.append(tracker.writer.stats.thread_cpu_seconds * 1e3)
    kept.release(workdir / "store")
    return opened * 1e3, closed * 1e3, cpu[0], cpu[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=0.2, help="seconds between epoch records")
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    variants = [name for name in VARIANTS if not (args.no_mlflow and name == "mlflow")]
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline()) if server.stdout else 0
    workdir = Path(tempfile.mkdtemp(prefix="cnnprov-percall-"))
    per_epoch: dict[str, list[float]] = {name: [] for name in variants}
    fixed: list[tuple[float, float, float, float]] = []
    try:
        for round_ in range(args.rounds):
            for name in variants[round_ % len(variants):] + variants[:round_ % len(variants)]:
                target = workdir / f"{name}-{round_}"
                target.mkdir()
                per_epoch[name].append(VARIANTS[name](target, args.epochs, args.spacing, port) / args.epochs)
            target = workdir / f"fixed-{round_}"
            target.mkdir()
            fixed.append(fixed_costs(target))
    finally:
        server.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    baseline = statistics.median(per_epoch["none"])
    result = {
        "machine": f"{os.cpu_count()} CPUs ({platform.machine()}), load average {os.getloadavg()[0]:.1f}",
        "epochs": args.epochs, "spacing_s": args.spacing, "rounds": args.rounds,
        "cpu_us_per_epoch": {name: {"median": round((statistics.median(v) - baseline) * 1e6, 1),
                                    "min": round((min(v) - baseline) * 1e6, 1),
                                    "max": round((max(v) - baseline) * 1e6, 1)}
                             for name, v in per_epoch.items() if name != "none"},
        "fixed_ms": {"Tracker(store)": round(statistics.median(f[0] for f in fixed), 1),
                     "close(wait=False)": round(statistics.median(f[1] for f in fixed), 1),
                     "Tracker(store), max": round(max(f[0] for f in fixed), 1),
                     "close(wait=False), max": round(max(f[1] for f in fixed), 1),
                     "writer thread CPU (off the calling thread), the store's first run in the process":
                         round(statistics.median(f[2] for f in fixed), 1),
                     "writer thread CPU, the next run (the store kept open)":
                         round(statistics.median(f[3] for f in fixed), 1)},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.rounds} rounds × {args.epochs} epochs {args.spacing:g} s apart, {result['machine']}, "
          f"Python {platform.python_version()}\n")
    print("| variant | CPU µs per epoch record, all threads (median) | min–max |")
    print("|---|---:|---:|")
    for name, r in result["cpu_us_per_epoch"].items():
        print(f"| {name} | {r['median']:.0f} | {r['min']:.0f}–{r['max']:.0f} |")
    print("\n| fixed per-run cost (5 epochs over 1 s) | ms |")
    print("|---|---:|")
    for name, ms in result["fixed_ms"].items():
        print(f"| {name} | {ms} |")


if __name__ == "__main__":
    main()
