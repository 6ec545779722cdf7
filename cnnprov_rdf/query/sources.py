"""Where queries run: a local store or a SPARQL endpoint, and federation over several of them.

A `Source` answers SELECT queries with pyoxigraph terms, whether it is a local store (`LocalSource`, read-only,
the union of all graphs as the default graph) or a remote SPARQL 1.1 endpoint (`EndpointSource`, queried by
POST with JSON results; an Oxigraph server started by `cnnprov serve` runs with `--union-default-graph`, so the
canned queries give the same rows there). A source also answers `query(text)` like a pyoxigraph Store, so the
canned queries and the run references (`latest`, ids, prefixes) work on it unchanged.

Federation combines results in Python: `federated_query` runs one canned query on every source and stacks the
rows under a leading `source` column; `federated_compare` joins two runs from two sources by epoch;
`shared_datasets` finds the dataset entities (same IRI) used by activities in different sources, foreign PROV
graphs included. `service_runs` shows the same over SPARQL 1.1 `SERVICE`, evaluated by a local pyoxigraph store.
"""

from __future__ import annotations

import json
import os
import urllib.error
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pyoxigraph import BlankNode, Literal, NamedNode, Store, Triple, Variable

from ..errors import SourceError
from ..graph.metrics import COMPARE_FIELDS
from ..graph.vocabulary import CNN_NS, PROV_NS
from ..storage.store import open_for_reading
from .library import QueryResult, find_query, python_value, run_query

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


