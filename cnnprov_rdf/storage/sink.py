"""Where the writer's batches go: the `QuadSink` protocol and `StoreSink`, the embedded on-disk store.

A `StoreSink` hands a batch to the store as N-Quads text: a small batch as one transaction (`Store.load`), a
large one (a backlog, a flood, an import) through the bulk loader (`Store.bulk_load`), which writes sorted
files straight into the store, at a third to a half of the CPU per quad from about 1,000 epoch records on
(and smaller on disk), but costs a fixed amount per call that only pays from about 200 epoch records
(`bulk_quads`, 5,000 quads, keeps a margin). Both parse outside the interpreter lock, leniently (no second
IRI validation: the text comes from pyoxigraph terms or from the writer's templates over them).

A write that fails (a full disk, a lost lock) raises, as the writer expects, and lets go of the store: RocksDB
stays read-only after a failed write, so the next write opens the store again rather than failing forever.

A sink that opened its store itself (`StoreSink.opening`, what capture uses) does not close it: `close` hands it
to `storage.kept`, which keeps it open for the next writer of this process (a grid search's next run, a tuner's
next trial) and closes it after a quiet or at exit, as follows.
Closing does not wait for maintenance: after a session that wrote less than `PURGE_QUADS` quads in
transactions, closing only lets go of the store. Its writes are in RocksDB's write-ahead log, which readers
read and which the next writable open (any writer, `cnnprov compact`) folds into the store and deletes; after
a bigger session it flushes and purges the log at once (its cost is then small beside the session's).
A store path is claimed by one sink per process from construction to close, so a second writer of the same
store in this process fails at once with `StoreLockedError` (one that is closing is taken over, and its writer
thread waits for the store), even when the store itself is opened later on the writer thread
(`StoreSink.opening`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from pyoxigraph import Quad, RdfFormat, Store

from ..errors import StoreError, StoreLockedError
from ..graph.iris import is_write_once
from ..graph.nquads import Encoded
from . import kept, spool
from .store import locked_in_this_process, open_for_writing, purge_write_ahead_log

log = logging.getLogger(__name__)

#: From this many quads on, a batch goes through the bulk loader.
BULK_QUADS = 5_000

#: Seconds an open waits while another writer of this process still holds the store (closing in the background).
IN_PROCESS_WAIT = 10.0

#: From this many quads written in transactions (in the write-ahead log), `close` flushes and purges the log.
PURGE_QUADS = 200_000

_claims = threading.Condition()
_claimed: dict[str, StoreSink] = {}  # store path → the sink of this process that writes it


class QuadSink(Protocol):
    """Where batches of quads go: one `write` call is one transaction. A sink may also offer
    `write_encoded(Encoded)` (N-Quads text and quads), which the writer then prefers."""

    def write(self, quads: Sequence[Quad]) -> None: ...

    def close(self) -> None: ...


class StoreSink:
    """An embedded pyoxigraph store opened for writing (at `path`, when it is on disk).

    A shared node's graph (a hyperparameter's, a measure's, an architecture's) that the store already holds is
    not written again: its name fixes its quads, and writing them again would cost as much as new ones.
    `spool_path` is where the writer keeps batches this sink could not take (default: the store's spool in
    the user cache folder, `spool.store_spool_path`); `None` without a `path`.
    """

    def __init__(
        self,
        store: Store | None,
        path: Path | None = None,
        *,
        spool_path: Path | None = None,
        bulk_quads: int = BULK_QUADS,
    ) -> None:
        self.store: Store | None = store
        self.path = Path(path) if path is not None else None
        self.spool_path = spool_path or (spool.store_spool_path(self.path) if self.path is not None else None)
        self.bulk_quads = bulk_quads
        self._held: set[Any] = set()  # shared nodes' graphs known to be in the store
        self.skipped_quads = 0  # quads of shared nodes' graphs that the store already held
        self.reopened = 0  # times the store was opened again after a failed write
        self._opened = store is not None
        self._keeps = store is None and self.path is not None  # it opens the store itself: kept open for the next
        self._closed = False
        self.closing = False  # set when a close has begun (possibly in the background)
        self._logged_quads = 0  # quads written in transactions since the store was opened
        self._claim()

    def _claim(self) -> None:
        """Hold this store path for this process; fail at once if another sink of this process writes it. One
        that is closing (in the background) is taken over without waiting: the store opens on the writer
        thread, which waits for the other to let go of it (`_open`)."""
        if self.path is None:
            return
        key = str(self.path.absolute())
        with _claims:
            other = _claimed.get(key)
            if other is not None and other is not self and not other.closing:
                raise locked_in_this_process(self.path)
            _claimed[key] = self

    def _unclaim(self) -> None:
        if self.path is None:
            return
        with _claims:
            if _claimed.get(str(self.path.absolute())) is self:
                del _claimed[str(self.path.absolute())]
            _claims.notify_all()

    @classmethod
    def opening(cls, path: Path, **options: Any) -> StoreSink:
        """A sink that opens the store at `path` on the writer's thread (`prepare`), not on the caller's."""
        return cls(None, path, **options)

    def prepare(self) -> None:
        """Open the store now (the writer calls this on its own thread when it starts); a failure is logged and
        the first write tries again."""
        try:
            self._open()
        except Exception as error:
            log.warning("cnnprov-rdf: cannot open the store %s yet (%s); events are kept until it opens",
                        self.path, error)

    # --- the store ----------------------------------------------------------------------------------

    def _open(self) -> Store:
        """The store, opened again if a failed write let go of it."""
        if self.store is not None:
            return self.store
        if self.path is None or self._closed:  # an OSError like any failed write: the writer retries, then spools
            raise OSError("the store was closed")
        taken = kept.take(self.path)  # this process's last writer of the store left it open
        if taken is not None:
            self.store, self._logged_quads = taken
            self._opened = True
            return self.store
        deadline = time.monotonic() + IN_PROCESS_WAIT
        while True:
            try:
                self.store = open_for_writing(self.path)
                break
            except StoreLockedError as error:  # a writer of this process closing in the background: wait for it
                if "this process" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if self._opened:
            self.reopened += 1
            log.info("cnnprov-rdf: the store %s is open again", self.path)
        self._opened = True
        return self.store

    def _let_go(self) -> None:
        """Drop a store whose write failed (only when it can be opened again from its path)."""
        if self.path is not None:
            self.store = None  # the last reference: RocksDB closes and releases its lock here

    # --- writing ------------------------------------------------------------------------------------

    def _new(self, quads: Sequence[Quad], store: Store) -> tuple[Sequence[Quad], set[Any]]:
        """The quads minus shared nodes' graphs the store holds; and the shared graphs of the batch."""
        shared = {graph for graph in {q.graph_name for q in quads} if is_write_once(graph)}  # a few distinct
        held = {g for g in shared if g in self._held or store.contains_named_graph(g)}
        if held:
            kept = [q for q in quads if q.graph_name not in held]
            self.skipped_quads += len(quads) - len(kept)
            quads = kept
        return quads, shared

    # No frame below keeps the store in a local variable: a failed write's traceback (kept by whoever logs it)
    # would keep the store open, and its lock held, so that it could not be opened again.

    def write(self, quads: Sequence[Quad]) -> None:
        """Write quads in one transaction."""
        quads, shared = self._new(quads, self._open())
        try:
            self._open().extend(quads)
            self._logged_quads += len(quads)
        except Exception:
            self._let_go()
            raise
        self._held |= shared

    def write_encoded(self, batch: Encoded) -> None:
        """Write a batch given as N-Quads text and quads: one transaction, or the bulk loader when it is large."""
        quads, shared = self._new(batch.quads, self._open())
        self.write_text(batch.data() + (spool.nquads(quads) if quads else b""), batch.text_quads + len(quads))
        self._held |= shared

    def write_text(self, data: bytes, quads: int | None = None) -> None:
        """Write N-Quads text (`quads` statements, counted when not given): `load`, or `bulk_load` when large."""
        if not data:
            return
        if quads is None:
            quads = data.count(b"\n")
        try:
            if quads >= self.bulk_quads:
                self._open().bulk_load(data, format=RdfFormat.N_QUADS, lenient=True)
            else:
                self._open().load(data, format=RdfFormat.N_QUADS, lenient=True)
                self._logged_quads += quads
        except Exception:
            self._let_go()
            raise

    def close(self) -> None:
        """Let go of the store, which releases its lock for other writers (a store this sink opened itself is
        kept open a while for the next writer of this process, `storage.kept`); after a big session
        (`PURGE_QUADS`), flush it and purge its write-ahead log first."""
        self.closing = self._closed = True
        try:
            if self.store is not None:
                store, self.store = self.store, None
                finish = partial(_finish, self.path)
                if self._keeps and self.path is not None:
                    kept.keep(self.path, store, self._logged_quads, finish)
                else:
                    after = finish(store, self._logged_quads)
                    del store
                    if after is not None:
                        after()
        finally:
            self._unclaim()


