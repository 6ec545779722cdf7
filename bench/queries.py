"""Canned-query latency at two store sizes, so that growth with the store is visible; rdflib's in-memory SPARQL
engine on the same quads and MLflow on the equivalent logged data, optionally.

    python bench/queries.py --runs 10000 --epochs 50 --keep /tmp/bench-stores   # 1,000 x 100 and 10,000 x 50
    python bench/queries.py --quick                                            # 100 x 20 and 1,000 x 10, < 2 min
    python bench/queries.py --quick --rdflib --mlflow --json                   # and the other engines, as JSON

The stores are built by bulk loading (`bench/synthetic.py`: the synthetic runs' capture events mapped by
`graph.mapping.to_quads`, the quads the writer would write, loaded with `Store.bulk_extend`), because the
writer takes far longer at 10,000 runs; `--keep DIR` caches them (a store is rebuilt when the mapping, the
index or the synthetic data change). One query at a time: a warm-up at each size, then `--repeat` runs per
size, the sizes interleaved (so that its data is in the page cache, as for a store in use), each on a
read-only handle of its own (opened before the timing), each run after a `gc.collect()` (so
that the garbage of the query before, up to 400,000 rows, is not collected inside the next one's timing, as it
would not be in a fresh CLI process; the query's own collections still count); the table gives the median (and
min–max) and the target: 30 ms for a single-run query, 300 ms (at 10,000 runs; 100 ms at 1,000) for a
cross-run one. `--run all` variants of per-epoch queries are streamed (`stream_query`) and their rows counted
(`epoch-metrics --run all` returns every epoch record: it has no target). Run resolution (`find_run`) is timed
on its own. rdflib (`--rdflib`) gets its own smaller store (`--rdflib-runs` runs × the first size's epochs)
exported from pyoxigraph as N-Quads into an rdflib Dataset (default graph = union); the same final query
texts run on both engines. MLflow (`--mlflow`, SQLite backend in a temp dir) gets the equivalent data of
`--mlflow-runs` runs through `MlflowClient.log_batch`, and the equivalent questions.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import multiprocessing
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyoxigraph import RdfFormat
from synthetic import bulk_build, synthetic_runs

from cnnprov_rdf.query.binding import bind_parameters, with_values
from cnnprov_rdf.query.execute import run_query, stream_query
from cnnprov_rdf.query.library import find_query, load_queries
from cnnprov_rdf.query.runs import find_run
from cnnprov_rdf.storage.store import open_for_reading

ROOT = Path(__file__).resolve().parent.parent

def store_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def summary(samples: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(samples), 2), "min": round(min(samples), 2),
            "max": round(max(samples), 2)}


def time_calls(call: Callable[[], Any], repeat: int) -> list[float]:
    call()  # warm-up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def single_run(name: str) -> bool:
    """Whether a canned query asks about one run (a run parameter that defaults to one)."""
    return any(p.type == "run" and p.default not in ("all", None) for p in find_query(name).parameters)


def streamed(store: Any, name: str) -> int:
    """Every run's rows of a per-epoch query, streamed and counted."""
    return sum(1 for _ in stream_query(store, name, run="all"))


def workloads(path: Path) -> dict[str, Callable[[], Any]]:
    """What is timed: run resolution, every canned query (default parameters), the --run all variants; each
    on a read-only handle of its own, opened before the timing (opening one takes ~10 ms, whatever the size)."""
    def on_own_handle(function: Callable[..., Any], argument: str) -> Callable[[], Any]:
        store = open_for_reading(path)
        return lambda: function(store, argument)

    latest = find_run(open_for_reading(path), "latest")
    calls: dict[str, Callable[[], Any]] = {}
    for label, ref in (("latest", "latest"), ("uuid", latest.id), ("name", "grid-5"), ("prefix", latest.id[:8])):
        calls[f"resolve {label}"] = on_own_handle(find_run, ref)
    for name in load_queries():
        calls[name] = on_own_handle(run_query, name)
    for name in ("epoch-metrics", "epoch-time-stats"):
        calls[f"{name} --run all"] = on_own_handle(streamed, name)
    return calls


