"""The run table behind `leaderboard`: the run index's facts pivoted into one row per run, then sorted.

`queries/leaderboard.rq` returns a row per run and testing of it; `pivot` keeps one row per run: the run's
fields, `hp.<name>` per hyperparameter (sorted), the final and best metrics, then `test_<metric>` per test
metric (sorted); a run tested more than once shows its latest test. `sort_rows` orders rows by a column in its
better direction; `matches` is the table's text filter.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

#: The run's own columns, before the hyperparameters.
RUN_COLUMNS = ("run_id", "name", "status", "started", "ended", "epochs")
#: Summary metrics, after the hyperparameters.
SUMMARY_COLUMNS = ("final_loss", "final_accuracy", "final_val_loss", "final_val_accuracy", "best_accuracy",
                   "best_val_accuracy", "best_val_loss")
#: The default order: newest run first.
DEFAULT_SORT = "started"

#: The query's variables of a run's own row, by column (the rest are the columns' own names).
_STATUS, _COMPLETED, _TRIAL_OF = "ended_status", "completed", "search_trial"


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
    """Rows ordered by `column` in its better direction (a stable sort); NaN after every other value, and runs
    without a value always last."""
    keyed = [(_sort_key(value), row) for row in rows if (value := row.get(column)) is not None]
    present = [pair for pair in keyed if pair[0][0] != 2]
    present.sort(key=itemgetter(0), reverse=descending(column))  # (a reverse sort is stable too)
    return ([row for _, row in present] + [row for key, row in keyed if key[0] == 2]
            + [row for row in rows if row.get(column) is None])


def matches(row: dict[str, Any], needle: str) -> bool:
    """Whether a case-insensitive substring occurs in the run's id, name, status or a hyperparameter value."""
    needle = needle.lower()
    return any(needle in str(value).lower() for key, value in row.items()
               if value is not None and (key in ("run_id", "name", "status") or key.startswith("hp.")))


def pivot(rows: list[dict[str, Any]], hyperparameters: list[str], test_metrics: list[str],
          latest_epoch: dict[str, int], search: str | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """The table's columns and one row per run (newest first) from the leaderboard query's rows, one per run
    and testing of it (its `hp_<i>` value of the i-th hyperparameter, the testing's `test_<i>`): the latest
    testing's; a run without an end shows its `latest_epoch` so far (by run id); with `search` (a search IRI),
    only its trials."""
    hp_columns = [f"hp.{name}" for name in hyperparameters]
    test_columns = [f"test_{name}" for name in test_metrics]
    runs: dict[str, dict[str, Any]] = {}
    for row in rows:  # a row per run and testing of it (a run never tested: one row): the latest test wins
        run_id = row.get("run_id")
        if run_id is None:
            continue
        seen = runs.get(run_id)
        if seen is None or str(row.get("tested_at") or "") > str(seen.get("tested_at") or ""):
            runs[run_id] = row
    hp_order = sorted(range(len(hp_columns)), key=lambda i: hp_columns[i])  # hp.NAME columns by name
    test_order = sorted(range(len(test_columns)), key=lambda i: test_columns[i])
    columns = [*RUN_COLUMNS, *(hp_columns[i] for i in hp_order), *SUMMARY_COLUMNS,
               *(test_columns[i] for i in test_order)]
    hp_keys = [(hp_columns[i], f"hp_{i}") for i in hp_order]
    test_keys = [(test_columns[i], f"test_{i}") for i in test_order]
    table = []
    for run_id, run in runs.items():
        if run.get("started") is None:
            continue
        if search is not None and run.get(_TRIAL_OF) != search:
            continue
        status, epochs = run.get(_STATUS), run.get(_COMPLETED)
        row = {"run_id": run_id, "name": run.get("name"),
               "status": "unfinished" if status is None else status,  # no end: still training, or killed
               "started": run["started"], "ended": run.get("ended"),
               "epochs": epochs if epochs is not None else latest_epoch.get(run_id, 0)}
        row |= {column: run.get(key) for column, key in hp_keys}
        row |= {column: run.get(column) for column in SUMMARY_COLUMNS}
        row |= {column: run.get(key) for column, key in test_keys}
        table.append(row)
    return columns, sort_rows(table, DEFAULT_SORT)