class Source:
    """Something that answers SPARQL SELECT queries; `name` says which (a store path or an endpoint URL)."""

    name: str

    def select(self, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The variables and rows (pyoxigraph terms, None where unbound) of a SELECT query."""
        raise NotImplementedError

    def query(self, query: str, **_options: Any) -> _Solutions:
        """The rows of a SELECT query, shaped like pyoxigraph's `Store.query` (options are ignored: a source
        always queries the union of its graphs by default)."""
        return _Solutions(*self.select(query))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class LocalSource(Source):
    """A local store (a path, opened read-only, or an open pyoxigraph Store)."""

    def __init__(self, store: Store | str | os.PathLike[str], name: str | None = None) -> None:
        if isinstance(store, Store):
            self.store, self.name = store, name or "memory"
        else:
            self.store, self.name = open_for_reading(store), name or str(store)

    def select(self, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        solutions = self.store.query(query, use_default_graph_as_union=True)
        variables = [variable.value for variable in solutions.variables]  # type: ignore[union-attr]
        return variables, [tuple(solution[v] for v in variables) for solution in solutions]  # type: ignore[index]


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
            return Literal(value, datatype=NamedNode(binding["datatype"]))
        return Literal(value)
    if kind == "triple":
        return Triple(_term(value["subject"]), _term(value["predicate"]), _term(value["object"]))
    raise ValueError(f"unknown SPARQL JSON term type {kind!r}")


class EndpointSource(Source):
    """A SPARQL 1.1 endpoint, queried by POST with JSON results (SPARQLWrapper)."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT, name: str | None = None) -> None:
        """`url`: the server's base URL or its /query (/update, /sparql) URL; queries go to its query URL."""
        from ..storage.destination import Endpoint

        self.url, self.timeout, self.name = Endpoint(url).query_url, timeout, name or url

    def select(self, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        from SPARQLWrapper import JSON, POST, SELECT, SPARQLWrapper
        from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

        client = SPARQLWrapper(self.url)
        client.setMethod(POST)
        client.setReturnFormat(JSON)
        client.setTimeout(int(max(1, round(self.timeout))))
        client.setQuery(query)
        client.queryType = SELECT  # its own guess can take a word like `dropoutRate` for a DROP update
        try:
            answer = client.query().convert()
        except SPARQLWrapperException as error:
            detail = " ".join(str(error).split())[:300]
            raise SourceError(f"the SPARQL endpoint {self.url} rejected the query: {detail}") from error
        except urllib.error.HTTPError as error:
            raise SourceError(f"the SPARQL endpoint {self.url} answered HTTP {error.code} {error.reason}") from error
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SourceError(f"cannot reach the SPARQL endpoint {self.url}: {reason}") from error
        except (json.JSONDecodeError, ValueError) as error:
            raise SourceError(f"the SPARQL endpoint {self.url} did not answer with SPARQL JSON results") from error
        if not isinstance(answer, dict) or "results" not in answer:
            raise SourceError(f"the SPARQL endpoint {self.url} did not answer a SELECT with a result table")
        variables = list(answer.get("head", {}).get("vars", []))
        rows = [tuple(_term(row.get(v)) for v in variables) for row in answer["results"].get("bindings", [])]
        return variables, rows


def is_endpoint(location: object) -> bool:
    """Whether a `--store`/`--endpoint` value names an endpoint (an http or https URL)."""
    return isinstance(location, str) and location.startswith(("http://", "https://"))


def as_source(location: Source | Store | str | os.PathLike[str]) -> Source:
    """A Source for a Source, an open Store, an http(s) URL (an endpoint) or a store path."""
    if isinstance(location, Source):
        return location
    if is_endpoint(location):
        return EndpointSource(str(location))
    return LocalSource(location)


# --- federation -----------------------------------------------------------------------------------


def federated_query(
    sources: Iterable[Source | str | os.PathLike[str]],
    name: str,
    *,
    queries_dir: str | os.PathLike[str] | None = None,
    **params: Any,
) -> QueryResult:
    """Run the canned query `name` on every source; the rows one after another, each with its source's name
    in a leading `source` column. Run parameters are resolved in each source on its own."""
    query = find_query(name, queries_dir)
    rows: list[dict[str, Any]] = []
    columns: list[str] = []
    for source in map(as_source, sources):
        result = run_query(source, name, queries_dir=queries_dir, **params)
        # a shaped query's columns depend on its parameters and data (search-trials' sampled values): the union
        columns += [column for column in result.columns if column not in columns]
        rows.extend({"source": source.name, **row} for row in result.rows)
    columns = columns or list(query.columns)
    rows = [{column: row.get(column) for column in ["source", *columns]} for row in rows]
    return QueryResult(query, ["source", *columns], rows)


def federated_compare(
    source_a: Source | str | os.PathLike[str], run_a: str,
    source_b: Source | str | os.PathLike[str], run_b: str,
) -> QueryResult:
    """`compare-runs` for a run in one source and a run in another: each run's epochs come from its own source
    and are joined by epoch (every epoch of either run, the other run's columns empty where it has none)."""
    per_epoch: dict[int, dict[str, Any]] = {}
    for suffix, source, run in (("a", source_a, run_a), ("b", source_b, run_b)):
        for row in run_query(as_source(source), "compare-runs", a=run, b=run).rows:
            merged = per_epoch.setdefault(row["epoch"], {"epoch": row["epoch"]})
            merged.update({f"{field}_{suffix}": row[f"{field}_a"] for field in COMPARE_FIELDS})
    query = find_query("compare-runs")
    rows = [{column: per_epoch[epoch].get(column) for column in query.columns} for epoch in sorted(per_epoch)]
    return QueryResult(query, list(query.columns), rows)


_DATASETS = f"SELECT DISTINCT ?dataset WHERE {{ ?dataset a <{CNN_NS}Dataset> }}"

_USED_BY = f"""
SELECT DISTINCT ?dataset ?activity ?run_id ?name WHERE {{
  ?activity <{PROV_NS}used> ?dataset .
  OPTIONAL {{ ?activity <{CNN_NS}runId> ?run_id }}
  OPTIONAL {{ ?activity <{CNN_NS}runName> ?run_name }}
  OPTIONAL {{ ?activity <http://www.w3.org/2000/01/rdf-schema#label> ?label }}
  BIND(COALESCE(?run_name, ?label) AS ?name)
}}
"""

#: The columns of `shared_datasets`: `activity` names the activity, which for another tool's PROV has no run id.
SHARED_DATASET_COLUMNS = ("dataset", "source", "activity", "run_id", "name")


def shared_datasets(sources: Iterable[Source | str | os.PathLike[str]]) -> QueryResult:
    """The dataset entities (the same IRI) used (`prov:used`) by activities in two or more sources: one row per
    dataset, source and activity, so runs of different stores, and other tools' activities, meet on their data.
    A dataset is anything one of the sources types `cnn:Dataset`."""
    resolved = [as_source(source) for source in sources]
    datasets: set[NamedNode] = set()
    for source in resolved:
        datasets.update(row[0] for row in source.select(_DATASETS)[1] if isinstance(row[0], NamedNode))
    if not datasets:
        return QueryResult(find_query("dataset-usage"), list(SHARED_DATASET_COLUMNS), [])
    values = "VALUES ?dataset { " + " ".join(str(d) for d in sorted(datasets, key=str)) + " }"
    text = _USED_BY.replace("WHERE {", "WHERE { " + values, 1)
    found: list[dict[str, Any]] = []
    for order, source in enumerate(resolved):
        for dataset, activity, run_id, name in source.select(text)[1]:
            found.append({"dataset": dataset.value, "source": source.name, "activity": python_value(activity),
                          "run_id": python_value(run_id), "name": python_value(name), "_order": order})
    sources_of: dict[str, set[str]] = {}
    for row in found:
        sources_of.setdefault(row["dataset"], set()).add(row["source"])
    shared = {dataset for dataset, names in sources_of.items() if len(names) > 1}
    rows = sorted((row for row in found if row["dataset"] in shared),
                  key=lambda r: (r["dataset"], r["_order"], r["run_id"] or "", r["activity"]))
    for row in rows:
        del row["_order"]
    return QueryResult(find_query("dataset-usage"), list(SHARED_DATASET_COLUMNS), rows)


# --- SPARQL 1.1 SERVICE ---------------------------------------------------------------------------

SERVICE_RUNS_COLUMNS = ("source", "run_id", "name", "started")


def service_runs_query(endpoints: Sequence[str]) -> str:
    """A query that a local store evaluates: its own runs and, through `SERVICE`, each endpoint's runs, with a
    `source` column ("local" or the endpoint's URL)."""
    pattern = (f"?run a <{CNN_NS}Training> ; <{CNN_NS}runId> ?run_id ; <{PROV_NS}startedAtTime> ?started . "
               f"OPTIONAL {{ ?run <{CNN_NS}runName> ?name }}")
    branches = [f'{{ {pattern} BIND("local" AS ?source) }}']
    for url in endpoints:
        service = NamedNode(url)  # checks the URL is an IRI
        branches.append(f"{{ SERVICE {service} {{ {pattern} }} BIND({Literal(url)} AS ?source) }}")
    union = " UNION ".join(branches)
    return f"SELECT ?source ?run_id ?name ?started WHERE {{ {union} }} ORDER BY ?source DESC(?started)"


def service_runs(local: Store | str | os.PathLike[str], endpoints: Sequence[str]) -> list[dict[str, Any]]:
    """Runs of a local store and of remote endpoints in one SPARQL query, federated by `SERVICE` (pyoxigraph
    calls each endpoint over HTTP while it evaluates the query)."""
    store = local if isinstance(local, Store) else open_for_reading(local)
    try:
        solutions = store.query(service_runs_query(endpoints), use_default_graph_as_union=True)
        return [{c: python_value(s[c]) for c in SERVICE_RUNS_COLUMNS} for s in solutions]  # type: ignore[index]
    except OSError as error:
        raise SourceError(f"a SERVICE endpoint of {', '.join(endpoints)} failed: {error}") from error
