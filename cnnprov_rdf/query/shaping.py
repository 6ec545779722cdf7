"""Python steps around a canned query's SPARQL (a `# shape: NAME` header line): pivots and groupings whose
columns depend on the parameters (one column per sampled hyperparameter, per grouping name, per run), and
patterns written per run or key found first.

Each step has `prepare(store, params)`, which may rewrite the parameters before they are bound (as RDF terms,
like every parameter) and may read what the query needs first; `shape(rows, params, bindings)`, which turns
the query's rows (each its bound variables: an unbound one is absent) into the result's columns and rows (None:
the rows as the header names them); and optionally `expand(text, params)`, which fills the query's `#@NAME`
lines with variables and patterns for the keys or runs that `prepare` found in the store or derived from a
parameter it `consumes` (each term written by pyoxigraph's term serializer, as parameters are). The SPARQL does
the selecting and the aggregating; these only rearrange one result.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pyoxigraph import NamedNode, Variable

from ..errors import QueryError, RunNotFoundError, RunParameterError
from ..graph.metrics import COMPARE_FIELDS, STANDARD_METRICS
from ..graph.run_index import hyperparameter_key
from ..graph.vocabulary import CNN_NS, IDX_NS, PROV_NS
from .binding import list_values
from .run_table import DEFAULT_SORT, pivot, sort_rows
from .runs import resolve_run

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Shaper:
    prepare: Callable[[Any, dict[str, Any]], dict[str, Any]]
    #: None: the rows as the query's header names them.
    shape: Callable[[Rows, dict[str, Any], Mapping[Variable, Any]], tuple[list[str], Rows]] | None
    expand: Callable[[str, dict[str, Any]], str] | None = None
    #: Parameters the step reads itself (given their default when absent) instead of binding them as VALUES.
    consumes: tuple[str, ...] = ()


def _keep(store: Any, params: dict[str, Any]) -> dict[str, Any]:
    return params


def _order_key(value: Any) -> tuple[int, Any]:
    """SPARQL's ORDER BY for plain values: unbound first, then numbers, then text."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, float(value))
    return (2, str(value))


def _fill(text: str, lines: Mapping[str, str]) -> str:
    """The query with each `#@NAME` line that `lines` names replaced by its text."""
    return re.sub(r"(?m)^#@([\w-]+)$", lambda marker: lines.get(marker[1], marker[0]), text)


def _index_value(subject: str, key: NamedNode, variable: str) -> str:
    """An OPTIONAL sub-select of every `?subject`'s value of an index key, as `?variable`: one scan of the index
    graph, joined by hash (a look-up subject by subject costs several times as much on a large store)."""
    return f"OPTIONAL {{ SELECT ?{subject} ?{variable} WHERE {{ GRAPH ?index {{ ?{subject} {key} ?{variable} }} }} }}"


def _natural(text: str) -> tuple[int, Any]:
    return (0, int(text)) if text.isdigit() else (1, text)


# --- compare-runs -----------------------------------------------------------------------------------------


def _compare_prepare(store: Any, params: dict[str, Any]) -> dict[str, Any]:
    """`runs` compares any number of runs (a column group each); without it, `a` against `b` as `runs`."""
    runs = params.get("runs")
    if runs is None or runs == "all":
        pair = [params.get("a", "latest"), params.get("b", "previous")]
        params["_pair"] = True
    else:
        pair = [r.strip() for r in runs.split(",")] if isinstance(runs, str) else list(runs)
        if params.get("a") not in (None, "all") or params.get("b") not in (None, "all"):
            raise QueryError("compare-runs takes either runs or a and b, not both")
        params["_pair"] = False
    resolved = []
    for reference in pair:
        try:
            resolved.append(resolve_run(store, None if reference is None else str(reference))[0])
        except RunNotFoundError as error:
            raise RunParameterError(str(error)) from None
    params["_runs"] = [run.value for run in resolved]
    return {"a": "all", "b": "all", "runs": resolved, **{k: v for k, v in params.items() if k.startswith("_")}}


