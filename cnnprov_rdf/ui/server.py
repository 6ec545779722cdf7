"""`cnnprov ui`: a small, read-only HTTP server for the web app (Python's own `http.server`, one thread per
request). It answers GET and HEAD only: there is no write path. Pages and scripts are static files of this
package, Plotly is served from the `plotly` package's own bundle, and data comes from the JSON API below, each
request reading a fresh read-only snapshot of the store (see `data.py`).

    GET /api/info                         what the app reads
    GET /api/runs?sort=COL&match=TEXT&search=SEARCH
                                          the leaderboard (one row per run; only the trials of a hyperparameter
                                          search, only the runs TEXT occurs in), plus how many runs are running
    GET /api/runs/RUN                     a run's row, hyperparameters, architecture, tests, model files, errors
    GET /api/runs/RUN/epochs              its per-epoch metrics and learning-rate adaptations
    GET /api/runs/RUN/graph.svg           its PROV graph (Graphviz); 503 with a JSON note when it cannot be drawn
    GET /api/compare?run=A&run=B          the epochs of several runs
    GET /api/queries                      the canned queries and their parameters
    GET /api/queries/NAME?P=V&format=csv  a canned query's rows (json by default, or csv)
    GET /api/sparql?query=Q&format=csv    a user's read-only query (SELECT/ASK/CONSTRUCT/DESCRIBE, no SERVICE)
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import CnnprovError, ConfigurationError, RenderError, RunNotFoundError, ServerError, StoreNotFoundError
from .data import Data, plotly_js, result_json, static_dir
from .sparql import run_user_query

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765
PAGES = {"/": "runs.html", "/compare": "compare.html", "/queries": "queries.html"}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}
# Scripts only from the app itself; Plotly sets inline styles; the PROV graph is an <img> (its SVG cannot run).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
                               "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def parse_bind(bind: str) -> tuple[str, int]:
    """`HOST:PORT`, `HOST` or `:PORT` (IPv6 as `[::1]:8765`); port 0 picks a free one."""
    match = re.fullmatch(r"(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]*))(?::(?P<port>\d+))?", bind.strip())
    if not match:
        raise ConfigurationError(f"--bind takes HOST:PORT, got {bind!r}")
    host = match["v6"] or match["host"] or DEFAULT_HOST
    port = int(match["port"]) if match["port"] is not None else DEFAULT_PORT
    if port > 65535:
        raise ConfigurationError(f"--bind: port {port} is out of range")
    return host, port


def rows_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if row.get(c) is None else row[c] for c in columns] for row in rows])
    return buffer.getvalue()


def _status_of(error: CnnprovError) -> HTTPStatus:
    if isinstance(error, RunNotFoundError):
        return HTTPStatus.NOT_FOUND
    if isinstance(error, (StoreNotFoundError, RenderError)) or not isinstance(error, ValueError):
        return HTTPStatus.SERVICE_UNAVAILABLE
    return HTTPStatus.BAD_REQUEST


class Handler(BaseHTTPRequestHandler):
    """One request; `server.data` is the app's `Data`."""

    server: App
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per failed request only
        if args and str(args[1] if len(args) > 1 else "").startswith(("4", "5")):
            sys.stderr.write(f"cnnprov ui: {self.command} {self.path} → {args[1]}\n")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if not self._host_allowed():
            self._send_json({"error": "unexpected Host header"}, HTTPStatus.FORBIDDEN)
            return
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            self._route(unquote(url.path), query)
        except CnnprovError as error:
            self._send_json({"error": str(error)}, _status_of(error))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as error:  # a bug: tell the page, keep serving
            self._send_json({"error": f"internal error: {type(error).__name__}: {error}"},
                            HTTPStatus.INTERNAL_SERVER_ERROR)

    def _host_allowed(self) -> bool:
        """Refuse a Host the server was not reached by (DNS rebinding of a loopback app)."""
        if self.server.any_host:
            return True
        header = self.headers.get("Host") or ""
        host = header.split("]")[0] + "]" if header.startswith("[") else header.rsplit(":", 1)[0]
        return host in (*_LOOPBACK, self.server.host, f"[{self.server.host}]")

    # --- routing ------------------------------------------------------------------------------------

    def _route(self, path: str, query: dict[str, list[str]]) -> None:
        data = self.server.data
        one = {key: values[-1] for key, values in query.items()}
        if path in PAGES:
            self._send_file(static_dir() / PAGES[path])
        elif re.fullmatch(r"/run/[^/]+", path):
            self._send_file(static_dir() / "run.html")
        elif path == "/static/plotly.min.js":
            bundle = plotly_js()
            if bundle is None:
                self._send_text("window.Plotly = undefined;  // the plotly package is not installed\n",
                                TYPES[".js"])
            else:
                self._send_file(bundle, cache=True)
        elif match := re.fullmatch(r"/static/([\w.-]+)", path):
            self._send_file(static_dir() / match[1])
        elif path == "/api/info":
            self._send_json(data.describe())
        elif path == "/api/runs":
            self._send_json(self._runs(data, one))
        elif match := re.fullmatch(r"/api/runs/([^/]+)", path):
            self._send_json(data.run(match[1]))
        elif match := re.fullmatch(r"/api/runs/([^/]+)/epochs", path):
            self._send_json(data.epochs(match[1]))
        elif match := re.fullmatch(r"/api/runs/([^/]+)/graph\.svg", path):
            self._send_text(data.graph_svg(match[1]), TYPES[".svg"])
        elif path == "/api/compare":
            self._send_json(data.compare([r for value in query.get("run", []) for r in value.split(",") if r]))
        elif path == "/api/queries":
            self._send_json({"queries": data.queries()})
        elif match := re.fullmatch(r"/api/queries/([\w.-]+)", path):
            params = {k: v for k, v in one.items() if k != "format" and v != ""}
            self._send_table(result_json(data.query(match[1], **params)), one.get("format"), match[1])
        elif path == "/api/sparql":
            answer = run_user_query(data.location, one.get("query", ""), endpoint=data.endpoint,
                                    timeout=self.server.query_timeout)
            self._send_table(answer, one.get("format"), "query")
        else:
            self._send_json({"error": f"no page {path}"}, HTTPStatus.NOT_FOUND)

    @staticmethod
    def _runs(data: Data, one: dict[str, str]) -> dict[str, Any]:
        try:
            return data.runs(one.get("sort") or None, one.get("match") or None, one.get("search") or None)
        except StoreNotFoundError as error:  # no training has written the store yet: an empty table
            return {"columns": [], "sort": None, "total": 0, "running": 0, "rows": [], "notice": str(error)}

    # --- responses ----------------------------------------------------------------------------------

    def _send(self, body: bytes, content_type: str, status: HTTPStatus = HTTPStatus.OK,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": content_type, "Content-Length": str(len(body)), **SECURITY_HEADERS,
                   **(extra or {})}
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, payload: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        body = json.dumps(payload, allow_nan=False, default=str).encode("utf-8")
        self._send(body, "application/json; charset=utf-8", status)

    def _send_text(self, text: str, content_type: str) -> None:
        self._send(text.encode("utf-8"), content_type)

    def _send_table(self, table: dict[str, Any], fmt: str | None, name: str) -> None:
        if fmt == "csv":
            self._send(rows_csv(table["columns"], table["rows"]).encode("utf-8"), "text/csv; charset=utf-8",
                       extra={"Content-Disposition": f'attachment; filename="{name}.csv"'})
        elif fmt == "download":
            body = json.dumps(table["rows"], indent=2, allow_nan=False, default=str).encode("utf-8")
            self._send(body, "application/json; charset=utf-8",
                       extra={"Content-Disposition": f'attachment; filename="{name}.json"'})
        else:
            self._send_json(table)

    def _send_file(self, path: Path, *, cache: bool = False) -> None:
        if not path.is_file() or path.suffix not in TYPES:
            self._send_json({"error": f"no file {path.name}"}, HTTPStatus.NOT_FOUND)
            return
        extra = {"Cache-Control": "max-age=86400"} if cache else None
        self._send(path.read_bytes(), TYPES[path.suffix], extra=extra)


