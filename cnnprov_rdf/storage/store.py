"""Opening the on-disk Oxigraph store: one writer process, any number of readers.

pyoxigraph calls reading a store that another process writes undefined; what happens in practice is that a
read-only snapshot fails with an I/O error when the writer deletes a file the snapshot still needs (a
write-ahead log on close, a table after a compaction). `read_consistently` reads on a fresh snapshot and
retries on a fresh one on exactly those errors; the fully defined way is to read through the writer, e.g. a
training writing to `cnnprov serve --read-write` (see the README's "Live readers").
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pyoxigraph import Quad, RdfFormat, Store, parse

from ..errors import ConfigurationError, StoreError, StoreLockedError, StoreNotFoundError
from ..graph.iris import ONTOLOGY_GRAPH
from ..resources import ontology_file
from . import inflight, kept
from .destination import STORE_ENV, Destination, Endpoint, parse_destination
from .run_index import predates_run_index, reindex

T = TypeVar("T")


def open_for_writing(path: str | os.PathLike[str]) -> Store:
    """Open (or create, with its missing parent folders) a store for writing, holding the ontology graph."""
    path = Path(path)
    kept.release(path)  # a store this process's capture keeps open (`storage.kept`) is closed first
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        store = _open_asking_a_keeper(path)
    except OSError as error:
        if "current process" in str(error):
            raise locked_in_this_process(path) from error
        if _locked_elsewhere(error):
            raise StoreLockedError(
                f"the provenance store {path} is open for writing in another process. "
                f"Only one process can write a store at a time: wait for that training to finish, "
                f"give this one another --store path, or read {path} meanwhile with read-only commands "
                f"such as `cnnprov query runs --store {path}`."
            ) from error
        raise StoreError(f"cannot open the provenance store {path}: {error}") from error
    if not store.contains_named_graph(ONTOLOGY_GRAPH):
        load_ontology(store)
    if predates_run_index(store):  # written before the run index existed: build it, once
        reindex(store)
    remove_old_info_logs(path)
    return store


def _locked_elsewhere(error: OSError) -> bool:
    """Whether RocksDB refused a writable open because another process holds the store's lock."""
    return "lock" in str(error).lower() and "current process" not in str(error)


def _open_asking_a_keeper(path: Path) -> Store:
    """`Store(path)`; while another process holds the store's lock, ask it for the store (it may only keep it open
    after its last run, `storage.kept`) and try again for `kept.RELEASE_WAIT` seconds."""
    request = kept.release_request(path)
    deadline = time.monotonic() + kept.RELEASE_WAIT
    try:
        while True:
            try:
                return Store(str(path))
            except OSError as error:
                if not _locked_elsewhere(error) or time.monotonic() > deadline:
                    raise
                with contextlib.suppress(OSError):
                    request.touch()
                time.sleep(0.05)
    finally:
        with contextlib.suppress(OSError):
            request.unlink(missing_ok=True)


def remove_old_info_logs(path: Path) -> None:
    """Delete RocksDB's diagnostic logs of earlier opens (`LOG.old.*`, about 140 KB each).

    RocksDB starts a new info log at every writable open and keeps up to 1,000 old ones: a store written by
    thousands of short runs would hold over 100 MB of them. The store never reads them; `LOG` (this open's)
    stays."""
    for old in path.glob("LOG.old.*"):
        with contextlib.suppress(OSError):
            old.unlink()


def locked_in_this_process(path: Path) -> StoreLockedError:
    """The error for a second writer of a store in the process that already writes it."""
    return StoreLockedError(
        f"the provenance store {path} is already open for writing in this process: close the other "
        f"Tracker first, or share it (capture.registry.TRACKERS.acquire, which ProvenanceCallback(store=...) "
        f"uses)."
    )


def purge_write_ahead_log(path: str | os.PathLike[str]) -> None:
    """Delete the flushed write-ahead log of a store nobody writes any more.

    RocksDB deletes a flushed log only when the store is next opened for writing, so a closed store would keep
    up to twice its size in stale logs. Opening it once does it; if another writer holds it, that one will."""
    with contextlib.suppress(OSError):
        Store(str(path))


