"""The store behind a picture: opened read-only when given by path, and read through canned queries."""

from __future__ import annotations

import os
from typing import Any

from pyoxigraph import Store

from ..query.execute import QueryResult, run_query
from ..storage.store import readable_store


def open_store(store: Store | str | os.PathLike[str]) -> Store:
    """A pyoxigraph Store as given, or a read-only snapshot of the store at a path."""
    return readable_store(store, "a picture of runs")


def query(store: Store, name: str, **params: Any) -> QueryResult:
    """Run a canned query on an open store."""
    return run_query(store, name, **params)
