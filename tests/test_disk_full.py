"""Disk and write failures lose nothing: a store on a small, full tmpfs; its spool on another file system.

The test mounts a 4 MiB tmpfs (it runs as root; otherwise it skips and says why), writes epochs, fills the
file system with a filler file, writes more (the store fails; the batches go to the spool in the spool
folder, on the ordinary disk), frees the space and writes the rest: the store is opened again, the spool
replayed into the run's graph, and every epoch is there once. A spool left behind is replayed by `cnnprov
flush`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyoxigraph import NamedNode, Quad, Store

from cnnprov_rdf.capture.events import EpochEnded
from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.graph.iris import graph_of
from cnnprov_rdf.graph.mapping import to_quads
from cnnprov_rdf.graph.vocabulary import CNN_NS
from cnnprov_rdf.storage import spool
from cnnprov_rdf.storage.store import open_for_reading, open_for_writing
from cnnprov_rdf.storage.writer import AsyncWriter, StoreSink

EPOCH = NamedNode(CNN_NS + "epoch")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for the test and unmounted after it."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Fill the file system of `directory` to the last byte; returns the filler file."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1 << 10, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(descriptor, b"\0" * size)
    finally:
        os.close(descriptor)
    return filler


def epochs_of(store: Store, run_id: str) -> list[int]:
    return sorted(int(q.object.value) for q in store.quads_for_pattern(None, EPOCH, None, graph_of(run_id)))


def test_a_full_disk_loses_no_epoch_once_space_returns(small_disk: Path, tmp_path: Path, monkeypatch) -> None:
    spool_dir = tmp_path / "spool"
    monkeypatch.setenv(spool.SPOOL_ENV, str(spool_dir))
    store = small_disk / "store"
    tracker = Tracker(store)
    run = tracker.start_run(planned_epochs=150)
    for epoch in range(1, 51):
        run.log_epoch(epoch, {"loss": 1 / epoch, "accuracy": epoch / 150}, elapsed_seconds=0.1)
    assert tracker.flush(timeout=30)
    filler = fill(small_disk)
    for epoch in range(51, 101):  # the store cannot take these: they go to the spool on the other disk
        run.log_epoch(epoch, {"loss": 1 / epoch, "accuracy": epoch / 150}, elapsed_seconds=0.1)
        if epoch % 10 == 0:
            assert tracker.flush(timeout=30)
    spool_path = spool.store_spool_path(store)
    assert tracker.writer.stats.spooled_quads > 0 and spool.count_quads(spool_path) > 0
    assert spool.spooled_store(spool_path) == store.absolute()
    filler.unlink()  # space returns
    time.sleep(1.1)  # past the writer's back-off after a failure
    for epoch in range(101, 151):
        run.log_epoch(epoch, {"loss": 1 / epoch, "accuracy": epoch / 150}, elapsed_seconds=0.1)
        if epoch % 10 == 0:
            assert tracker.flush(timeout=30)
    run.end()
    tracker.close()
    assert tracker.writer._sink.reopened >= 1  # type: ignore[attr-defined]
    assert not spool.is_waiting(spool_path)
    reader = open_for_reading(store)
    assert epochs_of(reader, run.run_id) == list(range(1, 151))  # every epoch, once, in its run's graph
    quad = next(iter(reader.quads_for_pattern(None, EPOCH, None)))
    assert quad.graph_name == graph_of(run.run_id)


def test_cnnprov_flush_replays_a_store_spool_into_its_runs(tmp_path: Path) -> None:
    """A spool left by a process that died while its store failed: `cnnprov flush` puts it into the store."""
    spool_dir, store = tmp_path / "spool", tmp_path / "store"
    open_for_writing(store).flush()  # an existing store with nothing but the ontology
    run_id = str(uuid.uuid4())
    quads = [q for n in range(1, 6) for q in to_quads(EpochEnded(run_id, n, {"loss": 0.5}, 1.0, _at(), None))]
    path = spool.store_spool_path(store, spool_dir)
    spool.note_store(path, store)
    spool.append_locked(path, quads)
    env = {**os.environ, spool.SPOOL_ENV: str(spool_dir)}
    status = subprocess.run([sys.executable, "-m", "cnnprov_rdf.cli", "status"], capture_output=True, text=True,
                            env=env, check=True)
    assert str(store.absolute()) in status.stdout and str(len(quads)) in status.stdout
    flushed = subprocess.run([sys.executable, "-m", "cnnprov_rdf.cli", "flush"], capture_output=True, text=True,
                             env=env)
    assert flushed.returncode == 0, flushed.stderr
    assert f"{path}: {len(quads)} quads written to {store.absolute()}" in flushed.stdout
    assert not spool.is_waiting(path)
    reader = open_for_reading(store)
    assert epochs_of(reader, run_id) == [1, 2, 3, 4, 5]
    assert set(reader.quads_for_pattern(None, None, None, graph_of(run_id))) == _stored(quads)


def test_a_spool_waiting_at_start_is_replayed_after_the_first_write(tmp_path: Path) -> None:
    store, run_id = tmp_path / "store", str(uuid.uuid4())
    path = spool.store_spool_path(store, tmp_path / "spool")
    spool.append_locked(path, to_quads(EpochEnded(run_id, 1, {"loss": 0.5}, 1.0, _at(), None)))
    writer = AsyncWriter(StoreSink(open_for_writing(store), store, spool_path=path))
    writer.submit(EpochEnded(run_id, 2, {"loss": 0.25}, 1.0, _at(), None))
    writer.close()
    assert not path.exists() and writer.stats.replayed_quads > 0
    assert epochs_of(open_for_reading(store), run_id) == [1, 2]


def _at():
    from datetime import UTC, datetime

    return datetime(2026, 1, 1, tzinfo=UTC)


def _stored(quads: list[Quad]) -> set[Quad]:
    store = Store()
    store.extend(quads)
    return set(store)


def test_a_store_opened_and_closed_off_the_callers_thread(tmp_path: Path) -> None:
    """`StoreSink.opening` opens on the writer thread; `close(wait=False)` returns before the final flush, and a
    new writer of the same store in this process waits for that close instead of failing on the lock."""
    store, run_id = tmp_path / "store", str(uuid.uuid4())
    first = AsyncWriter(StoreSink.opening(store, spool_path=tmp_path / "spool.nq"))
    for n in range(1, 201):
        first.submit(EpochEnded(run_id, n, {"loss": 1 / n}, 0.1, _at(), None))
    first.close(wait=False)  # returns while the writer still writes and closes
    second = AsyncWriter(StoreSink.opening(store, spool_path=tmp_path / "spool.nq"))
    second.submit(EpochEnded(run_id, 201, {"loss": 0.001}, 0.1, _at(), None))
    second.close()
    first._thread.join(30)
    assert not first._thread.is_alive() and first.stats.spooled_quads == second.stats.spooled_quads == 0
    assert epochs_of(open_for_reading(store), run_id) == list(range(1, 202))


def test_cnnprov_flush_into_store_takes_an_older_versions_spool(tmp_path: Path) -> None:
    store, run_id = tmp_path / "store", str(uuid.uuid4())
    legacy = tmp_path / "store.unwritten.nq"  # where versions before the one spool kept a store's quads
    spool.append_locked(legacy, to_quads(EpochEnded(run_id, 7, {"loss": 0.5}, 1.0, _at(), None)))
    done = subprocess.run([sys.executable, "-m", "cnnprov_rdf.cli", "flush", str(legacy), "--into-store", str(store)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not legacy.exists()
    assert epochs_of(open_for_reading(store), run_id) == [7]
