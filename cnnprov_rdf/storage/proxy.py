"""`cnnprov serve`: a small guarding front (stdlib `ThreadingHTTPServer`) before the real Oxigraph server.

The Oxigraph server runs on a private loopback port; the front listens on the public bind address and forwards
only what is safe: queries and updates that would fetch other addresses (`SERVICE`, `LOAD`) are refused (see
`guard`), queries are cancelled after a timeout (Oxigraph's `--timeout-s`), updates need the bearer token, a
`application/sparql-update` body and no foreign `Origin` (so a web page cannot send one: a cross-site form can
only post form-encoded or text bodies, and a script cannot add the header without a CORS preflight, which is
never granted), requests naming a foreign `Host` are refused on a loopback bind (DNS rebinding), and nothing
but `/`, `/query` and `/update` is served (not Oxigraph's graph store protocol).

Read-only, the Oxigraph server holds the snapshot it opened with, so the front starts a fresh one whenever the
store's files changed (checked at most once a `refresh` seconds, before a query), swaps it in, and stops the
old one once its queries had time to end: a server started before a training shows the training's epochs.
A query that fails because the store changed under it is retried once on a fresh server.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import os
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..errors import ServerError
from .guard import refusal
from .server import ServerProcess, start_server

DEFAULT_TIMEOUT = 30.0
#: Largest query or update body accepted, in bytes.
MAX_BODY = 64 << 20
#: Largest answer passed on, in bytes.
MAX_ANSWER = 512 << 20
_TRANSIENT = ("IO error", "No such file", "Corruption")


def new_token() -> str:
    return secrets.token_urlsafe(24)


def store_signature(store: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the store's files: changes whenever a writer commits."""
    found = []
    with contextlib.suppress(OSError), os.scandir(store) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                info = entry.stat()
                found.append((entry.name, info.st_size, info.st_mtime_ns))
    return tuple(sorted(found))


class Backend:
    """The Oxigraph server behind the front; read-only, replaced by a fresh one when the store changed."""

    def __init__(self, store: Path, *, read_write: bool, timeout: float, refresh: float = 1.0) -> None:
        self.store, self.read_write, self.timeout, self.refresh = store, read_write, timeout, refresh
        self.lock = threading.Lock()
        self.in_flight: dict[int, int] = {}  # queries running, by id() of their server
        self.signature = store_signature(store)
        self.server = self._start()
        self.checked = time.monotonic()

    def _start(self) -> ServerProcess:
        return start_server(self.store, read_write=self.read_write, timeout_s=self.timeout)

    def acquire(self, force: bool = False) -> ServerProcess:
        """The server to ask now (a fresh one if the store changed since the last one started); `release` it
        when its answer is read."""
        with self.lock:
            now = time.monotonic()
            if not self.read_write and (force or now - self.checked >= self.refresh):
                self.checked = now
                signature = store_signature(self.store)
                if force or signature != self.signature:
                    self._replace(signature)
            self.in_flight[id(self.server)] = self.in_flight.get(id(self.server), 0) + 1
            return self.server

    def release(self, server: ServerProcess) -> None:
        with self.lock:
            left = self.in_flight[id(server)] = self.in_flight.get(id(server), 1) - 1
            if left <= 0 and server is not self.server:
                del self.in_flight[id(server)]
                threading.Thread(target=server.stop, daemon=True).start()  # replaced, and now idle

    def _replace(self, signature: tuple[tuple[str, int, int], ...]) -> None:
        try:
            fresh = self._start()
        except ServerError:  # the store was mid-change: keep the old snapshot, try again at the next check
            return
        old, self.server, self.signature = self.server, fresh, signature
        if not self.in_flight.get(id(old)):
            self.in_flight.pop(id(old), None)
            threading.Thread(target=old.stop, daemon=True).start()

    def abandon(self, server: ServerProcess) -> None:
        """Kill `server` (a query on it ran past the timeout) and put a fresh one in its place."""
        with self.lock:
            if server is not self.server:
                _kill(server)
                return
            if self.read_write:  # the writer holds the store's lock: the new one can start once it is gone
                _kill(server)
                self.server = self._start()
                return
            try:
                fresh = self._start()
            except ServerError:
                fresh = None
            _kill(server)
            if fresh is not None:
                self.server, self.signature = fresh, store_signature(self.store)
            else:
                self.server = self._start()

    def stop(self) -> None:
        self.server.stop()