def interleaved_latencies(paths: list[Path], repeat: int, skip_slow: float) -> list[dict[str, list[float]]]:
    """Per size, each workload's latencies in ms: workload by workload, a warm-up at each size first, then
    `repeat` rounds with the sizes interleaved. (One workload at a time, so that what it reads is in the page
    cache as for a store in use: this host pages out memory left untouched for about a minute, and with every
    workload's warm-up first, each timed call read its store from disk again.) A workload slower than
    `skip_slow` seconds at its warm-up is timed once."""
    calls = [workloads(path) for path in paths]
    results: list[dict[str, list[float]]] = [{name: [] for name in c} for c in calls]
    for name in calls[0]:
        slow: set[int] = set()
        for i, size_calls in enumerate(calls):
            started = time.perf_counter()
            size_calls[name]()
            if time.perf_counter() - started > skip_slow:
                slow.add(i)
        for round_ in range(repeat):
            for i, size_calls in enumerate(calls):
                if i in slow and round_ > 0:
                    continue
                gc.collect()  # the previous workload's garbage is collected before, not inside, this one's timing
                started = time.perf_counter()
                size_calls[name]()
                results[i][name].append((time.perf_counter() - started) * 1000)
    return results


def cached_store(keep: Path | None, workdir: Path, runs: int, epochs: int) -> tuple[Path, dict[str, float] | None]:
    """A bulk-loaded store of `runs` × `epochs` (from the cache in `keep` when it is there and current)."""
    sources = [Path(__file__).with_name("synthetic.py"), *sorted((ROOT / "cnnprov_rdf" / "graph").glob("*.py"))]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]
    path = (keep or workdir) / f"runs{runs}x{epochs}-{digest}"
    if (path / "CURRENT").exists():
        return path, None
    return path, bulk_build(path, runs, epochs)


# --- rdflib -----------------------------------------------------------------------------------------------


def _rdflib_worker(dataset: Any, text: str, repeat: int, connection: Any) -> None:
    """In a forked child (so that a slow query can be stopped): one message per execution, warm-up first."""
    try:
        for _ in range(repeat + 1):
            started = time.perf_counter()
            rows = len(list(dataset.query(text)))
            connection.send(((time.perf_counter() - started) * 1000, rows))
    except Exception as error:  # reported in the table
        connection.send(f"{type(error).__name__}: {error}"[:120])


def rdflib_latencies(path: Path, repeat: int, timeout: float) -> dict[str, Any]:
    """Every canned query's final text on pyoxigraph and on rdflib, over the same quads."""
    import rdflib

    oxigraph = open_for_reading(path)
    started = time.perf_counter()
    nquads = oxigraph.dump(format=RdfFormat.N_QUADS)
    dataset = rdflib.Dataset(default_union=True)
    dataset.parse(data=nquads, format="nquads")
    load_seconds = time.perf_counter() - started
    context = multiprocessing.get_context("fork")
    results: dict[str, Any] = {}
    for name in load_queries():
        query = find_query(name)
        text = with_values(query.text, bind_parameters(query, oxigraph, {}))
        store = open_for_reading(path)
        oxi_rows = len(list(store.query(text, use_default_graph_as_union=True)))
        entry: dict[str, Any] = {"pyoxigraph_ms": time_calls(
            lambda store=store, text=text: list(store.query(text, use_default_graph_as_union=True)), repeat),
            "pyoxigraph_rows": oxi_rows}
        receiver, sender = context.Pipe(duplex=False)
        worker = context.Process(target=_rdflib_worker, args=(dataset, text, repeat, sender), daemon=True)
        worker.start()
        sender.close()
        samples: list[float] = []
        for _ in range(repeat + 1):
            if not receiver.poll(timeout):
                entry["rdflib_skipped"] = f"> {timeout:g} s"
                break
            try:
                message = receiver.recv()
            except EOFError:
                entry["rdflib_skipped"] = "worker died"
                break
            if isinstance(message, str):
                entry["rdflib_skipped"] = message
                break
            samples.append(message[0])
            entry["rdflib_rows"] = message[1]
        if worker.is_alive():
            worker.terminate()
        worker.join()
        receiver.close()
        if "rdflib_skipped" not in entry:
            entry["rdflib_ms"] = samples[1:]  # the first was the warm-up
        results[name] = entry
    return {"quads": len(dataset), "load_seconds": load_seconds, "queries": results}