class App(ThreadingHTTPServer):
    """The HTTP server and what its handlers read."""

    daemon_threads = True

    def __init__(self, data: Data, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                 query_timeout: float = 10.0) -> None:
        self.data, self.host, self.query_timeout = data, host, query_timeout
        self.any_host = host in ("0.0.0.0", "::", "")
        if ":" in host:
            self.address_family = socket.AF_INET6
        try:
            super().__init__((host, port), Handler)
        except OSError as error:
            raise ServerError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.server_address[1]}/"

    def start(self) -> threading.Thread:
        """Serve on a background thread (for tests and embedding); `shutdown()` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="cnnprov-ui", daemon=True)
        thread.start()
        return thread


def _warm(data: Data) -> None:
    with contextlib.suppress(CnnprovError):  # no store yet, say: the pages will say so
        data.board()


def serve(location: str | Path, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, endpoint: bool = False,
          open_browser: bool = False, ready: Callable[[App], None] | None = None) -> None:
    """Serve the app until interrupted; prints its URL (one line) once it listens."""
    app = App(Data(location, endpoint=endpoint), host, port)
    what = "endpoint" if endpoint else "store"
    print(f"cnnprov ui: serving the {what} {location} at {app.url} (Ctrl-C stops)", flush=True)
    if host not in _LOOPBACK:
        print(f"cnnprov ui: warning: listening on {host}, not only this machine; the app has no login",
              file=sys.stderr, flush=True)
    # Compute the leaderboard once in the background, so that the first page does not wait for it.
    threading.Thread(target=_warm, args=(app.data,), name="cnnprov-ui-warm", daemon=True).start()
    if ready is not None:
        ready(app)
    if open_browser:
        webbrowser.open(app.url)
    try:
        app.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.server_close()
