"""`cnnprov graph`, `plot` and `report`: pictures of runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..graph.metrics import EPOCH_FIELDS
from ..storage.store import read_consistently
from ..visual import build_report, plot_curves, render, run_graph_dot
from .output import progress_bar


def cmd_graph(args: argparse.Namespace) -> int:
    dot = read_consistently(args.store, lambda store: run_graph_dot(
        store, args.run, all_epochs=args.epochs, all_hyperparameters=args.all_hyperparameters))
    if args.output is None:
        print(dot)
        return 0
    print(f"wrote {render(dot, args.output)}", file=sys.stderr)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    read_consistently(args.store, lambda store: plot_curves(store, args.run, args.metric, path=args.output))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    html = read_consistently(args.store, lambda store: build_report(
        store, args.run, progress=lambda run_id, done, total: progress_bar("report", done, total)))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(html, encoding="utf-8")
    print(f"wrote {args.output} ({len(html) / 1e3:.0f} kB)", file=sys.stderr)
    return 0


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    store: argparse.ArgumentParser,
    runs: argparse.ArgumentParser,
) -> None:
    """Add `graph`, `plot` and `report`."""
    grapher = sub.add_parser("graph", parents=[store], help="draw a run's PROV graph (Graphviz)")
    grapher.add_argument("--run", default="latest", help="run IRI, id, id prefix, latest or previous")
    grapher.add_argument("-o", "--output", type=Path, help="FILE.svg, .png, .pdf or .dot (default: DOT on stdout)")
    grapher.add_argument("--epochs", action="store_true", help="one node per epoch instead of one for all")
    grapher.add_argument("--all-hyperparameters", action="store_true", help="one node per hyperparameter")
    grapher.set_defaults(func=cmd_graph)

    plotter = sub.add_parser("plot", parents=[store], help="per-epoch curves of runs (matplotlib)")
    plotter.add_argument("--run", action="append", help="run IRI, id or id prefix (repeatable; default: latest)")
    plotter.add_argument("--metric", default="loss", choices=list(EPOCH_FIELDS))
    plotter.add_argument("-o", "--output", type=Path, default=Path("curves.png"), help="FILE.png or .svg")
    plotter.set_defaults(func=cmd_plot)

    reporter = sub.add_parser("report", parents=[store, runs], help="one self-contained HTML report")
    reporter.add_argument("-o", "--output", type=Path, default=Path("report.html"))
    reporter.set_defaults(func=cmd_report)
