"""Capture overhead: the scaled-down AlexNet trained with no capture, epoch-level, per-batch capture and MLflow.

Variants, each a fresh model with the same seed, trained in one warm process (a discarded warm-up first):

  A   no capture
  B   ProvenanceCallback, epoch level
  C   ProvenanceCallback(per_batch=True)
  M   mlflow.tensorflow.autolog(log_models=False) into a local sqlite store in a temp dir
  M*  mlflow.tensorflow.autolog() with its default settings (logs the model too); drop with --no-mlflow-default

Every round runs all variants in a rotating order (A B C M M*, B C M M* A, ...). Reported: wall-clock `fit()`
time per variant (median, min-max, IQR), the median of the paired overhead (X - A) / A per round, and for B and
C the direct cost: seconds on the training thread inside our callback hooks (the callback adds them up in
`hook_seconds`) plus the CPU of every thread the capture starts: the writer thread's whole life (opening the
store, waiting, writing, and the close it finishes in the background; `WriterStats.thread_cpu_seconds`, read
after `writer.join()`) and RocksDB's background threads (named `rocksdb:*`; from /proc/self/task on Linux; a
small helper thread each open store has, named like the process, is not told apart from TensorFlow's and not
counted). The full direct cost adds, on the training thread, the callback's construction and its `close()`,
and is stated as a percentage of that run's fit() time.

    python bench/overhead.py                 # defaults: 10 rounds, 5 epochs
    python bench/overhead.py --quick         # under two minutes: 3 rounds, 2 epochs
    python bench/overhead.py --rounds 20 --json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

import keras

from cnnprov_rdf.capture.schedules import StepDecay
from cnnprov_rdf.demo.alexnet import build_alexnet
from cnnprov_rdf.demo.datasets import synthetic_shapes
from cnnprov_rdf.keras import ProvenanceCallback
from cnnprov_rdf.storage import kept

DESCRIPTIONS = {
    "A": "no capture",
    "B": "cnnprov, epoch level",
    "C": "cnnprov, per batch",
    "M": "MLflow autolog, log_models=False",
    "M*": "MLflow autolog, defaults (logs the model)",
}
HOOKS = ("on_train_begin", "on_epoch_begin", "record_batch", "on_epoch_end", "on_train_end")


def thread_cpu() -> dict[str, tuple[str, float]]:
    """Live threads of this process: id -> (name, CPU seconds); empty where /proc is not there."""
    found: dict[str, tuple[str, float]] = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                name = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
                found[tid] = (name, int(Path(f"/proc/self/task/{tid}/schedstat").read_text().split()[0]) / 1e9)
    return found


class Bench:
    def __init__(self, *, epochs: int, batch_size: int, images: int, width: float, size: int, workdir: Path) -> None:
        self.epochs, self.batch_size, self.width, self.size = epochs, batch_size, width, size
        self.workdir = workdir
        self.data = synthetic_shapes(n_per_class=images // 4, num_classes=4, size=size, split=1.0, seed=0)
        self.runs = 0
        self._mlflow_mode: str | None = None

    def _model(self) -> keras.Model:
        keras.utils.set_random_seed(0)
        model = build_alexnet((self.size, self.size, 3), self.data.num_classes, width=self.width)
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    def _mlflow(self, mode: str | None) -> None:
        """Turn MLflow autologging on (mode "M" or "M*") or off (None)."""
        if mode == self._mlflow_mode:
            return
        import mlflow

        if mode is None:
            mlflow.tensorflow.autolog(disable=True)
        else:
            mlflow.tensorflow.autolog(log_models=(mode == "M*"), silent=True)
        self._mlflow_mode = mode

    def run(self, variant: str) -> dict[str, float]:
        """Train once; returns fit seconds and, for our capture, hook and writer seconds."""
        self.runs += 1
        model = self._model()
        callbacks: list[keras.callbacks.Callback] = [keras.callbacks.LearningRateScheduler(StepDecay(0.01, 0.5, 2))]
        capture = None
        self._mlflow(variant if variant.startswith("M") else None)
        construct_seconds = 0.0
        threads_before = thread_cpu()  # RocksDB's threads: their CPU during this run is the capture's
        if variant in ("B", "C"):
            construct_start = time.perf_counter()  # opens the store: a cost of capture, on the training thread
            capture = ProvenanceCallback(self.workdir / f"store-{variant}", per_batch=variant == "C",
                                   dataset={"name": self.data.name})
            construct_seconds = time.perf_counter() - construct_start
            callbacks.append(capture)
        start = time.perf_counter()
        model.fit(self.data.x_train, self.data.y_train, epochs=self.epochs, batch_size=self.batch_size,
                  callbacks=callbacks, verbose=0)
        seconds = time.perf_counter() - start
        result = {"fit_seconds": seconds}
        if capture is not None:
            close_start = time.perf_counter()
            capture.close()  # returns at once: the writer finishes and closes the store in the background
            result["close_seconds"] = time.perf_counter() - close_start
            writer = capture.tracker.writer
            writer.join()  # for the bench only: its whole CPU, the background close included, is counted
            threads_after = thread_cpu()
            result["construct_seconds"] = construct_seconds
            result["hook_seconds"] = sum(capture.hook_seconds.values())
            result.update({f"{name}_seconds": capture.hook_seconds.get(name, 0.0) for name in HOOKS})
            result["writer_cpu_seconds"] = writer.stats.thread_cpu_seconds
            result["open_cpu_seconds"] = writer.stats.open_cpu_seconds
            result["rocksdb_cpu_seconds"] = sum(
                cpu - threads_before.get(tid, ("", 0.0))[1]
                for tid, (name, cpu) in threads_after.items() if name.startswith("rocksdb"))
            result["writer_cpu_seconds"] += result["rocksdb_cpu_seconds"]
        if variant.startswith("M"):
            import mlflow

            if mlflow.active_run() is not None:
                mlflow.end_run()
        return result


def _quantiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def summarize(variants: list[str], rounds: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for variant in variants:
        times = [r[variant]["fit_seconds"] for r in rounds]
        q1, q3 = _quantiles(times)
        row: dict[str, Any] = {
            "description": DESCRIPTIONS[variant],
            "fit_seconds_median": statistics.median(times),
            "fit_seconds_min": min(times),
            "fit_seconds_max": max(times),
            "fit_seconds_iqr": [q1, q3],
        }
        if variant != "A":
            paired = [(r[variant]["fit_seconds"] - r["A"]["fit_seconds"]) / r["A"]["fit_seconds"] for r in rounds]
            row["paired_overhead_median"] = statistics.median(paired)
            row["paired_overhead_min"] = min(paired)
            row["paired_overhead_max"] = max(paired)
        if variant in ("B", "C"):
            hooks = [r[variant]["hook_seconds"] / r[variant]["fit_seconds"] for r in rounds]
            writer = [r[variant]["writer_cpu_seconds"] / r[variant]["fit_seconds"] for r in rounds]
            fixed = [(r[variant]["construct_seconds"] + r[variant]["close_seconds"]) / r[variant]["fit_seconds"]
                     for r in rounds]
            direct = [h + w for h, w in zip(hooks, writer, strict=True)]
            full = [d + f for d, f in zip(direct, fixed, strict=True)]
            row["fixed_share_median"] = statistics.median(fixed)
            row["full_share_median"] = statistics.median(full)
            row["full_share_max"] = max(full)
            row["construct_seconds_median"] = statistics.median(r[variant]["construct_seconds"] for r in rounds)
            row["hook_share_median"] = statistics.median(hooks)
            row["writer_cpu_share_median"] = statistics.median(writer)
            row["direct_share_median"] = statistics.median(direct)
            row["direct_share_max"] = max(direct)
            row["hook_seconds_median"] = statistics.median(r[variant]["hook_seconds"] for r in rounds)
            row["writer_cpu_seconds_median"] = statistics.median(r[variant]["writer_cpu_seconds"] for r in rounds)
            row["close_seconds_median"] = statistics.median(r[variant]["close_seconds"] for r in rounds)
            row["open_cpu_seconds_median"] = statistics.median(r[variant]["open_cpu_seconds"] for r in rounds)
            row["rocksdb_cpu_seconds_median"] = statistics.median(r[variant]["rocksdb_cpu_seconds"] for r in rounds)
            row["hook_seconds_by_hook_median"] = {
                name: statistics.median(r[variant][f"{name}_seconds"] for r in rounds) for name in HOOKS
            }
        summary[variant] = row
    return summary


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import tensorflow as tf

    versions = {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__}
    try:
        import mlflow

        versions["mlflow"] = mlflow.__version__
    except ImportError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "load_average_at_start": list(os.getloadavg()), **versions}


def _split(by_hook: dict[str, float]) -> str:
    begin = by_hook["on_train_begin"]
    batch = by_hook["record_batch"]
    rest = sum(by_hook.values()) - begin - batch
    return f"{begin:.4f} / {batch:.4f} / {rest:.4f}"


def _pct(value: float) -> str:
    return f"{100 * value:+.1f} %"


def markdown(result: dict[str, Any]) -> str:
    s, m = result["settings"], result["machine"]
    lines = [
        f"Capture overhead, scaled-down AlexNet: {s['images']} synthetic {s['size']}x{s['size']} images, width "
        f"{s['width']}, {s['epochs']} epochs, batch {s['batch_size']} ({s['steps_per_epoch']} steps/epoch), "
        f"{s['rounds']} interleaved rounds{' (QUICK: fewer rounds and epochs)' if s['quick'] else ''}.",
        f"Machine: {m['nproc']} CPUs, {m['cpu']}, load average at start {m['load_average_at_start'][0]:.2f}; "
        f"TensorFlow {m['tensorflow']}, Keras {m['keras']}, MLflow {m.get('mlflow', 'absent')}. "
        f"Total bench time {result['total_seconds']:.0f} s.",
        "",
        "| variant | fit() s median | min–max | IQR | paired overhead (X−A)/A median [min, max] |",
        "|---|---|---|---|---|",
    ]
    for variant, row in result["variants"].items():
        paired = "—" if variant == "A" else (
            f"{_pct(row['paired_overhead_median'])} [{_pct(row['paired_overhead_min'])}, "
            f"{_pct(row['paired_overhead_max'])}]")
        q1, q3 = row["fit_seconds_iqr"]
        lines.append(
            f"| {variant}: {row['description']} | {row['fit_seconds_median']:.3f} | "
            f"{row['fit_seconds_min']:.3f}–{row['fit_seconds_max']:.3f} | {q1:.3f}–{q3:.3f} | {paired} |"
        )
    lines += [
        "",
        "Direct cost of our capture (share of that run's fit() time; medians over rounds):",
        "",
        "| variant | hooks on training thread | capture threads' CPU | hooks + threads (max) "
        "| construction + close() | full direct cost (max) | hooks s (on_train_begin / batch hooks / rest) "
        "| threads' CPU s | construction ms | close() ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for variant in ("B", "C"):
        row = result["variants"].get(variant)
        if row is None:
            continue
        lines.append(
            f"| {variant}: {row['description']} | {100 * row['hook_share_median']:.3f} % | "
            f"{100 * row['writer_cpu_share_median']:.3f} % | {100 * row['direct_share_median']:.3f} % "
            f"({100 * row['direct_share_max']:.3f} %) | {100 * row['fixed_share_median']:.3f} % | "
            f"{100 * row['full_share_median']:.3f} % ({100 * row['full_share_max']:.3f} %) | "
            f"{row['hook_seconds_median']:.4f} ({_split(row['hook_seconds_by_hook_median'])}) | "
            f"{row['writer_cpu_seconds_median']:.4f} | {1e3 * row['construct_seconds_median']:.1f} | "
            f"{1e3 * row['close_seconds_median']:.1f} |"
        )
    lines.append("")
    for variant in ("B", "C"):
        row = result["variants"].get(variant)
        if row is not None:
            lines.append(
                f"{variant}, capture threads' CPU per run (medians): {1e3 * row['writer_cpu_seconds_median']:.1f} "
                f"ms, of "
                f"which opening the store on the writer thread {1e3 * row['open_cpu_seconds_median']:.1f} ms and "
                f"RocksDB's threads {1e3 * row['rocksdb_cpu_seconds_median']:.1f} ms.")
    once = result.get("once_per_process", {})
    for variant in ("B", "C"):
        if variant in once:
            row = once[variant]
            lines.append(
                f"{variant}, once per process (its store's first run, the warm-up): the writer thread's open of the "
                f"store {1e3 * row['first_open_cpu_seconds']:.1f} ms, the capture threads' CPU of that run "
                f"{1e3 * row['first_run_threads_cpu_seconds']:.1f} ms; later runs take the store kept open "
                f"(storage.kept).")
    if once:
        fits = sum(row["fit_seconds_total"] for key, row in once.items() if key in ("B", "C"))
        extra = sum(row["first_open_cpu_seconds"] for key, row in once.items() if key in ("B", "C"))
        close = once["final_close_cpu_seconds_all_stores"]
        lines.append(
            f"Closing the kept stores at the end (as at exit): {1e3 * close:.1f} ms of CPU for "
            f"{len(once) - 1} stores; with the first opens, {100 * (extra + close) / fits:.3f} % of these stores' "
            f"{fits:.1f} s of fit() time, spread over their runs.")
    lines += [
        "",
        "fit() time includes tracing the train function of each fresh model. The capture's threads (the writer, "
        "RocksDB's) run beside training on the same cores; their CPU is counted until the writer's background "
        "close has ended. MLflow "
        "tracks to sqlite in a temp dir (synchronous logging); M keeps autolog's defaults except log_models=False.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 10; 3 with --quick)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per fit (default 5; 2 with --quick)")
    parser.add_argument("--images", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--width", type=float, default=0.125)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="a short run (fewer rounds and epochs)")
    parser.add_argument("--no-mlflow", action="store_true", help="leave out M and M*")
    parser.add_argument("--no-mlflow-default", action="store_true", help="leave out M* (autolog with models)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of Markdown")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 10)
    epochs = args.epochs or (2 if args.quick else 5)

    variants = ["A", "B", "C"]
    if not args.no_mlflow:
        variants.append("M")
        if not args.no_mlflow_default:
            variants.append("M*")

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    started, host = time.perf_counter(), machine()
    # Keras progress bars (MLflow's signature inference predicts) go to stderr: stdout carries only the result.
    with tempfile.TemporaryDirectory(prefix="cnnprov-overhead-") as tmp, contextlib.redirect_stdout(sys.stderr):
        workdir = Path(tmp)
        if not args.no_mlflow:
            import mlflow

            mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
            mlflow.set_experiment("overhead")
        bench = Bench(epochs=epochs, batch_size=args.batch_size, images=args.images, width=args.width,
                      size=args.size, workdir=workdir)
        # warm-up, discarded: TF, the store and MLflow's database are all initialised (the store's open is kept:
        # its cost, once per process and store, is reported on its own)
        warmup = {variant: bench.run(variant) for variant in variants}
        results: list[dict[str, dict[str, float]]] = []
        for index in range(rounds):
            order = variants[index % len(variants):] + variants[: index % len(variants)]
            results.append({variant: bench.run(variant) for variant in order})
            print(f"round {index + 1}/{rounds}: " + ", ".join(
                f"{v} {results[-1][v]['fit_seconds']:.2f}s" for v in order), file=sys.stderr)
        bench._mlflow(None)
        close_started = time.process_time()  # the stores kept open since their last run: closed as at exit
        kept.release_all()
        final_close_seconds = time.process_time() - close_started
    once = {variant: {"first_open_cpu_seconds": warmup[variant]["open_cpu_seconds"],
                      "first_run_threads_cpu_seconds": warmup[variant]["writer_cpu_seconds"],
                      "fit_seconds_total": warmup[variant]["fit_seconds"] + sum(r[variant]["fit_seconds"]
                                                                                  for r in results)}
            for variant in ("B", "C") if variant in variants}
    result = {
        "settings": {
            "rounds": rounds, "epochs": epochs, "images": len(bench.data.x_train), "batch_size": args.batch_size,
            "steps_per_epoch": -(-len(bench.data.x_train) // args.batch_size), "width": args.width, "size": args.size,
            "quick": args.quick, "variants": variants, "mlflow_tracking": "sqlite in a temp dir",
        },
        "machine": host,
        "total_seconds": time.perf_counter() - started,
        "variants": summarize(variants, results),
        "once_per_process": {"final_close_cpu_seconds_all_stores": final_close_seconds, **once},
        "rounds": results,
    }
    print(json.dumps(result, indent=2) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
