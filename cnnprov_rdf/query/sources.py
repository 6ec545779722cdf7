"""Where queries run: a local store or a SPARQL endpoint, behind one `Source` interface.

A `Source` answers SELECT queries with pyoxigraph terms, whether it is a local store (`LocalSource`, read-only,
the union of all graphs as the default graph) or a remote SPARQL 1.1 endpoint (`EndpointSource`, queried by
POST with JSON results; an endpoint whose default graph is not the union of its graphs gets every query with
its named graphs as the dataset, see `query.engines`, so the canned queries give the same rows on every engine).
A source also answers `query(text)` like a pyoxigraph Store, so the canned queries and the run references
(`latest`, ids, prefixes) work on it unchanged. `federation` combines several sources.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

from pyoxigraph import BlankNode, Literal, NamedNode, Store, Triple, Variable

from ..errors import SourceError
from ..storage.capabilities import decode_term
from ..storage.destination import Destination, Endpoint, parse_destination
from ..storage.store import is_transient_read_error, open_for_reading, read_consistently
from . import engines
from .engines import EngineProfile

#: Seconds an endpoint may take to connect or to send the next part of its answer.
DEFAULT_TIMEOUT = 10.0


class _Solution:
    """One result row, indexable like a pyoxigraph QuerySolution (by name, Variable or position)."""

    __slots__ = ("_index", "_terms")

    def __init__(self, index: dict[str, int], terms: tuple[Any, ...]) -> None:
        self._index, self._terms = index, terms

    def __getitem__(self, key: str | Variable | int) -> Any:
        if isinstance(key, int):
            return self._terms[key]
        name = key.value if isinstance(key, Variable) else key
        return self._terms[self._index[name]]


class _Solutions:
    """The rows of a SELECT, iterable like pyoxigraph's QuerySolutions, with `variables`."""

    def __init__(self, variables: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        self.variables = [Variable(name) for name in variables]
        self._index = {name: i for i, name in enumerate(variables)}
        self._rows = rows

    def __iter__(self) -> Iterator[_Solution]:
        return (_Solution(self._index, row) for row in self._rows)


class Source(ABC):
    """Something that answers SPARQL SELECT queries; `name` says which (a store path or an endpoint URL)."""

    name: str

    @abstractmethod
    def select(self, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The variables and rows (pyoxigraph terms, None where unbound) of a SELECT query."""

    def query(self, query: str, **_options: Any) -> _Solutions:
        """The rows of a SELECT query, shaped like pyoxigraph's `Store.query` (options are ignored: a source
        always queries the union of its graphs by default)."""
        return _Solutions(*self.select(query))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class LocalSource(Source):
    """A local store (a path, opened read-only, or an open pyoxigraph Store)."""

    def __init__(self, store: Store | str | os.PathLike[str], name: str | None = None) -> None:
        self.path: str | os.PathLike[str] | None = None
        if isinstance(store, Store):
            self.store, self.name = store, name or "memory"
        else:
            self.store, self.name, self.path = open_for_reading(store), name or str(store), store

    def select(self, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        try:
            return _select(self.store, query)
        except (OSError, RuntimeError) as error:
            if self.path is None or not is_transient_read_error(error):
                raise
        # the store's writer removed a file under this snapshot: read on a fresh one (and keep that)
        self.store, answer = read_consistently(self.path, lambda store: (store, _select(store, query)))
        return answer


def _select(store: Store, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    solutions: Any = store.query(query, use_default_graph_as_union=True)
    variables = [variable.value for variable in solutions.variables]
    return variables, [tuple(solution[v] for v in variables) for solution in solutions]


_DATE_TIME = "http://www.w3.org/2001/XMLSchema#dateTime"
_TRAILING_ZEROS = re.compile(r"(\.\d+)(?=Z$|[+-]\d\d:\d\d$|$)")


def _term(binding: dict[str, Any] | None) -> Any:
    """A pyoxigraph term for one value of a SPARQL JSON result."""
    if binding is None:
        return None
    kind, value = binding.get("type"), binding.get("value", "")
    if kind == "uri":
        return NamedNode(value)
    if kind == "bnode":
        return BlankNode(value)
    if kind in ("literal", "typed-literal"):
        if "xml:lang" in binding:
            return Literal(value, language=binding["xml:lang"])
        if "datatype" in binding:
            if binding["datatype"] == _DATE_TIME:  # canonical form: Virtuoso writes `…:33.839870Z`
                value = _TRAILING_ZEROS.sub(lambda m: m.group(1).rstrip("0").rstrip("."), value)
            return Literal(value, datatype=NamedNode(binding["datatype"]))
        return Literal(value)
    if kind == "triple":
        return Triple(_term(value["subject"]), _term(value["predicate"]), _term(value["object"]))
    raise SourceError(f"a SPARQL JSON result holds a term of unknown type {kind!r}")


class EndpointSource(Source):
    """A SPARQL 1.1 endpoint, queried by POST (the protocol's form encoding) with JSON results. `url` may be a
    server's base URL or its query URL (see `storage.destination`); `name` defaults to the URL as given.

    Told once (see `query.engines`): whether its default graph is the union of its named graphs (if not, each
    query is sent with the named graphs as its dataset) and whether it is Virtuoso (whose doubles are then
    read back at full text precision)."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT, name: str | None = None) -> None:
        self.url = Endpoint(url).query_url
        self.timeout, self.name = timeout, name or url
        self.profile: EngineProfile | None = None

    def _post(self, query: str, graphs: Sequence[str] = ()) -> tuple[dict[str, Any], str]:
        form = [("query", query)]
        form += [(key, graph) for graph in graphs for key in ("default-graph-uri", "named-graph-uri")]
        request = urllib.request.Request(
            self.url, data=urllib.parse.urlencode(form).encode("utf-8"), method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Accept": "application/sparql-results+json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body, server = response.read(), response.headers.get("Server", "")
        except urllib.error.HTTPError as error:
            detail = " ".join(error.read().decode("utf-8", "replace").split())[:300]
            if error.code in (400, 422):
                raise SourceError(f"the SPARQL endpoint {self.url} rejected the query: {detail}") from None
            raise SourceError(f"the SPARQL endpoint {self.url} answered HTTP {error.code} {error.reason}"
                              + (f": {detail}" if detail else "")) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            raise SourceError(f"cannot reach the SPARQL endpoint {self.url}: {reason}") from None
        try:
            answer = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SourceError(f"the SPARQL endpoint {self.url} did not answer with SPARQL JSON results") from error
        if not isinstance(answer, dict):
            raise SourceError(f"the SPARQL endpoint {self.url} did not answer with SPARQL JSON results")
        return answer, server

    def _select(self, query: str, graphs: Sequence[str] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        answer, server = self._post(query, graphs)
        if self.profile is not None and not self.profile.server:
            self.profile.server = server
        if "results" not in answer:
            raise SourceError(f"the SPARQL endpoint {self.url} did not answer a SELECT with a result table")
        variables = list(answer.get("head", {}).get("vars", []))
        rows = [tuple(decode_term(_term(row.get(v))) for v in variables)
                for row in answer["results"].get("bindings", [])]
        return variables, rows

    def _ask(self, query: str) -> bool:
        answer, _ = self._post(query)
        return bool(answer.get("boolean"))

    def engine(self) -> EngineProfile:
        """What this endpoint's engine does, told on first use (the default graph again while undecided)."""
        if self.profile is None:
            self.profile = EngineProfile()
        if self.profile.union_default is None:
            self.profile.union_default = engines.probe_union(self._select, self._ask)
        return self.profile

    def select(self, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        profile = self.engine()
        graphs = engines.named_graphs(self._select) if profile.union_default is False else []
        if profile.virtuoso:
            query = engines.virtuoso_text(query)
        variables = engines.projected_variables(query) if profile.virtuoso else None
        if variables:
            return engines.restore_precision(*self._select(engines.lexical_wrap(query, variables), graphs))
        return self._select(query, graphs)


def as_source(location: Source | Store | Destination | str | os.PathLike[str]) -> Source:
    """A Source for a Source, an open Store, an http(s) URL (an endpoint) or a store path."""
    if isinstance(location, Source):
        return location
    if isinstance(location, Store):
        return LocalSource(location)
    destination = parse_destination(location)
    if isinstance(destination, Endpoint):
        return EndpointSource(destination.url)
    return LocalSource(destination.path, name=str(location))
