"""Running a canned query: on a pyoxigraph Store, a `sources.Source`, a store path or an endpoint URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pyoxigraph import Store

from ..errors import QueryError
from ..graph.literals import python_value
from ..graph.vocabulary import IDX_NS
from ..storage.destination import Destination, Endpoint, StoreLocation, parse_destination
from ..storage.store import open_for_reading
from .binding import bind_parameters, with_values
from .library import CannedQuery, find_query
from .run_index import has_index, has_runs
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


class RowStream:
    """Rows of a canned query as they come from the engine (each converted when it is read), once;
    `count` is how many have been read so far."""

    def __init__(self, query: CannedQuery, columns: list[str], rows: Iterator[dict[str, Any]]) -> None:
        self.query, self.columns, self._rows, self.count = query, columns, rows, 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self._rows:
            self.count += 1
            yield row


def stream_query(
    store: Store | Source | Destination | str | os.PathLike[str],
    name: str,
    *,
    queries_dir: str | os.PathLike[str] | None = None,
    **params: Any,
) -> RowStream:
    """Like `run_query`, but the rows are read as they are iterated, not gathered in a list first (for
    `--run all` over every epoch of every run). Parameters are checked before this returns."""
    query = find_query(name, queries_dir)
    target = queryable(store)
    if IDX_NS in query.text and not has_index(target) and has_runs(target):
        raise QueryError(f"query {name!r} reads the run index, which this store predates: add it once with "
                         f"`cnnprov reindex --store PATH` (a store a new Tracker opens gets it by itself)")
    bindings = bind_parameters(query, target, params)
    solutions: Any = target.query(with_values(query.text, bindings), use_default_graph_as_union=True)
    projected = [v.value for v in solutions.variables]
    missing = [column for column in query.columns if column not in projected]
    if missing:
        raise QueryError(f"{query.path}: the header names columns the query does not select: {missing}")
    columns = list(query.columns)
    positions = [(column, projected.index(column)) for column in columns]  # by position: faster than by name
    rows = ({column: python_value(solution[i]) for column, i in positions} for solution in solutions)
    return RowStream(query, columns, rows)


def run_query(
    store: Store | Source | Destination | str | os.PathLike[str],
    name: str,
    *,
    queries_dir: str | os.PathLike[str] | None = None,
    **params: Any,
) -> QueryResult:
    """Run the canned query `name` on a store (a pyoxigraph Store or a store path, opened read-only), a
    `sources.Source`, or a SPARQL endpoint (an `http(s)://` URL); `params` are the query's parameters."""
    stream = stream_query(store, name, queries_dir=queries_dir, **params)
    return QueryResult(stream.query, stream.columns, list(stream))
