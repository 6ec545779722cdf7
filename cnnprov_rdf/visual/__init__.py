"""Pictures of the provenance store: a run's PROV graph, per-epoch curves, and a self-contained HTML report.

Every picture is drawn from the store through canned queries (`run_query`, among them `run-graph` and
`epoch-metrics`), never from side files.
"""

from __future__ import annotations

import os
from typing import Any

from pyoxigraph import Store

from ..query.execute import QueryResult, run_query
from ..storage.store import open_for_reading


def open_store(store: Store | str | os.PathLike[str]) -> Store:
    """A pyoxigraph Store as given, or a read-only snapshot of the store at a path."""
    return store if isinstance(store, Store) else open_for_reading(store)


def query(store: Store, name: str, **params: Any) -> QueryResult:
    """Run a canned query on an open store."""
    return run_query(store, name, **params)


from .graph import render, run_graph_dot, run_graph_svg  # noqa: E402
from .plot import plot_curves  # noqa: E402
from .report import build_report  # noqa: E402

__all__ = ["build_report", "open_store", "plot_curves", "query", "render", "run_graph_dot",
           "run_graph_svg"]
