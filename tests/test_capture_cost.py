"""What capture costs the training thread: the end of `fit` and `close()` do not wait for the store, and
nothing is lost for it (a reader in this process waits for the writer; the interpreter waits at exit)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyoxigraph import NamedNode, Store

from cnnprov_rdf.capture.events import EpochEnded
from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.graph.vocabulary import CNN_NS, RDF_NS
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.storage.store import open_for_reading
from cnnprov_rdf.storage.writer import AsyncWriter, StoreSink

RUN = "0b7c1f7e-2a43-4c7b-9a51-6f3d2e8c9b10"
AT = datetime(2024, 1, 1, 9, 30, tzinfo=UTC)
WAIT = 10.0  # upper bound for anything that should happen "now"; never reached when the tests pass
EPOCH_RESULT = NamedNode(CNN_NS + "EpochResult")
RDF_TYPE = NamedNode(RDF_NS + "type")
HERE = Path(__file__).resolve().parent


def epoch(n: int) -> EpochEnded:
    return EpochEnded(RUN, n, {"loss": 1 / n, "accuracy": 0.5}, 1.5, AT, 0.01)


def epochs_in(store: Store) -> set[int]:
    return {int(q.subject.value.rsplit("/", 1)[1]) for q in store.quads_for_pattern(None, RDF_TYPE, EPOCH_RESULT)}


def wait_for(condition, timeout: float = WAIT) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_flush_without_waiting_returns_at_once_and_writes_without_the_linger(tmp_path) -> None:
    writer = AsyncWriter(StoreSink.opening(tmp_path / "store"), linger=60.0, max_delay=60.0)
    try:
        for n in (1, 2, 3):
            writer.submit(epoch(n))
        assert writer.flush(wait=False) is True
        assert wait_for(lambda: writer.pending == 0), "still lingering: the background flush did not hurry it"
        assert epochs_in(writer._sink.store) == {1, 2, 3}  # type: ignore[attr-defined]
    finally:
        writer.close(timeout=WAIT)


def test_an_event_after_a_quiet_longer_than_the_linger_is_written_without_lingering(tmp_path) -> None:
    writer = AsyncWriter(StoreSink.opening(tmp_path / "store"), linger=1.0, max_delay=1.0)
    try:
        writer.submit(epoch(1))
        assert writer.flush(timeout=WAIT)
        time.sleep(1.1)  # quiet for longer than the linger, as between real epochs
        writer.submit(epoch(2))
        assert wait_for(lambda: writer.pending == 0, timeout=0.8), "lingered after a quiet"
        assert writer.stats.batches == 2
    finally:
        writer.close(timeout=WAIT)


def test_a_reader_in_this_process_sees_what_a_background_flush_and_close_are_writing(tmp_path) -> None:
    path = tmp_path / "store"
    tracker = Tracker(path, linger=60.0)
    run = tracker.start_run(planned_epochs=3)
    for n in (1, 2, 3):
        run.log_epoch(n, {"loss": 1 / n}, elapsed_seconds=0.5)
    tracker.flush(wait=False)
    assert len(run_query(path, "epoch-loss-time", run=run.run_id).rows) == 3  # the store may not even exist yet
    run.log_epoch(4, {"loss": 0.25}, elapsed_seconds=0.5)
    run.end()
    tracker.close(wait=False)
    assert epochs_in(open_for_reading(path)) == {1, 2, 3, 4}
    with Tracker(path) as again:  # the background close released the store
        assert again.flush(timeout=WAIT)


class GatedStoreSink(StoreSink):
    """A store sink whose writes wait for `gate`."""

    def __init__(self, path: Path, gate: threading.Event) -> None:
        super().__init__(None, path, spool_path=path.parent / "spool.nq")
        self.gate = gate

    def write_text(self, data: bytes, quads: int | None = None) -> None:
        assert self.gate.wait(WAIT), "the test never opened the gate"
        super().write_text(data, quads)


def test_a_new_writer_takes_over_from_one_closing_in_the_background_without_waiting(tmp_path) -> None:
    path, gate = tmp_path / "store", threading.Event()
    first = AsyncWriter(GatedStoreSink(path, gate), linger=0.0)
    first.submit(epoch(1))
    first.close(wait=False)  # its thread is held in a write until the gate opens
    second = AsyncWriter(StoreSink.opening(path, spool_path=tmp_path / "spool.nq"), linger=0.0)
    assert not first.join(timeout=0.1)  # the second was made while the first still holds the store
    second.submit(epoch(2))
    gate.set()
    second.close(wait=False)
    assert epochs_in(open_for_reading(path)) == {1, 2}
    assert first.join(WAIT) and second.join(WAIT)


@pytest.mark.parametrize("mode", ["fit", "tracker"])
def test_a_process_that_exits_right_after_its_last_record_has_every_epoch_on_disk(tmp_path, mode) -> None:
    """`fit`: a bare callback, no close(); `tracker`: a 60 s linger and no flush or close (the exit hook)."""
    path = tmp_path / "store"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent), "CNNPROV_SPOOL_DIR": str(tmp_path / "spool")}
    child = subprocess.run([sys.executable, str(HERE / "_fit_and_exit.py"), str(path), "4", mode], env=env,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    assert "RETURNED" in child.stdout
    rows = run_query(path, "epoch-loss-time", run="exits-at-once").rows
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4]
    runs = run_query(path, "runs").rows
    assert [(row["name"], row["status"], row["epochs"]) for row in runs] == [("exits-at-once", "finished", 4)]
    assert sum(f.stat().st_size for f in (tmp_path / "spool").glob("*.nq")) == 0  # written, not spooled


def test_writable_opens_leave_no_old_rocksdb_info_logs(tmp_path) -> None:
    from cnnprov_rdf.storage.store import open_for_writing

    path = tmp_path / "store"
    for _ in range(3):
        store = open_for_writing(path)
        del store
    assert sorted(f.name for f in path.glob("LOG*")) == ["LOG"]
