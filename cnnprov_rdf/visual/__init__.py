"""Pictures of the provenance store: a run's PROV graph, per-epoch curves, and a self-contained HTML report.

Every picture is drawn from the store through canned queries (`run_query`, among them `run-graph` and
`epoch-metrics`), never from side files.
"""

from ._store import open_store, query
from .graph import render, run_graph_dot, run_graph_svg
from .plot import plot_curves
from .report import build_report

__all__ = ["build_report", "open_store", "plot_curves", "query", "render", "run_graph_dot",
           "run_graph_svg"]
