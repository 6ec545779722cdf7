"""`cnnprov export`, `import`, `validate`, `reason`, `compact` and `reindex`: moving and checking a store's
contents."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigurationError, ExportError
from ..interop.export import ALIASES, EXTENSIONS, FORMATS, export, format_for_path, format_name
from ..interop.importers.registry import FOREIGN_TOOLS, import_foreign
from ..interop.interchange import IMPORT_FORMATS, PROV_EXPORT_FORMATS, export_prov, import_file
from ..interop.limits import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, DEFAULT_TIMEOUT, ImportLimits
from ..interop.reasoning import reason, remove_inferences
from ..interop.validation import validate
from ..storage.run_index import indexed_runs, reindex
from ..storage.store import compact, open_for_reading, open_for_writing, read_consistently
from .output import progress


def cmd_export(args: argparse.Namespace) -> int:
    if args.format is None:  # from the output file's extension (run.jsonld, run.nq, run.provn), else Turtle
        args.format = (format_for_path(args.output) if args.output is not None else None) or "turtle"
    args.format = format_name(args.format)
    if args.format not in FORMATS and args.format not in PROV_EXPORT_FORMATS:
        raise ExportError(f"unknown export format {args.format!r}; choose one of "
                          f"{', '.join([*FORMATS, *PROV_EXPORT_FORMATS, *ALIASES])}")
    if args.format in PROV_EXPORT_FORMATS:
        text = read_consistently(args.store, lambda store: export_prov(store, args.format, args.run))
        if args.output is None:
            print(text)
            return 0
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
        return 0
    data = read_consistently(args.store, lambda store: export(
        store, args.format, args.run, args.output, named_graphs=True if args.named_graphs else None))
    if data is not None:
        sys.stdout.buffer.write(data)
    else:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    if args.source_tool != "prov":
        if args.graph or args.format:
            raise ConfigurationError(f"--graph and --format are for PROV documents, not for --from {args.source_tool}")
        foreign = import_foreign(args.store, args.source_tool, args.file)
        for warning in foreign.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"imported {len(foreign.runs)} {args.source_tool} run(s) from {args.file}: {foreign.quads_added} quads "
              f"added ({', '.join(foreign.runs[:5])}{', …' if len(foreign.runs) > 5 else ''})")
        return 0
    limits = ImportLimits(max_bytes=args.max_bytes, max_depth=args.max_depth, timeout=args.timeout)
    result = import_file(args.store, args.file, graph=args.graph, fmt=args.format, limits=limits)
    for warning in result.warnings:
        print(f"warning: {args.file}: {warning}", file=sys.stderr)
    state = "already present, nothing added" if result.already_present else f"{result.quads_added} quads added"
    print(f"imported {args.file} ({result.format}) into graph <{result.graph}>: {state}")
    return 0


def _bytes(text: str) -> int:
    """A byte count, with an optional K, M or G suffix (powers of 1024)."""
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
    try:
        return int(float(text[:-1] if scale > 1 else text) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a byte count: {text!r} (e.g. 500M)") from None


def cmd_reason(args: argparse.Namespace) -> int:
    if args.remove:
        print(f"removed {remove_inferences(args.store, args.run)} inferred graph(s)")
        return 0
    report = reason(args.store, args.run, progress=progress)  # owlrl takes seconds per run: say which one
    for run in report.runs:
        print(f"{run.run}: {run.inferred_triples} inferred triples in <{run.inferred_graph}> "
              f"({run.seconds:.1f} s), {'consistent' if run.consistent else 'INCONSISTENT'}")
        for problem in run.inconsistencies:
            print(f"  inconsistency: {problem}")
    return 0 if report.consistent else 1


def cmd_validate(args: argparse.Namespace) -> int:
    report = read_consistently(args.store, lambda store: validate(store, args.run))
    print(report.text())
    return 0 if report.conforms else 1


def cmd_compact(args: argparse.Namespace) -> int:
    if not (args.store / "CURRENT").exists():
        open_for_reading(args.store)  # raises the clear "no provenance store" error
    before, after = compact(args.store)
    print(f"compacted {args.store}: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    open_for_reading(args.store)  # raises the clear "no provenance store" error
    store = open_for_writing(args.store)
    try:
        reindex(store)
        store.flush()
        print(f"run index of {args.store}: {indexed_runs(store)} runs")
    finally:
        del store
    return 0


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    store: argparse.ArgumentParser,
    runs: argparse.ArgumentParser,
) -> None:
    """Add `export`, `import`, `reason`, `validate`, `compact` and `reindex`."""
    exporter = sub.add_parser("export", parents=[store, runs], help="export runs as RDF")
    exporter.add_argument("--format", metavar="FORMAT",
                          help=f"{', '.join([*FORMATS, *PROV_EXPORT_FORMATS])} (or ttl, nt, nq, rdf); default: from "
                               "the output file's extension, else turtle")
    exporter.add_argument("-o", "--output", type=Path,
                          help=f"output file (e.g. run.{EXTENSIONS['turtle']}, run.jsonld, run.provn)")
    exporter.add_argument("--named-graphs", action="store_true",
                          help="jsonld: keep one named graph per run (default: plain triples)")
    exporter.set_defaults(func=cmd_export)

    importer = sub.add_parser(
        "import", parents=[store],
        help="import foreign PROV (PROV-O in any RDF syntax, PROV-JSON, PROV-N, PROV-XML, PROV-JSON-LD) or another "
             "tool's runs (--from mlflow|yprov4ml)")
    importer.add_argument("file", metavar="SOURCE",  # a str: a Path would fold a URI's `//` into `/`
                          help="a PROV document; an MLflow tracking store (mlruns folder, .db file or URI); a "
                               "yProv4ML PROV-JSON file or experiment folder")
    importer.add_argument("--from", dest="source_tool", choices=["prov", *FOREIGN_TOOLS], default="prov",
                          help="what SOURCE is (default: a PROV document)")
    importer.add_argument("--graph", help="named graph IRI (default: derived from the file's content)")
    importer.add_argument("--format", choices=list(IMPORT_FORMATS),
                          help="default: told by the content, checked against the extension")
    importer.add_argument("--max-bytes", type=_bytes, default=DEFAULT_MAX_BYTES,
                          help="refuse larger files (e.g. 200M, 2G; default 1G)")
    importer.add_argument("--max-depth", type=int, default=DEFAULT_MAX_DEPTH,
                          help=f"refuse brackets nested deeper (default {DEFAULT_MAX_DEPTH})")
    importer.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                          help=f"give up after this many seconds (default {DEFAULT_TIMEOUT:g})")
    importer.set_defaults(func=cmd_import)

    reasoner = sub.add_parser("reason", parents=[store, runs], help="OWL-RL closure of runs into removable graphs")
    reasoner.add_argument("--remove", action="store_true", help="remove the inferred graphs instead")
    reasoner.set_defaults(func=cmd_reason)

    validator = sub.add_parser("validate", parents=[store, runs], help="check runs against the SHACL shapes")
    validator.set_defaults(func=cmd_validate)

    compactor = sub.add_parser("compact", parents=[store], help="compact a store no process is writing")
    compactor.set_defaults(func=cmd_compact)

    reindexer = sub.add_parser("reindex", parents=[store], help="add the run index to runs that lack it "
                               "(a store written before it existed; needs no other writer)")
    reindexer.set_defaults(func=cmd_reindex)