def _compare_shape(rows: Rows, params: dict[str, Any], bindings: Mapping[Variable, Any]) -> tuple[list[str], Rows]:
    runs: list[str] = params["_runs"]
    by_run: dict[str, dict[int, dict[str, Any]]] = {}
    names: dict[str, tuple[str, str | None]] = {}
    for row in rows:
        by_run.setdefault(row["runs"], {})[row["epoch"]] = row
        names[row["runs"]] = (row["run_id"], row.get("run_name"))
    epochs = sorted({epoch for run in runs for epoch in by_run.get(run, {})})
    if params["_pair"]:
        columns = ["epoch", *(f"{field}_{side}" for field in COMPARE_FIELDS for side in "ab")]
        out = []
        for epoch in epochs:
            row = {"epoch": epoch}
            for side, run in zip("ab", runs, strict=True):
                values = by_run.get(run, {}).get(epoch, {})
                row.update({f"{field}_{side}": values.get(field) for field in COMPARE_FIELDS})
            out.append({column: row[column] for column in columns})
        return columns, out
    labels = _labels(runs, names)
    columns = ["epoch", *(f"{label}.{field}" for label in labels for field in COMPARE_FIELDS)]
    out = []
    for epoch in epochs:
        row = {"epoch": epoch}
        for label, run in zip(labels, runs, strict=True):
            values = by_run.get(run, {}).get(epoch, {})
            row.update({f"{label}.{field}": values.get(field) for field in COMPARE_FIELDS})
        out.append(row)
    return columns, out


def _labels(runs: list[str], names: dict[str, tuple[str, str | None]]) -> list[str]:
    """Each compared run's column prefix: its name where that is unique among them, else its id's first 8
    characters (a run given twice gets `#2`)."""
    given = [names.get(run, (run.rsplit("/", 1)[-1], None)) for run in runs]
    counts: dict[str | None, int] = {}
    for _run_id, name in dict(zip(runs, given, strict=True)).values():
        counts[name] = counts.get(name, 0) + 1
    labels: list[str] = []
    for run_id, name in given:
        base = name if name and counts[name] == 1 else run_id[:8]
        label, n = base, 1
        while label in labels:
            n += 1
            label = f"{base}#{n}"
        labels.append(label)
    return labels


# --- config-ranking ---------------------------------------------------------------------------------------