def load_ontology(store: Store) -> None:
    """(Re)load `ontology/cnnprov.ttl` into its own named graph, in one transaction."""
    with ontology_file().open("rb") as source:
        triples = list(parse(source, format=RdfFormat.TURTLE))
    if store.contains_named_graph(ONTOLOGY_GRAPH):
        store.remove_graph(ONTOLOGY_GRAPH)
    store.extend(Quad(t.subject, t.predicate, t.object, ONTOLOGY_GRAPH) for t in triples)


def open_for_reading(path: str | os.PathLike[str]) -> Store:
    """A read-only snapshot of a store; works while another process writes it. Reopen to see new data.

    Opening is retried (`READ_ATTEMPTS`) when the writer removed a file the snapshot's manifest named (a flush or
    a compaction between the two reads); a read on the open snapshot can still meet that (`read_consistently`).

    A store this process writes is read after its writer wrote what was submitted (`inflight.settle`)."""
    path = Path(path)
    inflight.settle(path)
    if not (path / "CURRENT").exists():
        raise StoreNotFoundError(
            f"no provenance store at {path}: train with capture first (e.g. `cnnprov demo --store {path}`) "
            f"or point --store / ${STORE_ENV} at an existing store."
        )
    for attempt in range(READ_ATTEMPTS):
        try:
            return Store.read_only(str(path))
        except (OSError, RuntimeError) as error:  # RuntimeError: RocksDB's "Corruption" for a file gone meanwhile
            if not is_transient_read_error(error) or attempt == READ_ATTEMPTS - 1:
                raise StoreError(f"cannot read the provenance store {path}: {error}") from error
            time.sleep(0.02 * 2**attempt)  # the writer removed a file the manifest named: open again
    raise AssertionError("not reached")


#: What a read-only snapshot raises when the writing process removed a file it needed (a write-ahead log or a
#: table file, after a flush or a compaction): transient, a fresh snapshot reads the store again.
TRANSIENT_READ_ERRORS = ("No such file", "IO error", "Corruption")
#: Attempts `open_for_reading` and `read_consistently` each make (with 20, 40, 80 ... ms between them).
READ_ATTEMPTS = 8


def is_transient_read_error(error: BaseException) -> bool:
    return isinstance(error, OSError | RuntimeError) and any(t in str(error) for t in TRANSIENT_READ_ERRORS)


def read_consistently(path: str | os.PathLike[str], read: Callable[[Store], T]) -> T:
    """`read(store)` on a fresh read-only snapshot of the store at `path`, retried on a fresh snapshot when the
    store's writer removed a file under it (`TRANSIENT_READ_ERRORS`). `read` must finish reading (return lists,
    not lazy results), so that a retry gives a whole answer, never half of two."""
    for attempt in range(READ_ATTEMPTS):
        store = open_for_reading(path)  # retries its own transient failures
        try:
            return read(store)
        except (OSError, RuntimeError) as error:
            if not is_transient_read_error(error) or attempt == READ_ATTEMPTS - 1:
                raise StoreError(f"cannot read the provenance store {path}: {error}") from error
        finally:
            del store
        time.sleep(0.02 * 2**attempt)
    raise AssertionError("not reached")


def store_size(path: str | os.PathLike[str]) -> int:
    """Bytes the store's files take on disk."""
    return sum(file.stat().st_size for file in Path(path).rglob("*") if file.is_file())


def compact(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Compact a store that no process is writing (RocksDB compaction); returns bytes before and after."""
    before = store_size(path)
    store = open_for_writing(path)
    store.optimize()
    store.flush()
    del store
    return before, store_size(path)


def readable_store(store: Store | Destination | str | os.PathLike[str], needed_by: str = "this") -> Store:
    """A pyoxigraph Store as given, or a read-only snapshot of the embedded store a destination names.

    For the operations that read quads directly (export, diagrams, reports), not through SPARQL: an
    endpoint is a `ConfigurationError` saying so."""
    if isinstance(store, Store):
        return store
    destination = parse_destination(store)
    if isinstance(destination, Endpoint):
        raise ConfigurationError(
            f"{needed_by} reads an embedded store, and {destination.url} is a SPARQL endpoint; "
            "export it on the machine that holds the store, or use `cnnprov query --endpoint`")
    return open_for_reading(destination.path)
