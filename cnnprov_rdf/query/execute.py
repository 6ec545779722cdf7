"""Running a canned query: on a pyoxigraph Store, a `sources.Source`, a store path or an endpoint URL."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pyoxigraph import Store

from ..errors import QueryError
from ..graph.literals import python_value
from ..graph.vocabulary import IDX_NS
from ..storage.destination import Destination, Endpoint, StoreLocation, parse_destination
from ..storage.store import open_for_reading, read_consistently
from .binding import bind_parameters, with_values
from .library import CannedQuery, find_query
from .run_index import has_current_index, has_runs
from .shaping import shaper_for
from .sources import EndpointSource, Source

#: An xsd:dateTime's lexical form, as `python_value` leaves it (text, so that rows stay plain JSON values).
_DATE_TIME = re.compile(r"^-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?$")


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
        """A pandas DataFrame (pandas must be installed: it comes with the `demo` extra); a column of
        xsd:dateTime values (ISO 8601 text in the rows) becomes a column of UTC datetimes."""
        try:
            import pandas as pd  # type: ignore[import-untyped]
        except ImportError:
            raise QueryError("to_dataframe needs pandas: pip install pandas (or cnnprov-rdf[demo])") from None

        frame = pd.DataFrame(self.rows, columns=self.columns)
        for column in self.columns:
            values = [row[column] for row in self.rows if row[column] is not None]
            if values and all(isinstance(v, str) and _DATE_TIME.match(v) for v in values):
                frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        return frame


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
    `--run all` over every epoch of every run), from one snapshot. Parameters are checked before this returns."""
    query = find_query(name, queries_dir)
    columns, rows = _rows(query, queryable(store), params)
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
    query = find_query(name, queries_dir)

    def run(target: Store | Source) -> QueryResult:
        columns, rows = _rows(query, target, params)
        return QueryResult(query, columns, list(rows))

    if isinstance(store, str | os.PathLike | StoreLocation):
        destination = parse_destination(store)
        if isinstance(destination, StoreLocation):  # a fresh snapshot, read again if a writer changed it under us
            return read_consistently(destination.path, run)
    return run(queryable(store))


def _rows(
    query: CannedQuery, target: Store | Source, params: dict[str, Any]
) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """The result's columns and its rows, converted as they are read (gathered first for a `# shape:` step)."""
    if IDX_NS in query.text and not has_current_index(target) and has_runs(target):
        raise QueryError(f"query {query.name!r} reads the run index, which this store predates: add it once with "
                         f"`cnnprov reindex --store PATH` (a store a new Tracker opens gets it by itself)")
    shaper = None
    consumed: tuple[str, ...] = ()
    if query.shape is not None:  # a `# shape:` step: it may resolve parameters first, and rearranges the rows
        shaper = shaper_for(query)
        consumed = shaper.consumes
        defaults = {p.name: p.default for p in query.parameters if p.name in consumed and p.default is not None}
        params = shaper.prepare(target, defaults | dict(params))
    bindings = bind_parameters(query, target, {k: v for k, v in params.items() if not k.startswith("_")},
                               consumed=consumed)
    text = query.text if shaper is None or shaper.expand is None else shaper.expand(query.text, params)
    solutions: Any = target.query(with_values(text, bindings), use_default_graph_as_union=True)
    projected = [v.value for v in solutions.variables]
    if shaper is not None and shaper.shape is not None:
        # (an unbound variable is left out of its row: fewer conversions for rows with many optional columns)
        raw = [{column: python_value(term) for column, term in zip(projected, solution, strict=True)
                if term is not None} for solution in solutions]
        columns, shaped = shaper.shape(raw, params, bindings)
        return columns, iter(shaped)
    missing = [column for column in query.columns if column not in projected]
    if missing:
        raise QueryError(f"{query.path}: the header names columns the query does not select: {missing}")
    columns = list(query.columns)
    positions = [(column, projected.index(column)) for column in columns]  # by position: faster than by name
    return columns, ({column: python_value(solution[i]) for column, i in positions} for solution in solutions)
