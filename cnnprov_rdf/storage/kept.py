"""Stores kept open between the runs of a process, so that a grid search or a tuner's trials open a store once.

Opening a store for writing costs RocksDB 15–30 ms of CPU, and its threads as much again to fold the last
session's write-ahead log: on a 1.5 s fit, more than all the rest of capture. So when a writer that opened a
store itself is done with it (`storage.sink.StoreSink.close`), the open store is handed here and kept for
`keep_open_seconds()` (`$CNNPROV_KEEP_OPEN`, 30 by default; 0 closes at once; `MAX_KEPT` stores at most, the
one kept longest closed first); the next writer of that store in
this process takes it (`take`) instead of opening it again. After that quiet, or at the interpreter's exit, it is
closed as its writer would have closed it: `finish(store, state)` (a final flush, say) returns what to do once
the store is dropped, which is what releases RocksDB's lock (the write-ahead log's purge, say), or None.

A store is kept only by the process that wrote it, and only while that process lives: while it is kept, another
process that wants to write it asks for it: `storage.store.open_for_writing` there creates a request file in the
store's folder (`release_request`) and retries for `RELEASE_WAIT` seconds; the keeper looks for that file every
`WATCH_INTERVAL` seconds and closes the store. Every process can read it meanwhile. In this process, any other
writable open (`storage.store.open_for_writing`: an import, a reindex, a spool replay) first closes the kept
store (`release`).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["KEEP_OPEN_ENV", "MAX_KEPT", "RELEASE_WAIT", "keep", "keep_open_seconds", "kept_paths", "release",
           "release_all", "release_request", "take"]

log = logging.getLogger(__name__)

#: Seconds a store stays open after its last writer in this process is done (0: closed at once).
KEEP_OPEN_ENV = "CNNPROV_KEEP_OPEN"
DEFAULT_KEEP_OPEN = 30.0
#: A file another process creates in the store's folder when it wants to write the store (`release_request`).
RELEASE_REQUEST = "cnnprov-release-request"
#: Seconds a writable open in another process retries while it asks the keeper for the store.
RELEASE_WAIT = 3.0
#: Seconds between the keeper's looks for that file.
WATCH_INTERVAL = 0.1
#: The most stores kept open at once: keeping one more closes the one kept longest.
MAX_KEPT = 4


def keep_open_seconds() -> float:
    """`$CNNPROV_KEEP_OPEN` in seconds (a number ≥ 0), else 30; a value that is not a number counts as 30."""
    try:
        return max(0.0, float(os.environ.get(KEEP_OPEN_ENV, DEFAULT_KEEP_OPEN)))
    except ValueError:
        return DEFAULT_KEEP_OPEN


@dataclass
class _Kept:
    store: Any  # a pyoxigraph Store open for writing
    state: Any  # what the writer hands on with it (its sink's count of logged quads)
    finish: Finisher  # closes the store as its writer would have, given it and `state`
    stop: threading.Event | None = None  # set when taken or closed: the watcher ends


#: Given the store and its writer's state: does what comes before dropping it; returns what comes after (or None).
Finisher = Callable[[Any, Any], Callable[[], None] | None]

_lock = threading.RLock()
_kept: dict[str, _Kept] = {}


def _key(path: str | os.PathLike[str]) -> str:
    return str(Path(path).absolute())


def keep(path: str | os.PathLike[str], store: Any, state: Any, finish: Finisher) -> None:
    """Keep `store` (open for writing at `path`) and its writer's `state` for the next writer of this process;
    closed with `finish` after `keep_open_seconds()` of quiet or at exit (at once when that is 0)."""
    entry = _Kept(store, state, finish)
    del store
    seconds = keep_open_seconds()
    if seconds <= 0:
        _close(entry)
        return
    key = _key(path)
    entry.stop = threading.Event()
    with _lock:
        earlier = _kept.pop(key, None)
        _kept[key] = entry
        oldest = [_kept.pop(k) for k in list(_kept)[: max(0, len(_kept) - MAX_KEPT)]]
    threading.Thread(target=_watch, args=(key, entry, entry.stop, seconds), name="cnnprov-keep-open",
                     daemon=True).start()
    for closing in ([earlier] if earlier is not None else []) + oldest:  # (`earlier`: not reached, one per path)
        _close(closing)


def release_request(path: str | os.PathLike[str]) -> Path:
    """The file another process creates in a store's folder to have this one close the store it keeps."""
    return Path(path) / RELEASE_REQUEST


def _watch(key: str, entry: _Kept, stop: threading.Event, seconds: float) -> None:
    """Close the kept store after `seconds`, or as soon as another process asks for it (`release_request`)."""
    deadline = time.monotonic() + seconds
    request = release_request(key)
    while not stop.wait(min(WATCH_INTERVAL, max(0.0, deadline - time.monotonic()))):
        if time.monotonic() >= deadline or request.exists():
            _expire(key, entry)
            with contextlib.suppress(OSError):  # (one its asker left behind would release the next keep at once)
                request.unlink(missing_ok=True)
            return


def take(path: str | os.PathLike[str]) -> tuple[Any, Any] | None:
    """The store kept open at `path` and its writer's state, taken from the keeper; None when none is kept."""
    with _lock:
        entry = _kept.pop(_key(path), None)
    if entry is None:
        return None
    if entry.stop is not None:
        entry.stop.set()
    store, entry.store = entry.store, None  # (its watcher holds the entry until it ends: no reference kept there)
    return store, entry.state


def release(path: str | os.PathLike[str]) -> None:
    """Close the store kept open at `path`, if there is one (before another writable open of it here)."""
    if not _kept:  # the common case: nothing kept, no path to resolve
        return
    with _lock:
        entry = _kept.pop(_key(path), None)
    if entry is not None:
        _close(entry)


def release_all() -> None:
    """Close every kept store (at the interpreter's exit)."""
    with _lock:
        entries = list(_kept.values())
        _kept.clear()
    for entry in entries:
        _close(entry)


def kept_paths() -> list[str]:
    """The stores kept open now (absolute paths)."""
    with _lock:
        return list(_kept)


def _expire(key: str, entry: _Kept) -> None:
    with _lock:
        if _kept.get(key) is not entry:  # taken (or released) meanwhile
            return
        del _kept[key]
    _close(entry)


def _close(entry: _Kept) -> None:
    if entry.stop is not None:
        entry.stop.set()
    try:
        after = entry.finish(entry.store, entry.state)
        entry.store = None  # the last reference: RocksDB closes the store and releases its lock here
        if after is not None:
            after()
    except Exception as error:  # e.g. its folder was deleted meanwhile
        entry.store = None
        log.warning("cnnprov-rdf: closing a store kept open failed: %s", error)


atexit.register(release_all)
