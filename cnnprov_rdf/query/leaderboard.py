"""The leaderboard: one row per run, every hyperparameter its own column, sorted by a metric.

The canned query `leaderboard` (`queries/leaderboard.rq`, pivoted by `run_table`) gives the table; this adds the
text filter of `cnnprov leaderboard --match` and the web UI's search box.
"""

from __future__ import annotations

from typing import Any

from .execute import QueryResult, run_query
from .run_table import DEFAULT_SORT, RUN_COLUMNS, SUMMARY_COLUMNS, matches, sort_rows

__all__ = ["DEFAULT_SORT", "RUN_COLUMNS", "SUMMARY_COLUMNS", "leaderboard", "matches", "sort_rows"]


def leaderboard(store: Any, sort: str | None = DEFAULT_SORT, match: str | None = None,
                search: str | None = None) -> QueryResult:
    """One row per run of a store (a pyoxigraph Store, a store path or an endpoint URL), sorted by `sort` (a
    column: metrics in their better direction, `started` newest first); only the trials of the hyperparameter
    search `search` names (its id, a unique prefix of it, its name, or latest), and only the runs in which
    `match` occurs (a substring of the run id, name, status or a hyperparameter value, any case)."""
    params = {"sort": sort or DEFAULT_SORT, **({"search": search} if search else {})}
    result = run_query(store, "leaderboard", **params)
    if not match:
        return result
    return QueryResult(result.query, result.columns, [row for row in result.rows if matches(row, match)])