def _finish(path: Path | None, store: Store, logged_quads: int) -> Callable[[], None] | None:
    """Close a store as its writer does: after a big session (or in memory), flush it first; what to do once it
    is dropped: purge its write-ahead log (an on-disk store after a big session), else nothing."""
    if logged_quads >= PURGE_QUADS or path is None:
        store.flush()
        if path is not None:
            return partial(purge_write_ahead_log, path)
    return None


def store_spools(spool_dir: Path | None = None) -> list[tuple[Path, Path, int]]:
    """Every non-empty store spool in `spool_dir`: (store, spool file, quads waiting)."""
    directory = spool_dir or spool.default_spool_dir()
    found = spool.waiting_spools(directory, "store-*.nq")
    return [(store, path, quads) for path, quads in found if (store := spool.spooled_store(path)) is not None]


def replay_store_spool(spool_path: Path, store: Path | None = None) -> tuple[Path, int]:
    """Write a store's spool (one a failed or dead writer left) into the store, every quad into its graph;
    returns the store and the quads written. The store must not be open for writing in another process
    (`StoreLockedError`); what was written is removed from the spool, the rest kept."""
    target = store or spool.spooled_store(spool_path)
    if target is None:
        raise StoreError(f"no store is recorded for the spool {spool_path}; give the store with --store")
    sink = StoreSink(open_for_writing(target), target, spool_path=spool_path)
    try:
        with spool.locked(spool_path):
            return target, spool.replay_text(spool_path, sink.write_text)
    finally:
        sink.close()
