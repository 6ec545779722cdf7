"""The spool: quads that could not be written yet, appended as N-Quads to a local file, and replayed later.

Both sinks use it: the store writer spools a batch it could not write to `<store>.unwritten.nq`, the endpoint
sink spools to `<spool dir>/<sha1 of the update URL>.nq` while its endpoint is unavailable. A spool is guarded
by an exclusive `fcntl` lock on `<spool>.lock`, so the processes of one machine that share a spool never
interleave partial writes: take it with `locked` around `append`, `replay` or several of them together.
A replay sends the spool in order, in chunks, through a callable, and shortens the file only by the chunks
that were accepted.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pyoxigraph import Quad, RdfFormat, parse, serialize

#: Quads sent per call of a replay's `send`.
REPLAY_CHUNK = 5_000


@contextlib.contextmanager
def locked(spool: Path) -> Iterator[None]:
    """An exclusive `fcntl` lock on `<spool>.lock` (its directory created if need be), for all processes."""
    spool.parent.mkdir(parents=True, exist_ok=True)
    with open(spool.with_name(spool.name + ".lock"), "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def append(spool: Path, quads: Sequence[Quad]) -> None:
    """Append quads as N-Quads, in one write, synced to disk. Call with the lock held."""
    buffer = io.BytesIO()
    serialize(quads, buffer, RdfFormat.N_QUADS)
    with spool.open("ab") as handle:
        handle.write(buffer.getvalue())
        handle.flush()
        os.fsync(handle.fileno())


def append_locked(spool: Path, quads: Sequence[Quad]) -> None:
    """`append` under the spool's lock."""
    with locked(spool):
        append(spool, quads)


def _lines(data: bytes) -> list[bytes]:
    """The statement lines of N-Quads (no blank or comment lines)."""
    return [line for line in data.splitlines(keepends=True) if line.strip() and not line.lstrip().startswith(b"#")]


def count_quads(spool: Path) -> int:
    """Quads waiting in the spool (0 when there is none)."""
    try:
        with spool.open("rb") as handle:
            return sum(1 for line in handle if line.strip() and not line.lstrip().startswith(b"#"))
    except FileNotFoundError:
        return 0


def is_waiting(spool: Path) -> bool:
    """Whether the spool holds anything."""
    return spool.exists() and spool.stat().st_size > 0


def replay(spool: Path, send: Callable[[list[Quad]], None], chunk: int = REPLAY_CHUNK) -> int:
    """Pass the spool's quads to `send`, in order, `chunk` at a time; returns the quads sent. Call with the
    lock held. When `send` raises, the spool is first shortened by what was sent, then the error propagates."""
    try:
        lines = _lines(spool.read_bytes())
    except FileNotFoundError:
        return 0
    sent = 0
    try:
        for start in range(0, len(lines), chunk):
            block = lines[start:start + chunk]
            send(list(parse(b"".join(block), RdfFormat.N_QUADS)))
            sent += len(block)
    finally:
        rest = lines[sent:]
        if not rest:
            spool.unlink(missing_ok=True)
        elif sent:
            temporary = spool.with_name(spool.name + ".tmp")
            temporary.write_bytes(b"".join(rest))
            os.replace(temporary, spool)
    return sent


def waiting_spools(directory: Path, pattern: str = "*.nq") -> list[tuple[Path, int]]:
    """Every non-empty spool in `directory` matching `pattern`, with the quads it holds, by file name."""
    if not directory.is_dir():
        return []
    found = ((spool, count_quads(spool)) for spool in sorted(directory.glob(pattern)))
    return [(spool, quads) for spool, quads in found if quads]
