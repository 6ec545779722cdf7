"""The leaderboard: one row per run, every hyperparameter its own column, sorted by a metric.

`queries/leaderboard.rq` returns long rows (a run's own row, then one row per hyperparameter `hp.NAME` and per
test metric `test_NAME`), because a SPARQL query cannot make a column per hyperparameter name; this module
pivots them. Columns: the run's fields, `hp.<name>` per hyperparameter (sorted), the final and best metrics,
then `test_<metric>` per test metric (sorted). A run tested more than once shows its latest test.
"""

from __future__ import annotations

from typing import Any

from ..errors import QueryError
from .execute import QueryResult, run_query

#: The run's own columns, before the hyperparameters.
RUN_COLUMNS = ("run_id", "name", "status", "started", "ended", "epochs")
#: Summary metrics, after the hyperparameters.
SUMMARY_COLUMNS = ("final_loss", "final_accuracy", "final_val_loss", "final_val_accuracy", "best_accuracy",
                   "best_val_accuracy", "best_val_loss")
#: The default order: newest run first.
DEFAULT_SORT = "started"
_FIELDS = RUN_COLUMNS + SUMMARY_COLUMNS


def lower_is_better(column: str) -> bool:
    """Losses and errors sort ascending; every other metric (accuracies, …) descending."""
    name = column.rsplit(".", 1)[-1].lower()
    return "loss" in name or "error" in name


def descending(column: str) -> bool:
    """Metrics in their better direction; times newest first; other text and numbers ascending."""
    if column in ("started", "ended"):
        return True
    if column in SUMMARY_COLUMNS or column.startswith("test_"):
        return not lower_is_better(column)
    return False


def _sort_key(value: Any) -> tuple[int, Any]:
    # Numbers before text, so that a column mixing both (a hyperparameter set as 8 and as "8") still sorts.
    if isinstance(value, bool):
        return (0, float(value))
    if isinstance(value, (int, float)):
        return (0, float(value)) if value == value else (2, 0.0)  # NaN after every number
    return (1, str(value))


def sort_rows(rows: list[dict[str, Any]], column: str) -> list[dict[str, Any]]:
    """Rows ordered by `column` in its better direction (a stable sort); runs without a value always last."""
    present = [row for row in rows if row.get(column) is not None]
    missing = [row for row in rows if row.get(column) is None]
    reverse = descending(column)
    present.sort(key=lambda row: _sort_key(row[column]), reverse=reverse)
    if reverse:  # keep NaN last in either direction
        nan = [row for row in present if _sort_key(row[column])[0] == 2]
        present = [row for row in present if _sort_key(row[column])[0] != 2] + nan
    return present + missing


def matches(row: dict[str, Any], needle: str) -> bool:
    """Whether a case-insensitive substring occurs in the run's id, name, status or a hyperparameter value."""
    needle = needle.lower()
    return any(needle in str(value).lower() for key, value in row.items()
               if value is not None and (key in ("run_id", "name", "status") or key.startswith("hp.")))


def pivot(long_rows: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The leaderboard's columns and one row per run from the query's long rows."""
    runs: dict[str, dict[str, Any]] = {}
    tested_at: dict[tuple[str, str], str] = {}  # (run graph, test metric) → when its value was measured
    hyperparameters: set[str] = set()
    tests: set[str] = set()
    for row in long_rows:
        run = runs.setdefault(row["graph"], {})
        key = row["key"]
        if key is None:
            for field in _FIELDS:
                run[field] = row[field]
        elif key.startswith("hp."):
            hyperparameters.add(key)
            run[key] = row["value"]
        else:
            at = row["at"] or ""
            if at >= tested_at.get((row["graph"], key), ""):
                tested_at[row["graph"], key] = at
                tests.add(key)
                run[key] = row["value"]
    columns = [*RUN_COLUMNS, *sorted(hyperparameters), *SUMMARY_COLUMNS, *sorted(tests)]
    rows = [{column: run.get(column) for column in columns} for run in runs.values() if "started" in run]
    return columns, rows


def leaderboard(store: Any, sort: str | None = DEFAULT_SORT, search: str | None = None) -> QueryResult:
    """One row per run of a store (a pyoxigraph Store, a store path or an endpoint URL), sorted by `sort` (a
    column: metrics in their better direction, `started` newest first) and filtered by `search` (a substring
    of the run id, name, status or a hyperparameter value)."""
    result = run_query(store, "leaderboard")
    columns, rows = pivot(result.rows)
    if search:
        rows = [row for row in rows if matches(row, search)]
    column = sort or DEFAULT_SORT
    if column not in columns:
        raise QueryError(f"cannot sort the leaderboard by {column!r}; columns: {', '.join(columns)}")
    newest_first = sort_rows(rows, DEFAULT_SORT)  # ties (and runs without a value) stay newest first
    ordered = newest_first if column == DEFAULT_SORT else sort_rows(newest_first, column)
    return QueryResult(result.query, columns, ordered)
