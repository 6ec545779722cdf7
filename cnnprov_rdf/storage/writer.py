"""The asynchronous writer: the training thread enqueues events, a background thread maps and writes them.

Each batch is one store transaction. After the first event of a batch the writer lingers (`linger` seconds,
1 by default, cut short by `flush`/`close`) so that the events of a second become one batch: fewer, larger
transactions cost less CPU, and the writer works while training is back in its compiled step instead of
contending with a hook for the interpreter. Readers therefore see an event about a second after it happened.
The queue is bounded: when it is full, `submit` waits (back-pressure) rather than dropping.
A batch that cannot be written is retried, then appended as N-Quads to a spool file (`storage.spool`, under
its lock) so that nothing is lost; training is never interrupted by a write failure.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pyoxigraph import Quad, Store

from ..capture.events import Event
from ..graph.iris import is_write_once
from ..graph.mapping import to_quads
from ..graph.vocabulary import DEFAULT_BASE
from . import spool
from .store import purge_write_ahead_log

log = logging.getLogger(__name__)

_STOP = object()


class QuadSink(Protocol):
    """Where batches of quads go: one `write` call is one transaction."""

    def write(self, quads: Sequence[Quad]) -> None: ...

    def close(self) -> None: ...


class StoreSink:
    """An embedded pyoxigraph store opened for writing (at `path`, when it is on disk).

    A shared node's graph (a hyperparameter's, a measure's, an architecture's) that the store already holds is
    not written again: its name fixes its quads, and writing them again would cost as much as new ones.
    """

    def __init__(self, store: Store, path: Path | None = None) -> None:
        self.store: Store | None = store
        self.path = path
        self._held: set[Any] = set()  # shared nodes' graphs known to be in the store
        self.skipped_quads = 0  # quads of shared nodes' graphs that the store already held

    def write(self, quads: Sequence[Quad]) -> None:
        if self.store is None:  # an OSError like any failed write: the writer retries, then spools
            raise OSError("the store was closed")
        store = self.store
        shared = {graph for graph in {q.graph_name for q in quads} if is_write_once(graph)}  # a few distinct
        held = {g for g in shared if g in self._held or store.contains_named_graph(g)}
        if held:
            kept = [q for q in quads if q.graph_name not in held]
            self.skipped_quads += len(quads) - len(kept)
            quads = kept
        store.extend(quads)
        self._held |= shared

    def close(self) -> None:
        """Flush and let go of the store, which releases its lock for other writers, then purge its log."""
        if self.store is not None:
            store, self.store = self.store, None
            store.flush()
            del store
            if self.path is not None:
                purge_write_ahead_log(self.path)


@dataclass
class WriterStats:
    events_written: int = 0
    quads_written: int = 0  # handed to the sink (a StoreSink leaves out shared nodes' graphs it already holds)
    batches: int = 0
    failed_writes: int = 0
    spooled_quads: int = 0
    cpu_seconds: float = 0.0


class AsyncWriter:
    """Maps and writes events on a background thread, in batches, with bounded memory."""

    def __init__(
        self,
        sink: QuadSink,
        *,
        base: str = DEFAULT_BASE,
        spool_path: Path | None = None,
        max_pending: int = 10_000,
        max_batch: int = 2_000,
        linger: float = 1.0,
        retries: tuple[float, ...] = (0.05, 0.2, 1.0),
        mapper: Callable[[Event, str], list[Quad]] = to_quads,
    ) -> None:
        self._sink = sink
        self._base = base
        self._spool_path = spool_path
        self._max_batch = max_batch
        self._linger = linger
        self._hurry = threading.Event()  # set while someone waits in flush() or close(): no lingering
        self._flushing = 0
        self._retries = retries
        self._mapper = mapper
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_pending)
        self._done = threading.Condition()
        self._submitted = 0
        self._finished = 0
        self._closed = False
        self.stats = WriterStats()
        self._thread = threading.Thread(target=self._run, name="cnnprov-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # --- training-thread side -----------------------------------------------------------------------

    def submit(self, event: Event) -> None:
        """Enqueue one event; waits only while the queue is full."""
        if self._closed:
            log.warning("cnnprov-rdf: event %s submitted after close() was ignored", type(event).__name__)
            return
        with self._done:
            self._submitted += 1
        self._queue.put(event)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        with self._done:
            return self._submitted - self._finished

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event submitted so far is written (or spooled). False on timeout."""
        with self._done:
            target = self._submitted
            self._flushing += 1
            self._hurry.set()
            try:
                return self._done.wait_for(lambda: self._finished >= target, timeout=timeout)
            finally:
                self._flushing -= 1
                if not self._flushing and not self._closed:
                    self._hurry.clear()

    def close(self, timeout: float | None = None) -> None:
        """Write everything pending, stop the thread and close the sink. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._hurry.set()
        atexit.unregister(self.close)
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("cnnprov-rdf: the store did not take %d pending events within %.1fs; they are still being "
                        "written in the background", self.pending, timeout or 0.0)
            return
        try:
            self._sink.close()
        except Exception as error:
            log.warning("cnnprov-rdf: closing the store failed: %s", error)

    # --- writer-thread side -------------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[Event] = []
            item = self._queue.get()
            if item is not _STOP and self._linger > 0 and not self._hurry.is_set():
                self._hurry.wait(self._linger)  # let the rest of the burst arrive (sleeps without the GIL)
            while True:
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)  # type: ignore[arg-type]
                if len(batch) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                started = time.thread_time()
                self._write(batch)
                self.stats.cpu_seconds += time.thread_time() - started
                with self._done:
                    self._finished += len(batch)
                    self._done.notify_all()

    def _write(self, batch: list[Event]) -> None:
        quads: list[Quad] = []
        for event in batch:  # one unmappable event must not cost the rest of the batch
            try:
                quads.extend(self._mapper(event, self._base))
            except Exception as error:
                log.warning("cnnprov-rdf: could not map a %s event, skipped: %r", type(event).__name__, error)
        for delay in (*self._retries, None):
            try:
                self._sink.write(quads)
            except Exception as error:
                self.stats.failed_writes += 1
                if delay is None:
                    self._spool(quads, error)
                    return
                log.warning("cnnprov-rdf: writing %d quads failed (%s); retrying in %.2fs", len(quads), error, delay)
                time.sleep(delay)
            else:
                self.stats.batches += 1
                self.stats.events_written += len(batch)
                self.stats.quads_written += len(quads)
                return

    def _spool(self, quads: list[Quad], error: Exception) -> None:
        if self._spool_path is None:
            log.warning("cnnprov-rdf: %d quads could not be written and no spool file is set: %s", len(quads), error)
            return
        try:
            spool.append_locked(self._spool_path, quads)
        except OSError as spool_error:
            log.warning("cnnprov-rdf: could not spool %d quads to %s: %s", len(quads), self._spool_path, spool_error)
            return
        self.stats.spooled_quads += len(quads)
        log.warning(
            "cnnprov-rdf: writing failed (%s); %d quads saved as N-Quads to %s (load them into the store later)",
            error, len(quads), self._spool_path,
        )
