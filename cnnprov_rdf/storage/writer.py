"""The asynchronous writer: the training thread enqueues events, a background thread maps and writes them.

Each batch is one store transaction (or one bulk load, `storage.sink`). When an event arrives at an idle
writer that wrote within the last `linger` seconds (1 by default, but never past `max_delay`; a fresh writer
counts as having just written), the writer lingers that long (cut short by `flush`/`close` or by a full
batch) so that the events of a burst become one batch: fewer, larger transactions cost less CPU, and the
writer works while training is back in its compiled step. An event after a longer quiet (an epoch seconds
after the last) is written at once: a timed wait would cost a second wake-up and batch nothing. With a
backlog (events waited while the last batch was written) it does not linger either.

`flush(wait=False)` and `close(wait=False)` (what the Keras callback uses at the end of `fit`) return at once:
the writer writes what is pending without lingering, in the background. A reader of the store in this
process waits for it (`storage.inflight`), and so does the interpreter at exit, so nothing is lost.

The queue is bounded in count and in time: `submit` waits (back-pressure, never a drop) while the queue holds
`max_pending` events, or, once it holds `MIN_BATCH` (a flood, not a few epochs behind a slow sink), while its
oldest event has waited more than `max_delay` seconds (0.5 by default) or it holds more than the writer was
measured to write in `max_delay` (an average over recent batches; `FIRST_BATCH`
until it is measured). A batch is
at most `max_batch` events and at most `max_delay` of measured writing. An event therefore reaches the store
within about three times `max_delay` whatever the machine's speed: in a flood, well within 2 s.

A batch that cannot be written is retried, then appended as N-Quads to the sink's spool file (`storage.spool`,
under its lock) so that nothing is lost; training is never interrupted by a write failure. After a failure,
batches go straight to the spool for `backoff` seconds; the next batch that is written again is followed by a
replay of the spool into the sink (N-Quads keep every quad's graph, so replayed quads land in their runs).
A spool that is already waiting when the writer starts (a dead process's) is replayed after the first write.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import Quad, RdfFormat, parse

from ..capture.events import Event
from ..graph.nquads import Encoded, Encoder
from ..graph.vocabulary import DEFAULT_BASE
from . import inflight, spool
from .sink import QuadSink, StoreSink

__all__ = ["AsyncWriter", "QuadSink", "StoreSink", "WriterStats"]

log = logging.getLogger(__name__)

#: The fewest events a batch or the queue is cut to by the measured write rate.
MIN_BATCH = 100

#: The most events of a batch (and of the queue) before the write rate is measured.
FIRST_BATCH = 500

#: Failed batches kept in memory while even the spool cannot be written (a full cache disk as well).
MAX_HELD_BYTES = 64 << 20


@dataclass
class WriterStats:
    events_written: int = 0
    quads_written: int = 0  # handed to the sink (a StoreSink leaves out shared nodes' graphs it already holds)
    batches: int = 0
    failed_writes: int = 0
    spooled_quads: int = 0
    replayed_quads: int = 0
    cpu_seconds: float = 0.0  # the writer thread's CPU in its writes
    thread_cpu_seconds: float = 0.0  # all of the writer thread's CPU (open, waits, writes, close), once it ended
    open_cpu_seconds: float = 0.0  # the writer thread's CPU in opening the sink (`prepare`: the store's open)
    max_wait_seconds: float = 0.0  # longest a submit waited for room (back-pressure)
    max_latency_seconds: float = 0.0  # longest from an event's submit to its batch written (or spooled)


class AsyncWriter:
    """Maps and writes events on a background thread, in batches, with memory bounded in count and time."""

    def __init__(
        self,
        sink: QuadSink,
        *,
        base: str = DEFAULT_BASE,
        spool_path: Path | None = None,
        max_pending: int = 10_000,
        max_batch: int = 2_000,
        linger: float = 1.0,
        max_delay: float = 0.5,
        retries: tuple[float, ...] = (0.05, 0.2),
        backoff: float = 1.0,
        mapper: Callable[[Event, str], list[Quad]] | None = None,
    ) -> None:
        self._sink = sink
        self._base = base
        self._spool_path = spool_path if spool_path is not None else getattr(sink, "spool_path", None)
        self._max_pending = max(1, max_pending)
        self._max_batch = max(1, max_batch)
        self._linger = linger
        self._max_delay = max_delay
        self._retries = retries
        self._backoff = backoff
        self._mapper = mapper
        self._encoder = Encoder(base)
        self._queue: deque[tuple[float, Event]] = deque()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # the queue changed, or a flush/close began
        self._hurry = 0  # callers waiting in flush()/close(): no lingering
        self._urgent = 0  # events up to this count are written without lingering (flush(wait=False))
        self._last_write = time.monotonic()  # a fresh writer counts as active: a first burst lingers together
        self._busy = False  # the writer thread holds a batch
        self._submitted = 0
        self._finished = 0
        self._closed = False
        self._stopping = False
        self._close_in_thread = False
        self._failed_at = -float("inf")
        self._rate = 0.0  # events written per second, averaged over recent batches (0: not measured yet)
        self._replay_due = False  # a spool waiting (a dead process's): found on the writer thread, as it starts
        self._held: list[bytes] = []  # batches that neither the sink nor the spool took
        self.stats = WriterStats()
        self._thread = threading.Thread(target=self._run, name="cnnprov-writer", daemon=True)
        self._store_path = sink.path if isinstance(sink, StoreSink) else None
        if self._store_path is not None:
            inflight.register(self._store_path, self._settle)
        self._thread.start()
        atexit.register(self.close)

    # --- training-thread side -----------------------------------------------------------------------

    def submit(self, event: Event) -> None:
        """Enqueue one event; waits only while the queue is full in count or in time."""
        if self._closed:
            log.warning("cnnprov-rdf: event %s submitted after close() was ignored", type(event).__name__)
            return
        with self._lock:
            queue = self._queue
            if queue and not self._has_room():
                started = time.monotonic()
                self._changed.wait_for(self._has_room)
                self.stats.max_wait_seconds = max(self.stats.max_wait_seconds, time.monotonic() - started)
            was_empty = not queue
            queue.append((time.monotonic(), event))
            self._submitted += 1
            if was_empty or len(queue) >= self._batch_limit():
                self._changed.notify_all()

    def _has_room(self) -> bool:
        """Room for one more event: fewer than `max_pending`, and either a few (a slow sink, such as an endpoint
        timing out, never holds up training for a handful of epochs) or within the time bound."""
        queue = self._queue
        return self._stopping or len(queue) < min(MIN_BATCH, self._max_pending) or (
            len(queue) < self._max_pending and time.monotonic() - queue[0][0] <= self._max_delay
            and len(queue) < max(MIN_BATCH, self._batch_limit()))

    def _batch_limit(self) -> int:
        """At most `max_batch` events, and at most what the writer writes in `max_delay` (`FIRST_BATCH` until
        that is measured)."""
        if not self._rate:
            return min(self._max_batch, FIRST_BATCH)
        return min(self._max_batch, max(MIN_BATCH, int(self._rate * self._max_delay)))

    @property
    def closed(self) -> bool:
        return self._closed

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the writer thread to end (after `close`, e.g. one in the background); False on timeout."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def pending(self) -> int:
        with self._lock:
            return self._submitted - self._finished

    def flush(self, timeout: float | None = None, *, wait: bool = True) -> bool:
        """Wait until every event submitted so far is written (or spooled). False on timeout.

        With `wait=False` it returns at once (True): what is pending is written without lingering, in the
        background."""
        with self._lock:
            target = self._submitted
            if not wait:
                self._urgent = target
                self._changed.notify_all()
                return True
            self._hurry += 1
            self._changed.notify_all()
            try:
                return self._changed.wait_for(lambda: self._finished >= target, timeout=timeout)
            finally:
                self._hurry -= 1

    def close(self, timeout: float | None = None, *, wait: bool = True) -> None:
        """Write everything pending, stop the thread and close the sink. Safe to call twice.

        With `wait=False` it returns at once: the writer thread writes what is pending and closes the sink
        (the store's final flush and log purge) in the background, overlapping with the caller's next lines;
        the interpreter waits for it at exit, and a new writer of the same store in this process waits for it
        when it opens the store."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        with self._lock:
            self._stopping = True
            self._hurry += 1
            self._close_in_thread = not wait
            self._changed.notify_all()
        if not wait:
            if hasattr(self._sink, "closing"):
                self._sink.closing = True  # a new writer of the same store in this process waits for this one
            atexit.register(self._thread.join)
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("cnnprov-rdf: the store did not take %d pending events within %.1fs; they are still being "
                        "written in the background", self.pending, timeout or 0.0)
            return
        self._close_sink()

    def _close_sink(self) -> None:
        try:
            self._sink.close()
        except Exception as error:
            log.warning("cnnprov-rdf: closing the store failed: %s", error)
        finally:
            if self._store_path is not None:
                inflight.unregister(self._store_path, self._settle)

    def _settle(self, timeout: float) -> None:
        """For a reader of the store in this process: wait for what was submitted, and for a close under way."""
        if threading.current_thread() is self._thread:
            return
        if self._close_in_thread:
            self._thread.join(timeout)
        else:
            self.flush(timeout)

    # --- writer-thread side -------------------------------------------------------------------------

    def _next_batch(self) -> tuple[float, list[Event]] | None:
        """The next batch and its first event's submit time, after the linger when the writer was idle;
        None once stopped and drained."""
        with self._lock:
            queue = self._queue
            idle = not queue
            self._changed.wait_for(lambda: queue or self._stopping)
            if not queue:
                return None
            linger = min(self._linger, self._max_delay)
            if idle and linger > 0 and queue[0][0] - self._last_write < linger:
                until = queue[0][0] + linger
                self._changed.wait_for(
                    lambda: self._hurry or self._urgent > self._finished or len(queue) >= self._batch_limit(),
                    timeout=max(0.0, until - time.monotonic()))
            count, first = min(len(queue), self._batch_limit()), queue[0][0]
            batch = [queue.popleft()[1] for _ in range(count)]
            self._changed.notify_all()  # room for waiting submitters
            return first, batch

    def _run(self) -> None:
        sink = self._sink
        if self._spool_path is not None:  # file system work, kept off the training thread
            if isinstance(sink, StoreSink) and sink.path is not None:
                with contextlib.suppress(OSError):
                    spool.note_store(self._spool_path, sink.path)
            self._replay_due = spool.is_waiting(self._spool_path)
        prepare = getattr(self._sink, "prepare", None)
        if prepare is not None:
            prepare()  # e.g. open the store here, not on the training thread
            self.stats.open_cpu_seconds = time.thread_time()
        while (next_batch := self._next_batch()) is not None:
            first, batch = next_batch
            started, clock = time.thread_time(), time.monotonic()
            try:
                self._write(batch)
            except Exception as error:  # never lose the thread
                log.warning("cnnprov-rdf: a batch of %d events was lost: %r", len(batch), error)
            self.stats.cpu_seconds += time.thread_time() - started
            rate = len(batch) / max(time.monotonic() - clock, 1e-6)
            self._rate = rate if not self._rate else 0.7 * self._rate + 0.3 * rate
            self.stats.max_latency_seconds = max(self.stats.max_latency_seconds, time.monotonic() - first)
            with self._lock:
                self._finished += len(batch)
                self._last_write = time.monotonic()
                self._changed.notify_all()
        if self._close_in_thread:
            self._close_sink()
        self.stats.thread_cpu_seconds = time.thread_time()

    def _encode(self, batch: list[Event]) -> Encoded:
        encoded = Encoded()
        for event in batch:  # one unmappable event must not cost the rest of the batch
            try:
                if self._mapper is None:
                    self._encoder.add(event, encoded)
                else:
                    encoded.quads.extend(self._mapper(event, self._base))
            except Exception as error:
                log.warning("cnnprov-rdf: could not map a %s event, skipped: %r", type(event).__name__, error)
        return encoded

    def _send(self, encoded: Encoded) -> None:
        write_encoded = getattr(self._sink, "write_encoded", None)
        if write_encoded is not None:
            write_encoded(encoded)
        else:
            text = list(parse(encoded.data(), RdfFormat.N_QUADS)) if encoded.text_quads else []
            self._sink.write(encoded.quads + text)

    def _write(self, batch: list[Event]) -> None:
        encoded = self._encode(batch)
        if time.monotonic() - self._failed_at < self._backoff and self._spool_path is not None:
            self._spool(encoded, None)  # the sink failed a moment ago: keep training fast, retry later
            return
        for delay in (*self._retries, None):
            try:
                self._send(encoded)
            except Exception as error:
                self.stats.failed_writes += 1
                if delay is None:
                    self._failed_at = time.monotonic()
                    self._spool(encoded, error)
                    return
                log.warning("cnnprov-rdf: writing %d quads failed (%s); retrying in %.2fs", len(encoded), error, delay)
                time.sleep(delay)
            else:
                self.stats.batches += 1
                self.stats.events_written += len(batch)
                self.stats.quads_written += len(encoded)
                if self._replay_due or self._held:
                    self._replay()
                return

    # --- the spool ----------------------------------------------------------------------------------

    def _spool(self, encoded: Encoded, error: Exception | None) -> None:
        data = encoded.data() + (spool.nquads(encoded.quads) if encoded.quads else b"")
        if self._spool_path is None:
            log.warning("cnnprov-rdf: %d quads could not be written and no spool file is set: %s", len(encoded), error)
            return
        try:
            with spool.locked(self._spool_path):
                for held in self._held:  # first what could not be spooled before, in order
                    spool.append_text(self._spool_path, held)
                self._held.clear()
                spool.append_text(self._spool_path, data)
        except OSError as spool_error:
            self._hold(data, spool_error)
            return
        self._replay_due = True
        self.stats.spooled_quads += len(encoded)
        if error is not None:
            log.warning(
                "cnnprov-rdf: writing failed (%s); %d quads saved as N-Quads to %s (written to the store once it "
                "takes writes again, or by `cnnprov flush`)", error, len(encoded), self._spool_path,
            )

    def _hold(self, data: bytes, error: OSError) -> None:
        """Keep a batch in memory (up to `MAX_HELD_BYTES`) when even the spool cannot take it."""
        if sum(map(len, self._held)) + len(data) > MAX_HELD_BYTES:
            log.warning("cnnprov-rdf: could not spool %d bytes of quads to %s and no memory is left for them: %s",
                        len(data), self._spool_path, error)
            return
        self._held.append(data)
        log.warning("cnnprov-rdf: could not spool to %s (%s); %d batches kept in memory until it can be written",
                    self._spool_path, error, len(self._held))

    def _replay(self) -> None:
        """After a successful write: what is held in memory, then the spool, into the sink."""
        write_text = getattr(self._sink, "write_text", None)

        def send(data: bytes) -> None:
            if write_text is not None:
                write_text(data)
            else:
                self._sink.write(list(parse(data, RdfFormat.N_QUADS)))

        try:
            while self._held:
                send(self._held[0])
                self.stats.replayed_quads += self._held.pop(0).count(b"\n")
            if self._spool_path is not None:
                with spool.locked(self._spool_path):
                    sent = spool.replay_text(self._spool_path, send)
                self.stats.replayed_quads += sent
                if sent:
                    log.warning("cnnprov-rdf: the store takes writes again; %d spooled quads written", sent)
            self._replay_due = False
        except Exception as error:
            self._failed_at = time.monotonic()
            log.warning("cnnprov-rdf: replaying the spool %s failed (%s); it is kept", self._spool_path, error)
