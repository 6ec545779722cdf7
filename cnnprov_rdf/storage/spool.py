"""The spool: quads that could not be written yet, appended as N-Quads to a local file, and replayed later.

Both sinks use it, in one folder (`default_spool_dir`: `$CNNPROV_SPOOL_DIR`, else the user cache folder,
`$XDG_CACHE_HOME/cnnprov/spool` or `~/.cache/cnnprov/spool`), by default on another file system than a store
that fills its disk: the store writer spools a batch it could not write to `<spool dir>/store-<sha1 of the
store path>.nq` (the store's path kept beside it in `<spool>.store`), the endpoint sink to
`<spool dir>/<sha1 of the update URL>.nq` (its URL in `<spool>.url`) while its endpoint is unavailable.
N-Quads keep each quad's graph, so a replay puts every quad back into its run's graph. A spool is guarded
by an exclusive `fcntl` lock on `<spool>.lock`, so the processes of one machine that share a spool never
interleave partial writes: take it with `locked` around `append`, `replay` or several of them together.
A replay sends the spool in order, in chunks, through a callable, and shortens the file only by the chunks
that were accepted.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pyoxigraph import Quad, RdfFormat, parse, serialize

#: Quads sent per call of a replay's `send`.
REPLAY_CHUNK = 5_000

#: Environment variable naming the directory of spool files.
SPOOL_ENV = "CNNPROV_SPOOL_DIR"


def default_spool_dir() -> Path:
    """`$CNNPROV_SPOOL_DIR`, else `$XDG_CACHE_HOME/cnnprov/spool`, else `~/.cache/cnnprov/spool`."""
    configured = os.environ.get(SPOOL_ENV)
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME")
    return (Path(cache) if cache else Path.home() / ".cache") / "cnnprov" / "spool"


def store_spool_path(store: str | os.PathLike[str], spool_dir: Path | None = None) -> Path:
    """`<spool dir>/store-<sha1 of the store's absolute path>.nq`: where a store's unwritten quads wait."""
    digest = hashlib.sha1(os.fsencode(Path(store).absolute())).hexdigest()
    return (spool_dir or default_spool_dir()) / f"store-{digest}.nq"


def spooled_store(spool: Path) -> Path | None:
    """The store a store spool belongs to (from `<spool>.store`), None for another spool."""
    try:
        text = spool.with_name(spool.name + ".store").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return Path(text) if text else None


def note_store(spool: Path, store: str | os.PathLike[str]) -> None:
    """Record beside a spool which store it belongs to."""
    spool.parent.mkdir(parents=True, exist_ok=True)
    spool.with_name(spool.name + ".store").write_text(f"{Path(store).absolute()}\n", encoding="utf-8")


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


def nquads(quads: Sequence[Quad]) -> bytes:
    """Quads as N-Quads text."""
    buffer = io.BytesIO()
    serialize(quads, buffer, RdfFormat.N_QUADS)
    return buffer.getvalue()


def append(spool: Path, quads: Sequence[Quad]) -> None:
    """Append quads as N-Quads, in one write, synced to disk. Call with the lock held."""
    append_text(spool, nquads(quads))


def append_text(spool: Path, data: bytes) -> None:
    """Append N-Quads text (whole lines), in one write, synced to disk. Call with the lock held.
    A write that fails part-way (a full disk) is cut back, so the spool never ends in half a line."""
    with spool.open("ab") as handle:
        start = handle.tell()
        try:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                handle.truncate(start)
            raise


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
    return replay_text(spool, lambda text: send(list(parse(text, RdfFormat.N_QUADS))), chunk)


def replay_text(spool: Path, send: Callable[[bytes], None], chunk: int = REPLAY_CHUNK) -> int:
    """`replay`, passing each chunk as N-Quads text (for a store's parser) instead of quads."""
    try:
        lines = _lines(spool.read_bytes())
    except FileNotFoundError:
        return 0
    sent = 0
    try:
        for start in range(0, len(lines), chunk):
            block = lines[start:start + chunk]
            send(b"".join(block))
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
