"""Start a real `cnnprov serve` process on a free loopback port (stopped by the caller)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cnnprov_rdf.storage.server import ServerProcess, free_port, wait_until_up

REPO = Path(__file__).resolve().parents[1]


def serve(store: Path, *extra: str) -> ServerProcess:
    """`cnnprov serve --store STORE --bind 127.0.0.1:PORT EXTRA…`, once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cnnprov_rdf.cli", "serve", "--store", str(store), "--bind", f"127.0.0.1:{port}",
         *extra], env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = ServerProcess(process, f"http://127.0.0.1:{port}")
    try:
        wait_until_up(server.url)
    except Exception:
        server.stop()
        raise
    return server