# --- MLflow -----------------------------------------------------------------------------------------------


def mlflow_latencies(directory: Path, runs: int, epochs: int, repeat: int) -> dict[str, Any]:
    """Log the same grid into MLflow (SQLite) with log_batch, then time the equivalent questions."""
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{directory / 'mlflow.db'}")
    experiment = client.create_experiment("grid", artifact_location=(directory / "artifacts").as_uri())
    started = time.perf_counter()
    run_ids = []
    for data in synthetic_runs(runs, epochs):
        run = client.create_run(experiment, run_name=f"grid-{data['index']}")
        run_id = run.info.run_id
        run_ids.append(run_id)
        params = [Param("learning_rate", str(data["rate"])), Param("epochs", str(data["planned"])),
                  Param("batch_size", "32"), Param("optimizer", "SGD")]
        stamp = int(time.time() * 1000)
        metrics = [Metric(key, value, stamp, row["epoch"]) for row in data["epochs"]
                   for key, value in row["metrics"].items()]
        metrics += [Metric("learning_rate", row["learning_rate"], stamp, row["epoch"]) for row in data["epochs"]]
        metrics += [Metric("epoch_seconds", row["elapsed_seconds"], stamp, row["epoch"]) for row in data["epochs"]]
        client.log_batch(run_id, metrics=metrics[:1000], params=params)
        for chunk in range(1000, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[chunk:chunk + 1000])
        if data["status"] != "running":
            client.log_batch(run_id, metrics=[Metric(f"test_{k}", v, stamp, 0) for k, v in data["test"].items()])
            client.set_terminated(run_id, "FAILED" if data["status"] == "failed" else "FINISHED")
    log_seconds = time.perf_counter() - started
    latest = run_ids[-1]
    questions: dict[str, tuple[str, Callable[[], Any]]] = {
        "search_runs (all)": ("runs", lambda: client.search_runs([experiment], max_results=10_000)),
        "search_runs order_by val_accuracy": ("config-ranking", lambda: client.search_runs(
            [experiment], order_by=["metrics.val_accuracy DESC"], max_results=10_000)),
        "get_metric_history (loss, one run)": ("epoch-loss-time", lambda: client.get_metric_history(latest, "loss")),
        "get_run (one run's params)": ("hyperparameters", lambda: client.get_run(latest).data.params),
        "search_runs filter params.learning_rate": ("hyperparameters", lambda: client.search_runs(
            [experiment], filter_string="params.learning_rate = '0.001'", max_results=10_000)),
        "search_runs filter status FAILED": ("failed-runs", lambda: client.search_runs(
            [experiment], filter_string="attributes.status = 'FAILED'", max_results=10_000)),
    }
    latencies = {label: {"like": like, "ms": time_calls(call, repeat)} for label, (like, call) in questions.items()}
    return {"runs": runs, "log_seconds": log_seconds, "queries": latencies}


