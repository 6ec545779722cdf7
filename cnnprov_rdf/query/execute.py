"""Running a canned query: on a pyoxigraph Store, a `sources.Source`, a store path or an endpoint URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pyoxigraph import Store

from ..errors import QueryError
from ..graph.literals import python_value
from ..storage.destination import Destination, Endpoint, StoreLocation, parse_destination
from ..storage.store import open_for_reading, read_consistently
from .binding import bind_parameters, with_values
from .library import CannedQuery, find_query
from .sources import EndpointSource, Source


@dataclass
class QueryResult:
    """Rows of a canned query, as dicts of plain values in column order."""

    query: CannedQuery
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def to_dataframe(self) -> Any:
        """A pandas DataFrame (pandas must be installed)."""
        import pandas as pd  # type: ignore[import-untyped]

        return pd.DataFrame(self.rows, columns=self.columns)


def queryable(target: Store | Source | Destination | str | os.PathLike[str]) -> Store | Source:
    """A Store or a Source as given; a store path opened read-only, an endpoint URL as an `EndpointSource`."""
    if not isinstance(target, str | os.PathLike | StoreLocation | Endpoint):
        return target  # a Store, a Source, or anything else with their `query`
    destination = parse_destination(target)
    if isinstance(destination, Endpoint):
        return EndpointSource(destination.url)
    return open_for_reading(destination.path)


def run_query(
    store: Store | Source | Destination | str | os.PathLike[str],
    name: str,
    *,
    queries_dir: str | os.PathLike[str] | None = None,
    **params: Any,
) -> QueryResult:
    """Run the canned query `name` on a store (a pyoxigraph Store or a store path, opened read-only), a
    `sources.Source`, or a SPARQL endpoint (an `http(s)://` URL); `params` are the query's parameters."""
    query = find_query(name, queries_dir)
    if isinstance(store, str | os.PathLike | StoreLocation):
        destination = parse_destination(store)
        if isinstance(destination, StoreLocation):  # a fresh snapshot, read again if a writer changed it under us
            return read_consistently(destination.path, lambda snapshot: _run(query, snapshot, params))
    return _run(query, queryable(store), params)


def _run(query: CannedQuery, target: Store | Source, params: dict[str, Any]) -> QueryResult:
    bindings = bind_parameters(query, target, params)
    solutions: Any = target.query(with_values(query.text, bindings), use_default_graph_as_union=True)
    projected = [v.value for v in solutions.variables]
    missing = [column for column in query.columns if column not in projected]
    if missing:
        raise QueryError(f"{query.path}: the header names columns the query does not select: {missing}")
    columns = list(query.columns)
    positions = [(column, projected.index(column)) for column in columns]  # by position: faster than by name
    rows = [{column: python_value(solution[i]) for column, i in positions} for solution in solutions]
    return QueryResult(query, columns, rows)
