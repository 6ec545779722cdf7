"""Running the real Oxigraph SPARQL server (PyPI package `oxigraph`) on a store.

The server is started with `--union-default-graph`: our runs live in named graphs, and the canned queries
are written against the union of all graphs, so they give the same answers locally and over HTTP.
Read-only and loopback by default; writing must be asked for.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import ServerError

DEFAULT_BIND = "127.0.0.1:7878"


def oxigraph_executable() -> str:
    """The `oxigraph` command installed beside this Python (the PyPI package), or on PATH."""
    beside = Path(sys.executable).with_name("oxigraph")
    found = str(beside) if beside.exists() else shutil.which("oxigraph")
    if not found:
        raise ServerError("the `oxigraph` server is not installed: pip install oxigraph")
    return found


def serve_command(
    store: str | os.PathLike[str] | None, bind: str = DEFAULT_BIND, read_write: bool = False,
    union_default_graph: bool = True,
) -> list[str]:
    """The command line that serves `store` (None: an in-memory store, always read-write); without
    `union_default_graph` the stock server, whose default graph is a graph of its own."""
    union = ["--union-default-graph"] if union_default_graph else []
    if store is None:
        return [oxigraph_executable(), "serve", "--bind", bind, *union]
    mode = "serve" if read_write else "serve-read-only"
    return [oxigraph_executable(), mode, "--location", str(store), "--bind", bind, *union]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServerProcess:
    """A running `oxigraph` server; `url` is its base, `url + "/query"` and `url + "/update"` its endpoints."""

    process: subprocess.Popen[bytes]
    url: str

    @property
    def query_endpoint(self) -> str:
        return self.url + "/query"

    @property
    def update_endpoint(self) -> str:
        return self.url + "/update"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/query?query=ASK%7B%7D", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise ServerError(f"the Oxigraph server at {url} did not answer within {timeout:.0f} s")


def start_server(
    store: str | os.PathLike[str] | None,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    read_write: bool = False,
    union_default_graph: bool = True,
) -> ServerProcess:
    """Start a server on `host:port` (a free loopback port by default) and wait until it answers."""
    port = port or free_port()
    command = serve_command(store, f"{host}:{port}", read_write, union_default_graph)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = ServerProcess(process, f"http://{host}:{port}")
    try:
        wait_until_up(server.url)
    except ServerError:
        server.stop()
        detail = process.stderr.read().decode(errors="replace").strip() if process.stderr else ""
        raise ServerError(f"could not start `{' '.join(command)}`: {detail or 'no answer'}") from None
    return server