def _ranking_prepare(store: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The `by` names (a comma-separated text or a list) and their index keys, in the order given."""
    names = list(dict.fromkeys(str(name).strip() for name in list_values(params["by"]) if str(name).strip()))
    if not names:
        raise QueryError("parameter 'by' needs at least one hyperparameter name")
    return {**params, "_by": [(hyperparameter_key(name), name) for name in names]}


def _ranking_expand(text: str, params: dict[str, Any]) -> str:
    """A grouping variable and an OPTIONAL sub-select of the runs' values per `by` hyperparameter."""
    lines = {
        "by-variables": " ".join(f"?by_{i}" for i in range(len(params["_by"]))),
        "by-patterns": "\n".join(_index_value("run", key, f"by_{i}") for i, (key, _) in enumerate(params["_by"])),
    }
    return _fill(text, lines)


def _ranking_shape(rows: Rows, params: dict[str, Any], bindings: Mapping[Variable, Any]) -> tuple[list[str], Rows]:
    """The configurations the query grouped (one row each), named by their hyperparameters, best mean first."""
    names = [name for _, name in params["_by"]]
    columns = ["rank_by", *names, "runs", "mean_score", "best_score"]
    out = [{"rank_by": row["metric"], **{name: row.get(f"by_{i}") for i, name in enumerate(names)},
            "runs": row["runs"], "mean_score": row["mean_score"], "best_score": row["best_score"]} for row in rows]
    out.sort(key=lambda r: (-r["mean_score"], -r["best_score"], *(_order_key(r[name]) for name in names)))
    return columns, out


# --- search-trials ----------------------------------------------------------------------------------------

#: The fixed columns of `search-trials`; the sampled hyperparameters go between `run_id` and `objective`.
TRIAL_COLUMNS = ("trial_id", "run_id", "objective", "status")


def _trials_shape(rows: Rows, params: dict[str, Any], bindings: Mapping[Variable, Any]) -> tuple[list[str], Rows]:
    """One row per trial run with a column per sampled hyperparameter; best objective value first (by the
    search's direction), trials without one after, by trial id."""
    trials: dict[str, dict[str, Any]] = {}
    sampled: set[str] = set()
    direction = "maximize"
    for row in rows:
        direction = row.get("direction") or direction
        trial = trials.setdefault(row["run_id"], {
            "trial_id": row["trial_id"], "run_id": row["run_id"], "objective": row.get("objective"),
            "status": row.get("status"), "_values": {},
        })
        name = row.get("name")
        if name is not None:
            sampled.add(name)
            trial["_values"][name] = row.get("value")
    names = sorted(sampled)
    value_columns = [name if name not in TRIAL_COLUMNS else f"hp.{name}" for name in names]
    columns = ["trial_id", "run_id", *value_columns, "objective", "status"]
    sign = -1.0 if direction == "maximize" else 1.0

    def key(trial: dict[str, Any]) -> tuple[Any, ...]:
        value = trial["objective"]
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        return (missing, 0.0 if missing else sign * float(value), _natural(trial["trial_id"]), trial["run_id"])

    out = []
    for trial in sorted(trials.values(), key=key):
        values = trial.pop("_values")
        out.append({"trial_id": trial["trial_id"], "run_id": trial["run_id"],
                    **{column: values.get(name) for column, name in zip(value_columns, names, strict=True)},
                    "objective": trial["objective"], "status": trial["status"]})
    return columns, out


# --- leaderboard ------------------------------------------------------------------------------------------


_KEYS = f"SELECT ?key ?name WHERE {{ ?key <{IDX_NS}%s> ?name }}"


def _index_keys(store: Any, fact: str) -> list[tuple[NamedNode, str]]:
    """(key, name) of every hyperparameter or test-metric key in the run index, by name."""
    solutions: Any = store.query(_KEYS % fact, use_default_graph_as_union=True)
    by_name = {row["name"].value: row["key"] for row in solutions}
    return [(by_name[name], name) for name in sorted(by_name)]


#: The runs without an end (few), their ids and their graphs.
_UNENDED = (f"SELECT ?run ?run_id ?graph WHERE {{ {{ SELECT ?run ?graph WHERE {{ GRAPH ?index {{ ?run <{IDX_NS}graph> "
            f"?graph . MINUS {{ ?run <{IDX_NS}epochsCompleted> ?done }} }} }} }} "
            f"GRAPH ?index {{ ?run <{IDX_NS}runId> ?run_id }} }}")
#: Their latest epochs: a UNION branch per run (`_LATEST_EPOCH`), each read in that run's graph only.
_LATEST_EPOCHS = "SELECT ?run_id (MAX(?n) AS ?latest_epoch) WHERE { %s } GROUP BY ?run_id"
#: One run's branch, its id and graph given (a run's graph holds its own epoch results only).
_LATEST_EPOCH = (f"{{ BIND(%(run_id)s AS ?run_id) GRAPH %(graph)s {{ ?epoch_result a <{CNN_NS}EpochResult> ; "
                 f"<{CNN_NS}epoch> ?n }} }}")


def _unended(store: Any) -> list[tuple[Any, Any, Any]]:
    """Each run without an end: its IRI, id and graph (terms as the store gave them)."""
    return [(row[0], row[1], row[2]) for row in store.query(_UNENDED, use_default_graph_as_union=True)]


def _latest_epochs(store: Any, unended: list[tuple[Any, Any, Any]]) -> dict[str, int]:
    """The latest epoch so far of each run without an end, by run id. (With the runs' ids and graphs written in
    as the terms the store gave, by pyoxigraph's serializer, the engine reads only those graphs: bound by VALUES,
    or joined to the index in one query, it planned a scan of every graph's epochs.)"""
    if not unended:
        return {}
    branches = " UNION ".join(_LATEST_EPOCH % {"run_id": run_id, "graph": graph} for _, run_id, graph in unended)
    solutions: Any = store.query(_LATEST_EPOCHS % branches, use_default_graph_as_union=True)
    return {row["run_id"].value: int(row["latest_epoch"].value) for row in solutions}


def _leaderboard_prepare(store: Any, params: dict[str, Any]) -> dict[str, Any]:
    return {**params, "_hp": _index_keys(store, "hyperparameterName"), "_test": _index_keys(store, "testMetricName"),
            "_latest_epochs": _latest_epochs(store, _unended(store))}


def _leaderboard_expand(text: str, params: dict[str, Any]) -> str:
    """A column per hyperparameter key and test-metric key, and its pattern: a UNION branch of the run's or an
    OPTIONAL sub-select of the testing's."""
    lines = {
        "key-variables": " ".join([*(f"?hp_{i}" for i in range(len(params["_hp"]))),
                                   *(f"?test_{i}" for i in range(len(params["_test"])))]),
        "hp-columns": " ".join(f"(SAMPLE(?hp_{i}_) AS ?hp_{i})" for i in range(len(params["_hp"]))),
        "hp-patterns": " ".join(f"UNION {{ ?run {key} ?hp_{i}_ }}" for i, (key, _) in enumerate(params["_hp"])),
        "test-patterns": "\n".join(_index_value("testing", key, f"test_{i}")
                                    for i, (key, _) in enumerate(params["_test"])),
    }
    return _fill(text, lines)


def _leaderboard_shape(rows: Rows, params: dict[str, Any], bindings: Mapping[Variable, Any]) -> tuple[list[str], Rows]:
    """One row per run (`run_table.pivot`), only a search's trials when one is given, sorted by `sort`."""
    search, sort = bindings.get(Variable("search")), bindings.get(Variable("sort"))
    columns, table = pivot(rows, [name for _, name in params["_hp"]], [name for _, name in params["_test"]],
                           params["_latest_epochs"], search.value if search is not None else None)
    column = sort.value if sort is not None else DEFAULT_SORT
    if column not in columns:
        raise QueryError(f"cannot sort the leaderboard by {column!r}; columns: {', '.join(columns)}")
    return columns, table if column == DEFAULT_SORT else sort_rows(table, column)


# --- running-now ------------------------------------------------------------------------------------------

#: One run without an end, its IRI, graph and id given (`%(run)s` …): its index facts, and its latest epoch's
#: values when it has one (`%(epoch)s`).
_RUNNING_RUN = (f"{{ BIND(%(run_id)s AS ?run_id) GRAPH ?index {{ %(run)s <{IDX_NS}startedAt> ?started . "
                f"OPTIONAL {{ %(run)s <{IDX_NS}name> ?name }} OPTIONAL {{ %(run)s <{IDX_NS}plannedEpochs> "
                f"?planned_epochs }} }} %(latest)s }}")
_RUNNING_EPOCH = (f"BIND(%(epoch)s AS ?latest_epoch) GRAPH %(graph)s {{ ?latest a <{CNN_NS}EpochResult> ; "
                  f"<{PROV_NS}wasGeneratedBy> %(run)s ; <{CNN_NS}epoch> %(epoch)s ; <{PROV_NS}generatedAtTime> "
                  f"?updated . %(metrics)s }}")
_RUNNING_METRICS = " ".join(f"OPTIONAL {{ ?latest <{CNN_NS}{STANDARD_METRICS[name]}> ?{name} }}"
                            for name in ("loss", "accuracy", "val_loss", "val_accuracy"))  # the header's columns


def _running_prepare(store: Any, params: dict[str, Any]) -> dict[str, Any]:
    unended = _unended(store)
    return {**params, "_unended": unended, "_latest_epochs": _latest_epochs(store, unended)}


def _running_expand(text: str, params: dict[str, Any]) -> str:
    """A UNION branch per run without an end, its terms written in (bound by VALUES, the engine planned a scan
    of every graph's epochs); none: no row."""
    branches = []
    for run, run_id, graph in params["_unended"]:
        epoch = params["_latest_epochs"].get(run_id.value)
        latest = "" if epoch is None else _RUNNING_EPOCH % {"epoch": epoch, "graph": graph, "run": run,
                                                            "metrics": _RUNNING_METRICS}
        branches.append(_RUNNING_RUN % {"run_id": run_id, "run": run, "latest": latest})
    return _fill(text, {"runs": "\n  UNION ".join(branches) if branches else "FILTER(false)"})


SHAPERS: dict[str, Shaper] = {
    "compare-runs": Shaper(_compare_prepare, _compare_shape),
    "config-ranking": Shaper(_ranking_prepare, _ranking_shape, _ranking_expand, consumes=("by",)),
    "leaderboard": Shaper(_leaderboard_prepare, _leaderboard_shape, _leaderboard_expand),
    "running-now": Shaper(_running_prepare, None, _running_expand),
    "search-trials": Shaper(_keep, _trials_shape),
}


def shaper_for(query: Any) -> Shaper:
    try:
        return SHAPERS[query.shape]
    except KeyError:
        raise QueryError(f"{query.path}: unknown shape {query.shape!r} (known: {', '.join(SHAPERS)})") from None
