"""Canned-query latency on a store of N runs × M epochs built through the real capture API and writer, beside
rdflib's in-memory SPARQL engine on the same quads and MLflow on the equivalent logged data.

    python bench/queries.py                 # 1,000 runs × 100 epochs, Markdown tables
    python bench/queries.py --quick --json  # 100 × 20, one JSON object
    python bench/queries.py --no-rdflib --no-mlflow   # the canned queries on pyoxigraph only

Each query runs `--repeat` times on a fresh read-only handle; the table gives median and spread (min–max).
rdflib is slow, so it gets its own smaller store (`--rdflib-runs` runs × the same epochs, built the same way):
its quads are exported from pyoxigraph as N-Quads into an rdflib Dataset (default graph = union), and the
same final query texts (parameters resolved against the pyoxigraph store, bound with the same VALUES blocks)
run on both engines over that same data. A query slower than `--rdflib-timeout` on rdflib is skipped.
MLflow (SQLite backend in a temp dir) gets the equivalent data of `--mlflow-runs` runs (params learning_rate,
epochs, batch_size, optimizer; metrics loss, accuracy, val_loss, val_accuracy per epoch step) through
`MlflowClient.log_batch`, and the equivalent questions through search_runs / get_metric_history / get_run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pyoxigraph import RdfFormat

from cnnprov_rdf.capture.events import LayerInfo
from cnnprov_rdf.capture.tracker import Tracker, local_agents
from cnnprov_rdf.query.binding import bind_parameters, with_values
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.query.library import find_query, load_queries
from cnnprov_rdf.storage.store import open_for_reading

LAYERS = [
    LayerInfo(1, "conv1", "Conv2D", 34_944, filters=96, kernel_size=(11, 11), strides=(4, 4), activation="relu"),
    LayerInfo(2, "pool1", "MaxPooling2D", 0, kernel_size=(3, 3), strides=(2, 2)),
    LayerInfo(3, "flatten", "Flatten"),
    LayerInfo(4, "dropout6", "Dropout", dropout_rate=0.5),
    LayerInfo(5, "fc6", "Dense", 37_752_832, units=4096, activation="relu"),
    LayerInfo(6, "fc8", "Dense", 69_649, units=17, activation="softmax"),
]


def synthetic_runs(runs: int, epochs: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """The runs of a grid search, as plain data (the same for the provenance store and for MLflow)."""
    rng = random.Random(seed)
    for index in range(runs):
        rate = rng.choice([0.0005, 0.001, 0.002])
        planned = rng.choice([epochs, epochs, epochs // 2 or 1])
        loss = 3.0
        epoch_rows = []
        for epoch in range(1, planned + 1):
            loss *= 0.97 + rng.random() * 0.02
            current = rate * 0.5 ** ((epoch - 1) // max(1, planned // 3))
            epoch_rows.append({"epoch": epoch, "elapsed_seconds": 1 + rng.random(), "learning_rate": current,
                               "metrics": {"loss": loss, "accuracy": 1 - loss / 3, "val_loss": loss * 1.1,
                                           "val_accuracy": 1 - loss / 2.8}})
        # about 1% of runs never end (killed), as running-now and failed-runs must see; 2% fail
        status = "running" if index % 100 == 99 else "failed" if index % 50 == 7 else "finished"
        yield {"index": index, "rate": rate, "planned": planned, "epochs": epoch_rows, "status": status,
               "test": {"loss": loss * 1.2, "accuracy": 1 - loss / 2.5}}


def build_store(path: Path, runs: int, epochs: int, seed: int = 0) -> dict[str, float]:
    """Capture `runs` synthetic trainings of `epochs` epochs each, like a grid search would."""
    agents = local_agents(framework_name="TensorFlow", framework_version="2.21.0", keras_version="3")
    started = time.perf_counter()
    events = 0
    with Tracker(path, max_pending=50_000) as tracker:
        for data in synthetic_runs(runs, epochs, seed):
            rate, planned = data["rate"], data["planned"]
            run = tracker.start_run(name=f"grid-{data['index']}", planned_epochs=planned, agents=agents)
            run.log_hyperparameters(learning_rate=rate, epochs=planned, batch_size=32, optimizer="SGD")
            run.log_dataset("oxford-flowers-17", location="/data/flowers17", train_fraction=0.8,
                            train_examples=1088, test_examples=272)
            run.log_schedule("step-decay", initial_rate=rate, factor=0.5, every=max(1, planned // 3))
            run.log_architecture("alexnet", 58_000_000, LAYERS)
            events += 5
            for row in data["epochs"]:
                run.log_epoch(row["epoch"], row["metrics"], elapsed_seconds=row["elapsed_seconds"],
                              learning_rate=row["learning_rate"])
                events += 1
            if data["status"] == "running":
                continue
            if data["status"] == "failed":
                run.fail(RuntimeError("out of memory"))
            run.end()
            run.log_test(data["test"])
            events += 2
        tracker.flush()
    seconds = time.perf_counter() - started
    return {"build_seconds": seconds, "events": events}


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


def canned_latencies(path: Path, repeat: int) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {}
    for name in load_queries():
        store = open_for_reading(path)
        latencies[name] = time_calls(lambda store=store, name=name: run_query(store, name), repeat)
    return latencies


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
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true",
                        help="100 runs × 20 epochs, 5 repeats; rdflib on 20 runs, MLflow on 100")
    parser.add_argument("--rdflib-runs", type=int, default=50, help="runs in rdflib's (smaller) store")
    parser.add_argument("--rdflib-timeout", type=float, default=30.0, help="skip an rdflib query slower than this")
    parser.add_argument("--mlflow-runs", type=int, help="runs logged into MLflow (default: --runs)")
    parser.add_argument("--no-rdflib", action="store_true", help="leave rdflib out")
    parser.add_argument("--no-mlflow", action="store_true", help="leave MLflow out")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--keep", type=Path, help="build the store here and keep it")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.epochs, args.repeat = 100, 20, 5
        args.rdflib_runs = min(args.rdflib_runs, 20)
    args.rdflib_runs = min(args.rdflib_runs, args.runs)
    args.mlflow_runs = args.mlflow_runs or args.runs
    workdir = Path(tempfile.mkdtemp(prefix="cnnprov-bench-"))
    path = args.keep or workdir / "store"
    rdflib_result = mlflow_result = None
    try:
        built = build_store(path, args.runs, args.epochs)
        size = store_bytes(path)
        epoch_records = sum(1 for _ in open_for_reading(path).query(
            "SELECT ?e WHERE { GRAPH ?g { ?e a <https://w3id.org/cnnprov/ontology#EpochResult> } }"))
        latencies = canned_latencies(path, args.repeat)
        if not args.no_rdflib:
            small = path if args.rdflib_runs == args.runs else workdir / "rdflib-store"
            if small != path:
                build_store(small, args.rdflib_runs, args.epochs)
            rdflib_result = rdflib_latencies(small, min(args.repeat, 3), args.rdflib_timeout)
        if not args.no_mlflow:
            (workdir / "mlflow").mkdir()
            mlflow_result = mlflow_latencies(workdir / "mlflow", args.mlflow_runs, args.epochs, args.repeat)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result: dict[str, Any] = {
        "runs": args.runs, "epochs_per_run": args.epochs, "epoch_records": epoch_records,
        "build_seconds": round(built["build_seconds"], 2),
        "events_per_second": round(built["events"] / built["build_seconds"]),
        "store_bytes": size, "bytes_per_epoch_record": round(size / max(epoch_records, 1)),
        "query_ms": {n: summary(s) for n, s in latencies.items()},
    }
    if rdflib_result is not None:
        result["rdflib"] = {
            "runs": args.rdflib_runs, "epochs_per_run": args.epochs, "quads": rdflib_result["quads"],
            "load_seconds": round(rdflib_result["load_seconds"], 2), "repeat": min(args.repeat, 3),
            "timeout_seconds": args.rdflib_timeout,
            "queries": {n: {"pyoxigraph_ms": summary(e["pyoxigraph_ms"]), "pyoxigraph_rows": e["pyoxigraph_rows"]}
                        | ({"rdflib_ms": summary(e["rdflib_ms"]), "rdflib_rows": e["rdflib_rows"]}
                           if "rdflib_ms" in e else {"rdflib_skipped": e["rdflib_skipped"]})
                        for n, e in rdflib_result["queries"].items()},
        }
    if mlflow_result is not None:
        result["mlflow"] = {
            "runs": args.mlflow_runs, "epochs_per_run": args.epochs, "backend": "sqlite",
            "log_seconds": round(mlflow_result["log_seconds"], 2),
            "queries": {label: {"like": q["like"]} | summary(q["ms"]) for label, q in mlflow_result["queries"].items()},
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print_tables(args, result)


def print_tables(args: argparse.Namespace, result: dict[str, Any]) -> None:
    print(f"Store: {args.runs} runs × {args.epochs} epochs = {result['epoch_records']} epoch records, built in "
          f"{result['build_seconds']} s ({result['events_per_second']} events/s through the writer), "
          f"{result['store_bytes'] / 1e6:.1f} MB on disk ({result['bytes_per_epoch_record']} bytes per epoch record)\n")
    print("| query | median ms | min–max ms |")
    print("|---|---:|---:|")
    for name, stats in result["query_ms"].items():
        flag = "" if stats["median"] <= 100 else " ⚠"
        print(f"| `{name}` | {stats['median']:.1f}{flag} | {stats['min']:.1f}–{stats['max']:.1f} |")
    if "rdflib" in result:
        rd = result["rdflib"]
        print(f"\nrdflib {__import__('rdflib').__version__} (in-memory Dataset, default graph = union) vs pyoxigraph "
              f"on the same smaller store: {rd['runs']} runs × {rd['epochs_per_run']} epochs = {rd['quads']} quads "
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
        if any(e.get("rdflib_rows", e["pyoxigraph_rows"]) != e["pyoxigraph_rows"] for e in rd["queries"].values()):
            print("\n⚠ differ: rdflib returns other rows than pyoxigraph for the same text (an rdflib SPARQL "
                  "evaluation difference, not investigated here); its time is then not like for like.")
    if "mlflow" in result:
        ml = result["mlflow"]
        print(f"\nMLflow {__import__('mlflow').__version__} ({ml['backend']} backend): {ml['runs']} runs × "
              f"{ml['epochs_per_run']} epochs logged with MlflowClient.log_batch in {ml['log_seconds']} s; "
              f"the equivalent questions, median of {args.repeat} after a warm-up\n")
        print("| MLflow call | ≈ canned query | median ms | min–max ms | canned query median ms |")
        print("|---|---|---:|---:|---:|")
        for label, stats in ml["queries"].items():
            canned = result["query_ms"].get(stats["like"], {}).get("median")
            canned_text = "–" if canned is None else f"{canned:.1f}"
            print(f"| {label} | `{stats['like']}` | {stats['median']:.1f} | {stats['min']:.1f}–{stats['max']:.1f} "
                  f"| {canned_text} |")
        if ml["runs"] != args.runs:
            print(f"\n(MLflow holds {ml['runs']} runs, the provenance store {args.runs}.)")


if __name__ == "__main__":
    main()
