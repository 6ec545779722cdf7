"""Facts about this process and its files that a run records: the clock, agents, versions, file digests."""

from __future__ import annotations

import getpass
import os
import platform
import socket
from datetime import UTC, datetime
from hashlib import sha256
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .events import Agents


def now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def package_version() -> str:
    """The installed version of cnnprov-rdf, or `0+unknown` when it runs from a source tree."""
    try:
        return version("cnnprov-rdf")
    except PackageNotFoundError:
        return "0+unknown"


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def local_agents(
    framework_name: str | None = None,
    framework_version: str | None = None,
    keras_version: str | None = None,
    device_kind: str = "CPU",
    device_name: str | None = None,
) -> Agents:
    """The software, device, user and host of this process."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return Agents(
        software_version=package_version(),
        python_version=platform.python_version(),
        framework_name=framework_name,
        framework_version=framework_version,
        keras_version=keras_version,
        device_kind=device_kind,
        device_name=device_name or cpu_name(),
        host_name=socket.gethostname(),
        user_name=user,
    )


def file_digest(path: Path) -> tuple[int, str]:
    """Size in bytes and SHA-256 of a file (of all files, for a directory such as a SavedModel)."""
    digest = sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    size = 0
    for file in files:
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
    return size, digest.hexdigest()
