"""What the web app shows, read through the public query API: a fresh read-only snapshot per request.

The app never holds a store open: each request opens a read-only snapshot (`open_for_reading`, which works
while a training writes the store from another process) and drops it. Opening may fail for a moment while
the writer closes; it is retried once. The leaderboard, the costliest read, is cached by a fingerprint of the
store's files (names, sizes, modification times): a poll of a store nobody wrote since costs a directory scan.
A search's table is that board restricted to the search's trials (their run ids from the canned query
`search-trials`, cached the same way), so choosing a search never recomputes the leaderboard.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from pyoxigraph import Store

from ..errors import CnnprovError, RenderError, RunNotFoundError, StoreError, StoreNotFoundError
from ..query.execute import QueryResult, run_query
from ..query.leaderboard import DEFAULT_SORT, leaderboard, matches, sort_rows
from ..query.library import load_queries

T = TypeVar("T")

#: Seconds to wait before the one retry of a snapshot that could not be opened.
RETRY_SECONDS = 0.1


def plain(value: Any) -> Any:
    """A JSON-safe value: non-finite floats (JSON has none) become null; everything else stays typed."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def result_json(result: QueryResult) -> dict[str, Any]:
    return {"columns": list(result.columns),
            "rows": [{column: plain(row.get(column)) for column in result.columns} for row in result.rows]}