def _kill(server: ServerProcess) -> None:
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def _remaining(connection: http.client.HTTPConnection, end: float) -> None:
    """Let the connection's next read wait only until `end` (TimeoutError once it is past)."""
    left = end - time.monotonic()
    if left <= 0:
        raise TimeoutError
    if connection.sock is not None:
        connection.sock.settimeout(left)


class Front(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, bind: tuple[str, int], backend: Backend, token: str | None, timeout: float) -> None:
        super().__init__(bind, Handler)
        self.backend, self.token, self.query_timeout = backend, token, timeout
        host, port = bind[0], self.server_address[1]
        self.allowed_hosts = None if not _is_loopback(host) else {
            f"{name}:{port}" for name in ("localhost", "127.0.0.1", "[::1]", host)}


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Handler(BaseHTTPRequestHandler):
    server: Front
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet: no log line per request
        pass

    # --- routing -----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if not self._host_ok():
            return
        if url.path == "/":
            self._forward("GET", "/", None, {})
        elif url.path == "/query":
            params = urllib.parse.parse_qs(url.query, keep_blank_values=True)
            self._query(params.pop("query", []), params)
        elif url.path == "/update":
            self._error(405, "updates must be POSTed")
        else:
            self._error(404, "not found: this server answers /query and /update")

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if not self._host_ok():
            return
        body = self._body()
        if body is None:
            return
        params = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if url.path == "/query":
            if kind == "application/sparql-query":
                self._query([body.decode("utf-8", errors="replace")], params)
            elif kind == "application/x-www-form-urlencoded":
                form = urllib.parse.parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
                self._query(form.pop("query", []), {**params, **form})
            else:
                self._error(415, "a query is sent as application/sparql-query or form-encoded")
        elif url.path == "/update":
            self._update(body, kind, params)
        else:
            self._error(404, "not found: this server answers /query and /update")

    def do_PUT(self) -> None:
        self._error(405, "only /query and /update are served")

    do_DELETE = do_PATCH = do_OPTIONS = do_PUT  # no graph store protocol, no CORS preflight granted

    # --- checks ------------------------------------------------------------------------------------

    def _host_ok(self) -> bool:
        host = self.headers.get("Host")
        if self.server.allowed_hosts is not None and host is not None and host not in self.server.allowed_hosts:
            self._error(403, f"unexpected Host {host!r}: this server answers only under its loopback address")
            return False
        return True

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._error(413, f"the body must have a Content-Length of at most {MAX_BODY} bytes")
            return None
        return self.rfile.read(length)

    def _query(self, queries: list[str], params: dict[str, list[str]]) -> None:
        if len(queries) != 1:
            self._error(400, "give exactly one `query` parameter")
            return
        reason = refusal(queries[0])
        if reason:
            self._error(403, reason)
            return
        extra = {k: v for k, v in params.items() if k in ("default-graph-uri", "named-graph-uri")}
        self._forward("POST", "/query", queries[0].encode("utf-8"), extra, "application/sparql-query")

    def _update(self, body: bytes, kind: str, params: dict[str, list[str]]) -> None:
        front = self.server
        if front.token is None:
            self._error(403, "this server is read-only (start it with `cnnprov serve --read-write`)")
            return
        given = self.headers.get("Authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {front.token}".encode()):
            self._error(401, "an update needs the server's token: header `Authorization: Bearer <token>`",
                        {"WWW-Authenticate": "Bearer"})
            return
        origin = self.headers.get("Origin")
        if origin is not None and urllib.parse.urlsplit(origin).netloc != self.headers.get("Host"):
            self._error(403, f"cross-site update refused (Origin {origin!r})")
            return
        if kind != "application/sparql-update":
            self._error(415, "an update is sent as application/sparql-update (form-encoded updates are refused)")
            return
        reason = refusal(body.decode("utf-8", errors="replace"))
        if reason:
            self._error(403, reason)
            return
        extra = {k: v for k, v in params.items() if k in ("using-graph-uri", "using-named-graph-uri")}
        self._forward("POST", "/update", body, extra, "application/sparql-update")

    # --- forwarding --------------------------------------------------------------------------------

    def _forward(self, method: str, path: str, body: bytes | None, params: dict[str, list[str]],
                 kind: str | None = None) -> None:
        backend = self.server.backend
        for attempt in range(2):
            started = time.monotonic()
            target = backend.acquire(force=attempt > 0)
            try:
                status, headers, data = self._ask(target, method, path, body, params, kind)
            finally:
                backend.release(target)
            elapsed = time.monotonic() - started
            if (status == 0 or status >= 500) and elapsed >= self.server.query_timeout:
                self._error(503, f"the query ran past this server's limit of {self.server.query_timeout:g} s "
                                 f"(`cnnprov serve --timeout`)")
                return
            transient = status == 0 or (status >= 500 and any(t.encode() in data for t in _TRANSIENT))
            if not (transient and attempt == 0 and not backend.read_write):
                break
        if status == 0:
            self._error(502, f"the Oxigraph server gave no complete answer: {data.decode(errors='replace')}")
            return
        self._reply(status, data, headers)

    def _ask(self, target: ServerProcess, method: str, path: str, body: bytes | None,
             params: dict[str, list[str]], kind: str | None) -> tuple[int, dict[str, str], bytes]:
        """The Oxigraph server's answer (status 0 when there was none). Past the timeout the server is killed
        and replaced: Oxigraph's own `--timeout-s` does not stop an aggregate or a streamed answer."""
        query = urllib.parse.urlencode(params, doseq=True)
        headers = {"Accept": self.headers.get("Accept", "*/*")}
        if kind:
            headers["Content-Type"] = kind + "; charset=utf-8"
        end = time.monotonic() + self.server.query_timeout
        host, port = urllib.parse.urlsplit(target.url).netloc.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=self.server.query_timeout)
        try:
            connection.request(method, f"{path}{'?' + query if query else ''}", body=body, headers=headers)
            _remaining(connection, end)
            response = connection.getresponse()
            parts, size = [], 0
            while True:
                _remaining(connection, end)
                part = response.read1(1 << 16) if hasattr(response, "read1") else response.read(1 << 16)
                if not part:
                    break
                size += len(part)
                if size > MAX_ANSWER:
                    return 507, {}, f"an answer over {MAX_ANSWER} bytes is refused (use LIMIT)\n".encode()
                parts.append(part)
            kept = {k: v for k, v in response.getheaders() if k == "Content-Type"}
            return response.status, kept, b"".join(parts)
        except TimeoutError:
            self.server.backend.abandon(target)
            return 0, {}, b"timed out"
        except (OSError, http.client.HTTPException) as error:  # cancelled mid-answer, refused, reset
            return 0, {}, str(error).encode()
        finally:
            connection.close()

    def _reply(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self.close_connection = True  # a body left unread must not be taken for the next request
        self._reply(status, (message + "\n").encode(), {"Content-Type": "text/plain; charset=utf-8", **(headers or {})})


def serve(store: Path, host: str, port: int, *, read_write: bool, token: str | None,
          timeout: float = DEFAULT_TIMEOUT, refresh: float = 1.0) -> Front:
    """Start the Oxigraph server behind a front on `host:port`; call `serve_forever()` on what it returns and
    `shutdown()` plus `backend.stop()` to end. `token` is needed (and only used) with `read_write`."""
    if read_write and not token:
        raise ServerError("a read-write server needs a token")
    backend = Backend(store, read_write=read_write, timeout=timeout, refresh=refresh)
    try:
        return Front((host, port), backend, token if read_write else None, timeout)
    except OSError as error:
        backend.stop()
        raise ServerError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
