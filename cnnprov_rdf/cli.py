"""The `cnnprov` command line: demo, query(ies), export, import, validate, reason, graph, plot, report, serve,
compact."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .interop.export import EXTENSIONS, FORMATS, ExportError, export
from .interop.interchange import IMPORT_FORMATS, PROV_EXPORT_FORMATS, InterchangeError, export_prov, import_file
from .query.execute import run_query
from .query.library import QueryError, load_queries
from .query.runs import RunNotFoundError
from .storage.destination import STORE_ENV, default_store_path
from .storage.store import StoreError, compact, open_for_reading


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Infinity
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def format_rows(columns: Sequence[str], rows: Sequence[dict[str, Any]], fmt: str) -> str:
    """Rows as an aligned text table, CSV, or a JSON list of objects with plain values."""
    if fmt == "json":
        return json.dumps([{c: _json_value(row[c]) for c in columns} for row in rows], indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if row[c] is None else row[c] for c in columns] for row in rows])
        return buffer.getvalue().rstrip("\n")
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _parse_params(pairs: Sequence[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise QueryError(f"--param takes key=value, got {pair!r}")
        params[key] = value
    return params


def _sources(args: argparse.Namespace) -> list[Any]:
    """The stores and endpoints a command reads, in the order given (default: the default store)."""
    from .query.sources import as_source

    return [as_source(location) for location in (args.sources or [str(default_store_path())])]


def cmd_query(args: argparse.Namespace) -> int:
    from .query.federation import federated_query

    params = _parse_params(args.param)
    if args.run is not None:
        params["run"] = args.run
    sources = _sources(args)
    if len(sources) == 1:
        result = run_query(sources[0], args.name, queries_dir=args.queries_dir, **params)
    else:
        result = federated_query(sources, args.name, queries_dir=args.queries_dir, **params)
    print(format_rows(result.columns, result.rows, args.format))
    return 0


def _run_at_source(reference: str) -> tuple[str, str]:
    run, sep, source = reference.rpartition("@")
    if not sep or not run or not source:
        raise QueryError(f"expected RUN@SOURCE (a run id and a store path or endpoint URL), got {reference!r}")
    return run, source


def cmd_federate(args: argparse.Namespace) -> int:
    from .query.federation import federated_compare, shared_datasets

    if args.what == "compare-runs":
        if not (args.a and args.b):
            raise QueryError("federate compare-runs needs --a RUN@SOURCE and --b RUN@SOURCE")
        (run_a, source_a), (run_b, source_b) = _run_at_source(args.a), _run_at_source(args.b)
        result = federated_compare(source_a, run_a, source_b, run_b)
    else:
        result = shared_datasets(_sources(args))
    print(format_rows(result.columns, result.rows, args.format))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .storage.endpoint import spool_status

    spools = spool_status(args.spool_dir)
    if not spools:
        print("no spooled events: every captured event reached its endpoint")
        return 0
    rows = [{"endpoint": url, "spooled_quads": quads, "spool": str(path)} for url, path, quads in spools]
    print(format_rows(["endpoint", "spooled_quads", "spool"], rows, "table"))
    print("replay them with `cnnprov flush` once the endpoint answers")
    return 0


def cmd_flush(args: argparse.Namespace) -> int:
    from .storage.endpoint import EndpointError, replay_spool, spool_status

    targets = [args.spool] if args.spool else [str(path) for _, path, _ in spool_status(args.spool_dir)]
    failed = 0
    for target in targets:
        try:
            print(f"{target}: {replay_spool(target, url=args.endpoint)} quads sent")
        except EndpointError as error:
            failed += 1
            print(f"cnnprov: error: {target}: {error}", file=sys.stderr)
    if not targets:
        print("nothing to flush")
    return 1 if failed else 0


def cmd_queries(args: argparse.Namespace) -> int:
    queries = [q.describe() for q in load_queries(args.queries_dir).values()]
    if args.format == "json":
        print(json.dumps(queries, indent=2))
        return 0
    rows = [
        {
            "name": q["name"],
            "title": q["title"],
            "parameters": ", ".join(
                p["name"] + ("" if p["required"] else f"={p['default']}") for p in q["parameters"]
            ),
        }
        for q in queries
    ]
    print(format_rows(["name", "title", "parameters"], rows, "table"))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store = open_for_reading(args.store)
    if args.format in PROV_EXPORT_FORMATS:
        text = export_prov(store, args.format, args.run)
        if args.output is None:
            print(text)
            return 0
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
        return 0
    data = export(store, args.format, args.run, args.output)
    if data is not None:
        sys.stdout.buffer.write(data)
    else:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _progress(message: str) -> None:
    """Progress of long operations on a terminal; silent when stderr is not one."""
    if sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)


def _progress_bar(label: str, done: int, total: int) -> None:
    """A one-line progress bar on a terminal; silent when stderr is not one."""
    if not sys.stderr.isatty() or total <= 0:
        return
    filled = round(30 * done / total)
    end = "\n" if done >= total else ""
    print(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}", end=end, file=sys.stderr, flush=True)


def cmd_graph(args: argparse.Namespace) -> int:
    from .visual import render, run_graph_dot

    dot = run_graph_dot(open_for_reading(args.store), args.run, all_epochs=args.epochs,
                        all_hyperparameters=args.all_hyperparameters)
    if args.output is None:
        print(dot)
        return 0
    print(f"wrote {render(dot, args.output)}", file=sys.stderr)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .visual import plot_curves

    plot_curves(open_for_reading(args.store), args.run, args.metric, path=args.output)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .visual import build_report

    html = build_report(open_for_reading(args.store), args.run,
                        progress=lambda run_id, done, total: _progress_bar("report", done, total))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(html, encoding="utf-8")
    print(f"wrote {args.output} ({len(html) / 1e3:.0f} kB)", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    result = import_file(args.store, args.file, graph=args.graph, fmt=args.format)
    state = "already present, nothing added" if result.already_present else f"{result.quads_added} quads added"
    print(f"imported {args.file} ({result.format}) into graph <{result.graph}>: {state}")
    return 0


def cmd_reason(args: argparse.Namespace) -> int:
    from .interop.reasoning import reason, remove_inferences

    if args.remove:
        print(f"removed {remove_inferences(args.store, args.run)} inferred graph(s)")
        return 0
    report = reason(args.store, args.run, progress=_progress)  # owlrl takes seconds per run: say which one
    for run in report.runs:
        print(f"{run.run}: {run.inferred_triples} inferred triples in <{run.inferred_graph}> "
              f"({run.seconds:.1f} s), {'consistent' if run.consistent else 'INCONSISTENT'}")
        for problem in run.inconsistencies:
            print(f"  inconsistency: {problem}")
    return 0 if report.consistent else 1


def cmd_validate(args: argparse.Namespace) -> int:
    from .interop.validation import validate

    report = validate(open_for_reading(args.store), args.run)
    print(report.text())
    return 0 if report.conforms else 1


def cmd_serve(args: argparse.Namespace) -> int:
    from .storage.server import serve_command

    open_for_reading(args.store)  # a clear error for a missing store before the server starts
    command = serve_command(args.store, args.bind, args.read_write)
    mode = "read-write" if args.read_write else "read-only"
    print(f"serving {args.store} ({mode}) at http://{args.bind}/ (SPARQL endpoint /query"
          f"{', /update' if args.read_write else ''}); Ctrl-C stops it", file=sys.stderr)
    sys.stderr.flush()
    os.execv(command[0], command)  # the server replaces this process: signals reach it directly
    return 0  # not reached


def cmd_compact(args: argparse.Namespace) -> int:
    if not (args.store / "CURRENT").exists():
        open_for_reading(args.store)  # raises the clear "no provenance store" error
    before, after = compact(args.store)
    print(f"compacted {args.store}: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .demo.training import TrainingConfig, train_alexnet  # TensorFlow loads only for the demo

    config = TrainingConfig(epochs=args.epochs, run_name="demo")
    print(f"Training AlexNet for {config.epochs} epochs with capture into {args.store} …", file=sys.stderr)
    outcome = train_alexnet(config, store=args.store)
    result = run_query(args.store, "epoch-loss-time", run=outcome.run_id)
    print("What were the loss and the elapsed training time of each epoch?")
    print(format_rows(result.columns, result.rows, "table"))
    store = open_for_reading(args.store)
    export(store, "turtle", [outcome.run_id], args.output)
    print(f"Turtle export of run {outcome.run_id}: {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnprov", description="CNN training provenance as a PROV-O graph.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store", type=Path, default=default_store_path(),
        help=f"provenance store directory (default: ${STORE_ENV} or ./provenance)",
    )
    runs = argparse.ArgumentParser(add_help=False)
    runs.add_argument("--run", action="append", help="run IRI, id or id prefix (repeatable; default: all)")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", parents=[common], help="train the example with capture, query it, export it")
    demo.add_argument("--epochs", type=int, default=3)
    demo.add_argument("-o", "--output", type=Path, default=Path("cnnprov-demo.ttl"))
    demo.set_defaults(func=cmd_demo)

    query = sub.add_parser("query", help="run a canned query on a store, an endpoint, or several (federated)")
    query.add_argument("name")
    query.add_argument("--store", dest="sources", action="append", type=str, metavar="PATH",
                       help=f"provenance store (repeatable; default: ${STORE_ENV} or ./provenance)")
    query.add_argument("--endpoint", dest="sources", action="append", metavar="URL",
                       help="SPARQL endpoint, e.g. http://127.0.0.1:7878/query (repeatable)")
    query.add_argument("--run", help="shorthand for --param run=RUN")
    query.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    query.add_argument("--format", choices=["table", "csv", "json"], default="table")
    query.add_argument("--queries-dir", type=Path, help="extra directory of .rq files")
    query.set_defaults(func=cmd_query)

    listing = sub.add_parser("queries", help="list the canned queries")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.add_argument("--queries-dir", type=Path, help="extra directory of .rq files")
    listing.set_defaults(func=cmd_queries)

    exporter = sub.add_parser("export", parents=[common, runs], help="export runs as RDF")
    exporter.add_argument("--format", choices=[*FORMATS, *PROV_EXPORT_FORMATS], default="turtle")
    exporter.add_argument("-o", "--output", type=Path, help=f"output file (e.g. run.{EXTENSIONS['turtle']})")
    exporter.set_defaults(func=cmd_export)
    importer = sub.add_parser("import", parents=[common], help="import foreign PROV (RDF, PROV-JSON, PROV-N)")
    importer.add_argument("file", type=Path)
    importer.add_argument("--graph", help="named graph IRI (default: derived from the file's content)")
    importer.add_argument("--format", choices=list(IMPORT_FORMATS), help="default: from the file extension")
    importer.set_defaults(func=cmd_import)

    reasoner = sub.add_parser("reason", parents=[common, runs], help="OWL-RL closure of runs into removable graphs")
    reasoner.add_argument("--remove", action="store_true", help="remove the inferred graphs instead")
    reasoner.set_defaults(func=cmd_reason)

    validator = sub.add_parser("validate", parents=[common, runs], help="check runs against the SHACL shapes")
    validator.set_defaults(func=cmd_validate)

    federate = sub.add_parser("federate", help="questions across several stores and endpoints")
    federate.add_argument("what", choices=["compare-runs", "shared-datasets"])
    federate.add_argument("--store", dest="sources", action="append", type=str, metavar="PATH")
    federate.add_argument("--endpoint", dest="sources", action="append", metavar="URL")
    federate.add_argument("--a", metavar="RUN@SOURCE", help="compare-runs: first run and its store or endpoint")
    federate.add_argument("--b", metavar="RUN@SOURCE", help="compare-runs: second run and its store or endpoint")
    federate.add_argument("--format", choices=["table", "csv", "json"], default="table")
    federate.set_defaults(func=cmd_federate)

    status = sub.add_parser("status", help="events spooled while an endpoint was unreachable")
    status.add_argument("--spool-dir", type=Path, help="default: $CNNPROV_SPOOL_DIR or ~/.cache/cnnprov/spool")
    status.set_defaults(func=cmd_status)

    flush = sub.add_parser("flush", help="replay spooled events (e.g. left by a dead training process)")
    flush.add_argument("spool", nargs="?", help="a spool file or endpoint URL (default: every spool)")
    flush.add_argument("--endpoint", help="send to this endpoint instead of the one recorded with the spool")
    flush.add_argument("--spool-dir", type=Path)
    flush.set_defaults(func=cmd_flush)

    grapher = sub.add_parser("graph", parents=[common], help="draw a run's PROV graph (Graphviz)")
    grapher.add_argument("--run", default="latest", help="run IRI, id, id prefix, latest or previous")
    grapher.add_argument("-o", "--output", type=Path, help="FILE.svg, .png, .pdf or .dot (default: DOT on stdout)")
    grapher.add_argument("--epochs", action="store_true", help="one node per epoch instead of one for all")
    grapher.add_argument("--all-hyperparameters", action="store_true", help="one node per hyperparameter")
    grapher.set_defaults(func=cmd_graph)

    plotter = sub.add_parser("plot", parents=[common], help="per-epoch curves of runs (matplotlib)")
    plotter.add_argument("--run", action="append", help="run IRI, id or id prefix (repeatable; default: latest)")
    plotter.add_argument("--metric", default="loss",
                         choices=["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "elapsed_seconds"])
    plotter.add_argument("-o", "--output", type=Path, default=Path("curves.png"), help="FILE.png or .svg")
    plotter.set_defaults(func=cmd_plot)

    reporter = sub.add_parser("report", parents=[common, runs], help="one self-contained HTML report")
    reporter.add_argument("-o", "--output", type=Path, default=Path("report.html"))
    reporter.set_defaults(func=cmd_report)

    server = sub.add_parser("serve", parents=[common], help="serve the store with the Oxigraph SPARQL server")
    server.add_argument("--bind", default="127.0.0.1:7878", help="host:port (default: loopback only)")
    server.add_argument("--read-write", action="store_true", help="accept SPARQL updates (default: read-only)")
    server.set_defaults(func=cmd_serve)

    compactor = sub.add_parser("compact", parents=[common], help="compact a store no process is writing")
    compactor.set_defaults(func=cmd_compact)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (QueryError, StoreError, ExportError, RunNotFoundError, InterchangeError) as error:
        print(f"cnnprov: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