# --- main -------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000, help="runs of the larger store (the smaller: 1,000)")
    parser.add_argument("--epochs", type=int, default=50, help="epochs per run of the larger store (smaller: 100)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="100 × 20 and 1,000 × 10, 3 repeats (under 2 min)")
    parser.add_argument("--skip-slow", type=float, default=5.0, help="time once what takes longer (s)")
    parser.add_argument("--rdflib", action="store_true", help="also rdflib, on a smaller store")
    parser.add_argument("--rdflib-runs", type=int, default=50, help="runs in rdflib's (smaller) store")
    parser.add_argument("--rdflib-timeout", type=float, default=30.0, help="skip an rdflib query slower than this")
    parser.add_argument("--mlflow", action="store_true", help="also MLflow")
    parser.add_argument("--mlflow-runs", type=int, default=1000, help="runs logged into MLflow")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--keep", type=Path, help="build the stores in this directory and reuse them")
    args = parser.parse_args()
    sizes = [(100, 20), (1000, 10)] if args.quick else [(1000, 100), (args.runs, args.epochs)]
    if args.quick:
        args.repeat = 3
    workdir = Path(tempfile.mkdtemp(prefix="cnnprov-bench-"))
    result: dict[str, Any] = {"sizes": []}
    try:
        paths = []
        for runs, epochs in sizes:
            path, built = cached_store(args.keep, workdir, runs, epochs)
            paths.append(path)
            epoch_records = sum(1 for _ in open_for_reading(path).query(
                "SELECT ?e WHERE { GRAPH ?g { ?e a <https://w3id.org/cnnprov/ontology#EpochResult> } }"))
            result["sizes"].append({
                "runs": runs, "epochs_per_run": epochs, "epoch_records": epoch_records,
                "store_bytes": store_bytes(path),
                "build_seconds": None if built is None else round(built["build_seconds"], 1),
                "quads": None if built is None else built["quads"]})
        latencies = interleaved_latencies(paths, args.repeat, args.skip_slow)
        for size, measured in zip(result["sizes"], latencies, strict=True):
            size["ms"] = {name: summary(samples) for name, samples in measured.items()}
        if args.rdflib:
            small, _ = cached_store(args.keep, workdir, min(args.rdflib_runs, sizes[0][0]), sizes[0][1])
            rd = rdflib_latencies(small, min(args.repeat, 3), args.rdflib_timeout)
            result["rdflib"] = {
                "runs": min(args.rdflib_runs, sizes[0][0]), "epochs_per_run": sizes[0][1], "quads": rd["quads"],
                "load_seconds": round(rd["load_seconds"], 2), "repeat": min(args.repeat, 3),
                "timeout_seconds": args.rdflib_timeout,
                "queries": {n: {"pyoxigraph_ms": summary(e["pyoxigraph_ms"]), "pyoxigraph_rows": e["pyoxigraph_rows"]}
                            | ({"rdflib_ms": summary(e["rdflib_ms"]), "rdflib_rows": e["rdflib_rows"]}
                               if "rdflib_ms" in e else {"rdflib_skipped": e["rdflib_skipped"]})
                            for n, e in rd["queries"].items()}}
        if args.mlflow:
            (workdir / "mlflow").mkdir()
            ml = mlflow_latencies(workdir / "mlflow", args.mlflow_runs, sizes[0][1], args.repeat)
            result["mlflow"] = {
                "runs": args.mlflow_runs, "epochs_per_run": sizes[0][1], "backend": "sqlite",
                "log_seconds": round(ml["log_seconds"], 2),
                "queries": {label: {"like": q["like"]} | summary(q["ms"]) for label, q in ml["queries"].items()}}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print_tables(args, result)


def target_ms(name: str, runs: int) -> float:
    """A workload's target at a store of `runs` runs (see the module docstring)."""
    if name == "epoch-metrics --run all":
        return float("inf")  # every epoch record of the store, streamed
    if name.startswith("resolve ") or (not name.endswith(" --run all") and single_run(name)):
        return 30.0
    return 100.0 if runs <= 1000 else 300.0


def print_tables(args: argparse.Namespace, result: dict[str, Any]) -> None:
    for size in result["sizes"]:
        built = "cached" if size["build_seconds"] is None else f"bulk-loaded in {size['build_seconds']} s"
        print(f"Store: {size['runs']:,} runs × {size['epochs_per_run']} epochs = {size['epoch_records']:,} epoch "
              f"records, {size['store_bytes'] / 1e6:.0f} MB on disk ({built})")
    print(f"\nMedian (min–max) ms of {args.repeat}, sizes interleaved; ⚠ marks a median over its target "
          "(30 ms single-run; 100 ms cross-run at ≤ 1,000 runs, 300 ms above)\n")
    heads = [f"{s['runs']:,} × {s['epochs_per_run']}" for s in result["sizes"]]
    print("| query | " + " | ".join(heads) + " |")
    print("|---|" + "---:|" * len(heads))
    for name in result["sizes"][0]["ms"]:
        cells = []
        for size in result["sizes"]:
            stats = size["ms"][name]
            flag = " ⚠" if stats["median"] > target_ms(name, size["runs"]) else ""
            cells.append(f"{stats['median']:.1f}{flag} ({stats['min']:.1f}–{stats['max']:.1f})")
        print(f"| `{name}` | " + " | ".join(cells) + " |")
    if "rdflib" in result:
        print_rdflib(result["rdflib"])
    if "mlflow" in result:
        print_mlflow(args, result)


def print_rdflib(rd: dict[str, Any]) -> None:
    print(f"\nrdflib {__import__('rdflib').__version__} (in-memory Dataset, default graph = union) vs pyoxigraph "
          f"on a smaller store: {rd['runs']} runs × {rd['epochs_per_run']} epochs = {rd['quads']} quads "
          f"(N-Quads export + rdflib parse {rd['load_seconds']} s); same final query texts; median of "
          f"{rd['repeat']} after a warm-up; an rdflib query over {rd['timeout_seconds']:g} s is skipped\n")
    print("| query | pyoxigraph median ms | rdflib median ms | rdflib / pyoxigraph | rows (oxigraph / rdflib) |")
    print("|---|---:|---:|---:|---:|")
    for name, entry in rd["queries"].items():
        oxi = entry["pyoxigraph_ms"]["median"]
        if "rdflib_ms" in entry:
            rdf = entry["rdflib_ms"]["median"]
            ratio = f"{rdf / oxi:.0f}×" if oxi > 0 else "–"
            differs = " ⚠ differ" if entry["rdflib_rows"] != entry["pyoxigraph_rows"] else ""
            print(f"| `{name}` | {oxi:.1f} | {rdf:.1f} | {ratio} | {entry['pyoxigraph_rows']} / "
                  f"{entry['rdflib_rows']}{differs} |")
        else:
            print(f"| `{name}` | {oxi:.1f} | skipped ({entry['rdflib_skipped']}) | – | "
                  f"{entry['pyoxigraph_rows']} / – |")


def print_mlflow(args: argparse.Namespace, result: dict[str, Any]) -> None:
    ml, canned_ms = result["mlflow"], result["sizes"][0]["ms"]
    print(f"\nMLflow {__import__('mlflow').__version__} ({ml['backend']} backend): {ml['runs']} runs × "
          f"{ml['epochs_per_run']} epochs logged with MlflowClient.log_batch in {ml['log_seconds']} s; "
          f"the equivalent questions, median of {args.repeat} after a warm-up\n")
    print("| MLflow call | ≈ canned query | median ms | min–max ms | canned query median ms (first size) |")
    print("|---|---|---:|---:|---:|")
    for label, stats in ml["queries"].items():
        canned = canned_ms.get(stats["like"], {}).get("median")
        canned_text = "–" if canned is None else f"{canned:.1f}"
        print(f"| {label} | `{stats['like']}` | {stats['median']:.1f} | {stats['min']:.1f}–{stats['max']:.1f} "
              f"| {canned_text} |")


if __name__ == "__main__":
    main()
