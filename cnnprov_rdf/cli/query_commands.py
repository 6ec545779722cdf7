"""`cnnprov query`, `queries` and `federate`: canned queries on stores and endpoints."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..query.execute import stream_query
from ..query.federation import federated_compare, federated_query, shared_datasets
from ..query.library import find_query, load_queries
from .options import add_sources, parse_params, sources
from .output import format_rows, write_rows

_FORMATS = ["table", "csv", "json"]


def cmd_query(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {**parse_params(args.param)}
    if args.run:
        # `--run` is repeatable: one run for a query with a run parameter, else the list of a `runs` one
        # (`query compare-runs --run A --run B --run C`).
        names = {p.name for p in find_query(args.name, args.queries_dir).parameters}
        if len(args.run) == 1 and ("run" in names or "runs" not in names):
            params["run"] = args.run[0]
        else:
            params["runs"] = list(args.run)
    chosen = sources(args)
    if len(chosen) > 1:
        result = federated_query(chosen, args.name, queries_dir=args.queries_dir, **params)
        print(format_rows(result.columns, result.rows, args.format))
        return 0
    stream = stream_query(chosen[0], args.name, queries_dir=args.queries_dir, **params)
    write_rows(stream.columns, stream, args.format, sys.stdout)
    if str(params.get("run", "")) == "all":  # every run: say how many rows came (stdout may be a pipe)
        print(f"{stream.count} rows", file=sys.stderr)
    return 0


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


def _run_at_source(reference: str) -> tuple[str, str]:
    run, sep, source = reference.rpartition("@")
    if not sep or not run or not source:
        raise ConfigurationError(
            f"expected RUN@SOURCE (a run id and a store path or endpoint URL), got {reference!r}")
    return run, source


def cmd_federate(args: argparse.Namespace) -> int:
    if args.what == "compare-runs":
        if not (args.a and args.b):
            raise ConfigurationError("federate compare-runs needs --a RUN@SOURCE and --b RUN@SOURCE")
        (run_a, source_a), (run_b, source_b) = _run_at_source(args.a), _run_at_source(args.b)
        result = federated_compare(source_a, run_a, source_b, run_b)
    else:
        result = shared_datasets(sources(args))
    print(format_rows(result.columns, result.rows, args.format))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `query`, `queries` and `federate`."""
    query = sub.add_parser("query", help="run a canned query on a store, an endpoint, or several (federated)")
    query.add_argument("name")
    add_sources(query)
    query.add_argument("--run", action="append",
                       help="shorthand for --param run=RUN (a name, IRI, id, id prefix, latest or previous); "
                            "repeatable for a query that takes several runs (compare-runs)")
    query.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    query.add_argument("--format", choices=_FORMATS, default="table")
    query.add_argument("--queries-dir", type=Path, help="extra directory of .rq files")
    query.set_defaults(func=cmd_query)

    listing = sub.add_parser("queries", help="list the canned queries")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.add_argument("--queries-dir", type=Path, help="extra directory of .rq files")
    listing.set_defaults(func=cmd_queries)

    federate = sub.add_parser("federate", help="questions across several stores and endpoints")
    federate.add_argument("what", choices=["compare-runs", "shared-datasets"])
    add_sources(federate, help_text=False)
    federate.add_argument("--a", metavar="RUN@SOURCE", help="compare-runs: first run and its store or endpoint")
    federate.add_argument("--b", metavar="RUN@SOURCE", help="compare-runs: second run and its store or endpoint")
    federate.add_argument("--format", choices=_FORMATS, default="table")
    federate.set_defaults(func=cmd_federate)
