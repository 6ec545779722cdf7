"""The writers of this process, by store path, so that a reader here sees what was submitted (read your writes).

The training thread does not wait for the store: the Keras callback's flush at the end of `fit` and its
`close()` continue in the background (`AsyncWriter.flush(wait=False)`, `close(wait=False)`). A read of a store
in the process that writes it (`storage.store.open_for_reading`) therefore first waits, here, for the events
submitted to that store's writer so far (and for a close under way), at most `SETTLE_WAIT` seconds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

#: The most seconds a reader waits for this process's writer of the store it reads.
SETTLE_WAIT = 30.0

_lock = threading.Lock()
_writers: dict[str, list[Callable[[float], object]]] = {}  # a closing writer and the one taking over


def _key(path: str | os.PathLike[str]) -> str:
    return str(Path(path).resolve())


def register(path: str | os.PathLike[str], settle: Callable[[float], object]) -> None:
    """`settle(timeout)` waits until what was submitted to the writer of `path` is in the store."""
    with _lock:
        _writers.setdefault(_key(path), []).append(settle)


def unregister(path: str | os.PathLike[str], settle: Callable[[float], object]) -> None:
    with _lock:
        waiting = _writers.get(_key(path), [])
        if settle in waiting:
            waiting.remove(settle)
        if not waiting:
            _writers.pop(_key(path), None)


def settle(path: str | os.PathLike[str], timeout: float = SETTLE_WAIT) -> None:
    """Wait for this process's writers of the store at `path`, if there are any (oldest first)."""
    if not _writers:  # no writer in this process (a reader's, the common case): no path to resolve
        return
    with _lock:
        waiting = list(_writers.get(_key(path), []))
    for waiter in waiting:
        waiter(timeout)
