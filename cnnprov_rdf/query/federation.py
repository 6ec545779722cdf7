"""Federation over several sources, combined in Python or by SPARQL 1.1 `SERVICE`.

`federated_query` runs one canned query on every source and stacks the rows under a leading `source` column;
`federated_compare` joins two runs from two sources by epoch; `shared_datasets` finds the dataset entities
(same IRI) used by activities in different sources, foreign PROV graphs included. `service_runs` shows the
same over SPARQL 1.1 `SERVICE`, evaluated by a local pyoxigraph store.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from pyoxigraph import Literal, NamedNode, Store

from ..errors import ConfigurationError, SourceError
from ..graph.literals import python_value
from ..graph.vocabulary import CNN_NS, PROV_NS
from ..storage.store import readable_store
from .execute import QueryResult, run_query
from .library import find_query
from .sources import Source, as_source


def federated_query(
    sources: Iterable[Source | str | os.PathLike[str]],
    name: str,
    *,
    queries_dir: str | os.PathLike[str] | None = None,
    **params: Any,
) -> QueryResult:
    """Run the canned query `name` on every source; the rows one after another, each with its source's name
    in a leading `source` column. Run parameters are resolved in each source on its own."""
    query, rows = find_query(name, queries_dir), list[dict[str, Any]]()
    for source in map(as_source, sources):
        result = run_query(source, name, queries_dir=queries_dir, **params)
        rows.extend({"source": source.name, **row} for row in result.rows)
    return QueryResult(query, ["source", *query.columns], rows)


_EPOCH_FIELDS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds")


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
            merged.update({f"{field}_{suffix}": row[f"{field}_a"] for field in _EPOCH_FIELDS})
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
        try:
            service = NamedNode(url)  # checks the URL is an IRI
        except ValueError:
            raise ConfigurationError(f"{url!r} is not an endpoint URL for SERVICE") from None
        branches.append(f"{{ SERVICE {service} {{ {pattern} }} BIND({Literal(url)} AS ?source) }}")
    union = " UNION ".join(branches)
    return f"SELECT ?source ?run_id ?name ?started WHERE {{ {union} }} ORDER BY ?source DESC(?started)"


def service_runs(local: Store | str | os.PathLike[str], endpoints: Sequence[str]) -> list[dict[str, Any]]:
    """Runs of a local store and of remote endpoints in one SPARQL query, federated by `SERVICE` (pyoxigraph
    calls each endpoint over HTTP while it evaluates the query)."""
    store = readable_store(local, "a SERVICE query")
    try:
        solutions: Any = store.query(service_runs_query(endpoints), use_default_graph_as_union=True)
        return [{c: python_value(s[c]) for c in SERVICE_RUNS_COLUMNS} for s in solutions]
    except OSError as error:
        raise SourceError(f"a SERVICE endpoint of {', '.join(endpoints)} failed: {error}") from error
