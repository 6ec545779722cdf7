"""The asynchronous writer: batches, back-pressure, write failures spooled, close semantics."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from pyoxigraph import RdfFormat, Store, parse

from cnnprov_rdf.events import EpochEnded
from cnnprov_rdf.mapping import to_quads
from cnnprov_rdf.writer import AsyncWriter, StoreSink

RUN = "5f0c7a52-3f4e-4b8e-9d1a-2b6c8e4f1a77"


def as_stored(quads) -> set:
    """Quads as a store holds them (Oxigraph normalises literal lexical forms, e.g. 1.0 -> 1)."""
    store = Store()
    store.extend(quads)
    return set(store)


def epoch(n: int) -> EpochEnded:
    return EpochEnded(RUN, n, {"loss": 1.0 / n}, 0.5, datetime(2024, 1, 1, tzinfo=UTC))


class FailingSink:
    """A sink whose writes fail `failures` times, then go to an in-memory store."""

    def __init__(self, failures: int) -> None:
        self.failures, self.store = failures, Store()

    def write(self, quads) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("disk full")
        self.store.extend(quads)

    def close(self) -> None:
        pass


class GatedSink:
    def __init__(self) -> None:
        self.gate, self.batches, self.store = threading.Event(), [], Store()

    def write(self, quads) -> None:
        self.gate.wait()
        self.batches.append(len(quads))
        self.store.extend(quads)

    def close(self) -> None:
        pass


def test_everything_submitted_is_written_after_flush_and_counted(tmp_path):
    store = Store(str(tmp_path / "store"))
    writer = AsyncWriter(StoreSink(store))
    events = [epoch(n) for n in range(1, 51)]
    for event in events:
        writer.submit(event)
    assert writer.flush(timeout=30)
    expected = as_stored(q for e in events for q in to_quads(e))
    assert set(store) == expected
    assert writer.stats.events_written == 50
    assert writer.stats.quads_written == sum(len(to_quads(e)) for e in events)
    writer.close()


def test_back_pressure_blocks_submit_when_full_and_drops_nothing():
    sink = GatedSink()
    writer = AsyncWriter(sink, max_pending=5)
    submitted = []

    def produce() -> None:
        for n in range(1, 21):
            writer.submit(epoch(n))
            submitted.append(n)

    producer = threading.Thread(target=produce)
    producer.start()
    producer.join(timeout=1.0)
    assert producer.is_alive() and len(submitted) < 20  # waiting on the full queue
    sink.gate.set()
    producer.join(timeout=30)
    assert writer.flush(timeout=30) and len(submitted) == 20
    assert len({q.subject for q in sink.store if q.subject.value.endswith(tuple(f"/epoch/{n}" for n in
                                                                                 range(1, 21)))}) == 20
    assert max(sink.batches) > len(to_quads(epoch(1)))  # events queued meanwhile went in one transaction
    writer.close()


def test_a_failing_store_warns_spools_and_never_raises(tmp_path, caplog):
    spool = tmp_path / "unwritten.nq"
    writer = AsyncWriter(FailingSink(failures=10**6), spool_path=spool, retries=(0.0,))
    with caplog.at_level(logging.WARNING):
        writer.submit(epoch(1))
        assert writer.flush(timeout=30)
    assert "disk full" in caplog.text and str(spool) in caplog.text
    assert as_stored(parse(spool.read_bytes(), format=RdfFormat.N_QUADS)) == as_stored(to_quads(epoch(1)))
    writer.close()


def test_a_transient_failure_is_retried_and_written_once(tmp_path):
    sink = FailingSink(failures=1)
    spool = tmp_path / "unwritten.nq"
    writer = AsyncWriter(sink, spool_path=spool, retries=(0.0, 0.0))
    writer.submit(epoch(1))
    writer.close()
    assert set(sink.store) == as_stored(to_quads(epoch(1))) and not spool.exists()


def test_close_writes_pending_is_idempotent_and_later_submits_only_warn(caplog):
    sink = FailingSink(failures=0)
    writer = AsyncWriter(sink)
    for n in (1, 2, 3):
        writer.submit(epoch(n))
    writer.close()
    writer.close()
    with caplog.at_level(logging.WARNING):
        writer.submit(epoch(4))
    assert "after close" in caplog.text
    assert {q.subject.value.rsplit("/", 1)[1] for q in sink.store if "/epoch/" in q.subject.value} == {"1", "2", "3"}