class Data:
    """The app's reads from one store directory or one SPARQL endpoint."""

    def __init__(self, location: str | os.PathLike[str], *, endpoint: bool = False) -> None:
        self.location = str(location)
        self.endpoint = endpoint
        self._lock = threading.Lock()
        self._cache: dict[Any, tuple[Any, Any]] = {}  # key → (fingerprint, value); emptied by any write

    def describe(self) -> dict[str, Any]:
        return {"location": self.location, "kind": "endpoint" if self.endpoint else "store"}

    # --- access -------------------------------------------------------------------------------------

    def source(self) -> Store | str:
        """A fresh read-only snapshot of the store (retried once), or the endpoint URL."""
        if self.endpoint:
            return self.location
        from ..storage.store import open_for_reading

        try:
            return open_for_reading(self.location)
        except StoreNotFoundError:
            raise
        except RuntimeError:  # a StoreError, or RocksDB's "Corruption: … No such file" while the writer compacts
            time.sleep(RETRY_SECONDS)
        try:
            return open_for_reading(self.location)
        except CnnprovError:
            raise
        except RuntimeError as error:
            raise StoreError(f"cannot read {self.location} right now (a writer is changing its files): {error}; "
                             "the page tries again") from error

    def fingerprint(self) -> tuple[Any, ...] | None:
        """Names, sizes and modification times of the store's files; None for an endpoint (never cached)."""
        if self.endpoint:
            return None
        try:
            with os.scandir(self.location) as entries:
                return tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries
                                    if e.is_file() and not e.name.startswith(("LOG", "LOCK"))))  # not data
        except OSError:
            return None

    def read(self, work: Callable[[Store | str], T]) -> T:
        """`work` on a fresh snapshot, once more on another if the first failed under a writer (RocksDB reports
        a file the writer just compacted away as an OSError or a RuntimeError "Corruption")."""
        for attempt in (1, 2):
            try:
                return work(self.source())
            except CnnprovError:
                raise
            except (OSError, RuntimeError) as error:
                if attempt == 2:
                    raise StoreError(f"cannot read {self.location} right now: {error}") from error
                time.sleep(RETRY_SECONDS)
        raise AssertionError("unreachable")

    def query(self, name: str, **params: Any) -> QueryResult:
        return self.read(lambda store: run_query(store, name, **params))

    # --- runs ---------------------------------------------------------------------------------------

    def cached(self, key: Any, compute: Callable[[], T]) -> T:
        """`compute()`, or its value from the cache while the store's files are unchanged (never for an endpoint)."""
        fingerprint = self.fingerprint()  # before the snapshot: a write in between only costs a recomputation
        with self._lock:  # one computation at a time; requests that arrive meanwhile wait for it and share it
            hit = self._cache.get(key)
            if fingerprint is not None and hit is not None and hit[0] == fingerprint:
                return cast(T, hit[1])
            value = compute()
            if fingerprint is None:
                self._cache.clear()
            else:
                self._cache = {k: v for k, v in self._cache.items() if v[0] == fingerprint}
                self._cache[key] = (fingerprint, value)
            return value

    def board(self) -> QueryResult:
        """The whole leaderboard, newest first."""
        return self.cached("board", lambda: self.read(lambda store: leaderboard(store, sort=DEFAULT_SORT)))

    def trial_ids(self, search: str) -> frozenset[str]:
        """The run ids of the trials of a hyperparameter search (its id, unique id prefix, name or latest)."""
        return self.cached(("trials", search), lambda: frozenset(
            row["run_id"] for row in self.query("search-trials", search=search).rows))

    def runs(self, sort: str | None = None, match: str | None = None, search: str | None = None) -> dict[str, Any]:
        """The table: the runs of the board (only a search's trials, only those `match` occurs in), sorted."""
        board = self.board()
        rows = list(board.rows)
        if search:
            trials = self.trial_ids(search)
            rows = [row for row in rows if row["run_id"] in trials]
        if match:
            rows = [row for row in rows if matches(row, match)]
        column = sort or DEFAULT_SORT
        if column not in board.columns:
            column = DEFAULT_SORT
        ordered = sort_rows(rows, column)
        running = sum(1 for row in board.rows if row["status"] == "unfinished")
        return {"columns": board.columns, "sort": column, "search": search or None, "total": len(board.rows),
                "running": running, "rows": [{c: plain(row[c]) for c in board.columns} for row in ordered]}

    def find_run(self, reference: str) -> dict[str, Any]:
        """A run's leaderboard row, by run id or a unique prefix of it."""
        rows = self.board().rows
        exact = [row for row in rows if row["run_id"] == reference]
        found = exact or [row for row in rows if reference and row["run_id"].startswith(reference)]
        if len(found) != 1:
            what = "no run" if not found else f"{len(found)} runs match"
            raise RunNotFoundError(f"{what} {reference!r} in {self.location}")
        return found[0]

    def run(self, reference: str) -> dict[str, Any]:
        """Everything the run page shows but its curves and its graph."""
        row = self.find_run(reference)
        run_id = row["run_id"]
        hyperparameters, architecture, tests, files, errors = self.read(lambda store: (
            run_query(store, "hyperparameters", run=run_id), run_query(store, "architecture", run=run_id),
            run_query(store, "test-results", run=run_id), run_query(store, "model-lineage"),
            run_query(store, "failed-runs")))
        return {
            "run": {c: plain(v) for c, v in row.items()},
            "hyperparameters": result_json(hyperparameters),
            "architecture": result_json(architecture),
            "tests": _only(tests, run_id, ["test_loss", "test_accuracy", "test_examples", "tested_at"]),
            "model_files": _only(files, run_id, ["file_path", "sha256", "epoch"]),
            "errors": _only(errors, run_id, ["error_type", "error_message"]),
        }

    def epochs(self, reference: str) -> dict[str, Any]:
        """The run's per-epoch metrics and its learning-rate adaptations, for the curves."""
        row = self.find_run(reference)
        epochs, adaptations = self.read(lambda store: (run_query(store, "epoch-metrics", run=row["run_id"]),
                                                       run_query(store, "lr-adaptations", run=row["run_id"])))
        return {"run_id": row["run_id"], "name": row["name"], "status": row["status"],
                "epochs": result_json(epochs), "adaptations": result_json(adaptations)}

    def compare(self, references: list[str]) -> dict[str, Any]:
        runs = [self.epochs(reference) for reference in references]
        return {"runs": runs}

    def graph_svg(self, reference: str) -> str:
        """The run's PROV graph as SVG; a RenderError says why it cannot be drawn (an endpoint, no Graphviz)."""
        if self.endpoint:
            raise RenderError("the PROV graph is drawn from a local store; this app reads an endpoint")
        row = self.find_run(reference)
        from ..visual import run_graph_svg

        try:
            return run_graph_svg(self.source(), row["run_id"])  # not read(): Graphviz errors are RuntimeErrors
        except RenderError:
            raise  # a missing `dot` among them: visual.graph says what to install
        except Exception as error:  # a failing `dot`
            raise RenderError(f"the PROV graph could not be drawn: {error}") from error

    # --- queries ------------------------------------------------------------------------------------

    @staticmethod
    def queries() -> list[dict[str, Any]]:
        listing = []
        for query in load_queries().values():
            entry = query.describe()
            docs = {p.name: p.description for p in query.parameters}
            for parameter in entry["parameters"]:
                parameter["description"] = docs.get(parameter["name"], "")
            listing.append(entry)
        return listing


def _only(result: QueryResult, run_id: str, columns: list[str]) -> dict[str, Any]:
    """The rows of one run from a query over all runs, with the given columns."""
    rows = [{c: plain(row[c]) for c in columns} for row in result.rows if row.get("run_id") == run_id]
    return {"columns": columns, "rows": rows}


def static_dir() -> Path:
    return Path(__file__).resolve().parent / "static"


def plotly_js() -> Path | None:
    """Plotly's own minified bundle, shipped inside the `plotly` Python package (no CDN, no internet)."""
    spec = importlib.util.find_spec("plotly")  # found, not imported: the app only serves the file
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return path if path.is_file() else None
