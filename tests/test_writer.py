"""The asynchronous writer: batches as transactions, back-pressure, write failures spooled, close semantics, stats.

Real pyoxigraph stores (in memory and on disk) sit behind `StoreSink`; small sink doubles (classes with
`write`/`close`) record each batch, block on a `threading.Event`, or fail.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

import pytest
from pyoxigraph import NamedNode, Quad, RdfFormat, Store, parse

from cnnprov_rdf.capture.events import Agents, EpochEnded, HyperparametersRecorded, ModelFileSaved, RunStarted
from cnnprov_rdf.graph.iris import is_index_graph
from cnnprov_rdf.graph.mapping import to_quads
from cnnprov_rdf.graph.vocabulary import CNN_NS, DEFAULT_BASE, RDF_NS
from cnnprov_rdf.storage.writer import AsyncWriter, StoreSink

RUN = "5f0c7a52-3f4e-4b8e-9d1a-2b6c8e4f1a77"
AT = datetime(2024, 1, 1, 9, 30, tzinfo=UTC)
WAIT = 10.0  # upper bound for anything that should happen "now"; never reached when the tests pass
LOGGER = "cnnprov_rdf.storage.writer"

RDF_TYPE = NamedNode(RDF_NS + "type")
EPOCH_RESULT = NamedNode(CNN_NS + "EpochResult")
RUN_PREFIX = f"{DEFAULT_BASE}run/{RUN}"


def epoch(n: int) -> EpochEnded:
    return EpochEnded(RUN, n, {"loss": 0.5, "accuracy": 0.75, "top5": 0.875}, 1.25, AT, 0.01)


QUADS_PER_EPOCH = len(to_quads(epoch(1)))


def result_node(n: int) -> NamedNode:
    return NamedNode(f"{RUN_PREFIX}/epoch/{n}")


def quads_of(events: Sequence) -> list[Quad]:
    return [quad for event in events for quad in to_quads(event)]


def as_stored(quads) -> set[Quad]:
    """Quads as a store holds them (Oxigraph normalises literal lexical forms, e.g. "1.0"^^xsd:double -> "1")."""
    store = Store()
    store.extend(quads)
    return set(store)


def epochs_in(quads: Sequence[Quad]) -> list[int]:
    """The epochs whose EpochResult node is typed in these quads, in order of appearance."""
    return [
        int(q.subject.value.rsplit("/", 1)[1]) for q in quads if q.predicate == RDF_TYPE and q.object == EPOCH_RESULT
    ]


def epoch_results_in(store: Store) -> set[int]:
    return {int(q.subject.value.rsplit("/", 1)[1]) for q in store.quads_for_pattern(None, RDF_TYPE, EPOCH_RESULT)}


# --- sink doubles -----------------------------------------------------------------------------------


class RecordingSink:
    """Writes each batch to an in-memory store, after an optional delay, and records it."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.store = Store()
        self.calls: list[list[Quad]] = []
        self.closes = 0

    def write(self, quads: Sequence[Quad]) -> None:
        if self.delay:
            time.sleep(self.delay)
        self.calls.append(list(quads))
        self.store.extend(quads)

    def close(self) -> None:
        self.closes += 1


class GatedSink(RecordingSink):
    """Every write waits until `gate` is set; `entered` tells that the writer thread is inside a write."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.gate = threading.Event(), threading.Event()

    def write(self, quads: Sequence[Quad]) -> None:
        self.entered.set()
        assert self.gate.wait(WAIT), "test never opened the gate"
        super().write(quads)


class FailingSink(RecordingSink):
    """The first `failures` writes raise OSError; later ones are recorded and stored."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    def write(self, quads: Sequence[Quad]) -> None:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise OSError("disk full")
        super().write(quads)


@pytest.fixture
def make_writer() -> Iterator[Callable[..., AsyncWriter]]:
    """Builds writers and makes sure each is closed (gates opened first) when the test ends."""
    made: list[AsyncWriter] = []

    def make(sink, **options) -> AsyncWriter:
        writer = AsyncWriter(sink, **options)
        made.append(writer)
        return writer

    yield make
    for writer in made:
        gate = getattr(writer._sink, "gate", None)
        if gate is not None:
            gate.set()
        writer.close(timeout=WAIT)


# --- everything written -----------------------------------------------------------------------------

AGENTS = Agents("0.1.0", "3.12.0", "tensorflow", "2.21.0", "3.10.0", "CPU", "cpu0", "host", "me")


def a_run(epochs: int) -> list:
    return [
        RunStarted(RUN, AT, AGENTS, "run", epochs),
        HyperparametersRecorded(RUN, {"batch_size": 32, "optimizer": 'SGD "momentum"', "nesterov": True}),
        *(epoch(n) for n in range(1, epochs + 1)),
    ]


def test_everything_submitted_is_written_to_an_in_memory_store_after_flush(make_writer) -> None:
    store = Store()
    writer = make_writer(StoreSink(store))
    events = a_run(50)
    for event in events:
        writer.submit(event)
    assert writer.flush(timeout=WAIT)
    assert writer.pending == 0
    assert set(store) == as_stored(quads_of(events))
    assert epoch_results_in(store) == set(range(1, 51))
    stats = writer.stats
    assert (stats.events_written, stats.quads_written) == (len(events), len(quads_of(events)))
    assert stats.batches >= 1 and stats.failed_writes == 0 and stats.spooled_quads == 0


def test_everything_submitted_is_written_to_an_on_disk_store_and_survives_reopening(tmp_path) -> None:
    path = str(tmp_path / "store")
    events = a_run(30)
    store = Store(path)
    writer = AsyncWriter(StoreSink(store))
    for event in events:
        writer.submit(event)
    assert writer.flush(timeout=WAIT)
    assert set(store) == as_stored(quads_of(events))
    writer.close()
    assert writer.stats.events_written == len(events)
    del writer, store
    gc.collect()  # drop the only handle, releasing the store's lock, then open it afresh
    reopened = Store(path)
    assert set(reopened) == as_stored(quads_of(events))


def test_each_batch_is_one_write_call_and_batches_grow_under_load(make_writer) -> None:
    sink = RecordingSink(delay=0.02)
    writer = make_writer(sink)
    events = [epoch(n) for n in range(1, 201)]
    for event in events:
        writer.submit(event)
    assert writer.flush(timeout=WAIT)
    # One write call per batch, and the calls carry exactly the quads of the events, in submission order.
    assert len(sink.calls) == writer.stats.batches
    assert sum(len(call) for call in sink.calls) == writer.stats.quads_written == len(quads_of(events))
    assert [n for call in sink.calls for n in epochs_in(call)] == list(range(1, 201))
    # An event's quads never straddle two calls: each call holds whole events.
    for call in sink.calls:
        assert len(call) == QUADS_PER_EPOCH * len(epochs_in(call))
        assert set(call) == set(quads_of([epoch(n) for n in epochs_in(call)]))
    # While the slow sink was busy, later events queued up and went in together.
    assert max(len(epochs_in(call)) for call in sink.calls) > 1
    assert writer.stats.batches < len(events)


def test_max_batch_bounds_a_transaction(make_writer) -> None:
    sink = GatedSink()
    writer = make_writer(sink, max_batch=3)
    writer.submit(epoch(1))
    assert sink.entered.wait(WAIT)  # the writer holds epoch 1 inside a write
    for n in range(2, 11):
        writer.submit(epoch(n))
    sink.gate.set()
    assert writer.flush(timeout=WAIT)
    assert [epochs_in(call) for call in sink.calls] == [[1], [2, 3, 4], [5, 6, 7], [8, 9, 10]]
    assert writer.stats.batches == 4


# --- back-pressure ----------------------------------------------------------------------------------


def test_submit_blocks_when_the_queue_is_full_and_nothing_is_dropped(make_writer) -> None:
    sink = GatedSink()
    writer = make_writer(sink, max_pending=5)
    writer.submit(epoch(1))
    assert sink.entered.wait(WAIT)  # the writer thread is stuck in a write holding epoch 1; the queue is empty
    submitted: list[int] = []
    failures: list[BaseException] = []

    def train() -> None:
        try:
            for n in range(2, 22):
                writer.submit(epoch(n))
                submitted.append(n)
        except BaseException as error:  # the training thread must never see one
            failures.append(error)

    trainer = threading.Thread(target=train, daemon=True)
    trainer.start()
    trainer.join(timeout=0.5)
    assert trainer.is_alive(), "submit should wait while the queue is full"
    assert submitted == [2, 3, 4, 5, 6]  # exactly max_pending events queued; the next submit waits
    sink.gate.set()
    trainer.join(timeout=WAIT)
    assert not trainer.is_alive() and not failures
    assert writer.flush(timeout=WAIT)
    assert epoch_results_in(sink.store) == set(range(1, 22))
    assert writer.stats.events_written == 21
    assert set(sink.store) == as_stored(quads_of([epoch(n) for n in range(1, 22)]))


# --- write failures ---------------------------------------------------------------------------------


def test_a_store_that_always_fails_warns_spools_and_never_raises(make_writer, tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    spool = tmp_path / "unwritten.nq"
    sink = FailingSink(failures=10**9)
    writer = make_writer(sink, spool_path=spool, retries=(0.0,))
    events = [epoch(n) for n in range(1, 6)]
    for event in events:
        writer.submit(event)  # would raise here if failures leaked to the training thread
    assert writer.flush(timeout=WAIT)
    writer.close()
    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    assert any("retrying" in r.getMessage() for r in warnings)
    assert any(str(spool) in r.getMessage() and "disk full" in r.getMessage() for r in warnings)
    # The spool holds exactly the events' quads, as parseable N-Quads with their lexical forms intact.
    spooled = list(parse(path=str(spool), format=RdfFormat.N_QUADS))
    assert set(spooled) == set(quads_of(events))
    assert len(spooled) == len(quads_of(events)) == writer.stats.spooled_quads
    assert writer.stats.events_written == writer.stats.quads_written == 0
    # Every batch is tried once and retried once (retries=(0.0,)), and each failed attempt is counted.
    assert writer.stats.failed_writes == sink.attempts and sink.attempts % 2 == 0 and sink.attempts >= 2
    assert not sink.calls


def test_a_store_that_always_fails_without_a_spool_file_only_warns(make_writer, caplog) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    writer = make_writer(FailingSink(failures=10**9), retries=())
    writer.submit(epoch(1))
    assert writer.flush(timeout=WAIT)
    assert any("no spool file" in r.getMessage() for r in caplog.records if r.name == LOGGER)
    assert writer.stats.spooled_quads == 0 and writer.stats.events_written == 0


def test_a_transient_failure_is_retried_and_everything_written_once(make_writer, tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    spool = tmp_path / "unwritten.nq"
    sink = FailingSink(failures=1)
    writer = make_writer(sink, spool_path=spool, retries=(0.0,))
    events = [epoch(n) for n in range(1, 21)]
    for event in events:
        writer.submit(event)
    assert writer.flush(timeout=WAIT)
    assert [n for call in sink.calls for n in epochs_in(call)] == list(range(1, 21))  # each epoch once
    assert set(sink.store) == as_stored(quads_of(events))
    assert sink.attempts == len(sink.calls) + 1
    assert not spool.exists()
    stats = writer.stats
    assert (stats.failed_writes, stats.spooled_quads, stats.batches) == (1, 0, len(sink.calls))
    assert (stats.events_written, stats.quads_written) == (20, len(quads_of(events)))
    assert any("retrying" in r.getMessage() for r in caplog.records if r.name == LOGGER)


# --- close ------------------------------------------------------------------------------------------


def test_close_writes_pending_events_is_idempotent_and_later_submits_only_warn(caplog) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    sink = RecordingSink(delay=0.01)
    writer = AsyncWriter(sink)
    events = [epoch(n) for n in range(1, 21)]
    for event in events:
        writer.submit(event)
    writer.close()  # no flush: close itself must write what is pending
    assert epoch_results_in(sink.store) == set(range(1, 21))
    assert sink.closes == 1
    writer.close()
    assert sink.closes == 1
    writer.submit(epoch(21))  # must not raise
    assert any("after close" in r.getMessage() for r in caplog.records if r.name == LOGGER)
    assert writer.flush(timeout=1.0)
    assert epoch_results_in(sink.store) == set(range(1, 21))
    assert (writer.stats.events_written, writer.stats.quads_written) == (20, len(quads_of(events)))


def test_a_sink_that_fails_to_close_only_warns(caplog) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)

    class BadClose(RecordingSink):
        def close(self) -> None:
            raise OSError("lock lost")

    writer = AsyncWriter(BadClose())
    writer.submit(epoch(1))
    writer.close()
    assert any("lock lost" in r.getMessage() for r in caplog.records if r.name == LOGGER)


# --- known problems ---------------------------------------------------------------------------------


def test_one_unmappable_event_does_not_lose_the_rest_of_its_batch(make_writer) -> None:
    sink = GatedSink()
    writer = make_writer(sink)
    writer.submit(epoch(1))
    assert sink.entered.wait(WAIT)  # epochs 2, bad, 3 now queue up and will form one batch
    bad_path = os.fsdecode(b"/models/alexnet-\xff.keras")
    writer.submit(epoch(2))
    writer.submit(ModelFileSaved(RUN, bad_path, 10, "0" * 64, AT, 2))
    writer.submit(epoch(3))
    sink.gate.set()
    assert writer.flush(timeout=WAIT)
    assert epoch_results_in(sink.store) == {1, 2, 3}


def test_close_honours_its_timeout_when_the_store_hangs(make_writer) -> None:
    sink = GatedSink()
    writer = make_writer(sink, max_pending=1)
    writer.submit(epoch(1))
    assert sink.entered.wait(WAIT)
    writer.submit(epoch(2))  # the queue (size 1) is now full
    closer = threading.Thread(target=writer.close, kwargs={"timeout": 0.2}, daemon=True)
    closer.start()
    try:
        closer.join(timeout=2.0)
        assert not closer.is_alive(), "close(timeout=0.2) still blocked after 2 s"
    finally:
        sink.gate.set()
        closer.join(timeout=WAIT)


# --- lingering --------------------------------------------------------------------------------------


def test_a_burst_of_events_lingers_into_one_transaction(make_writer) -> None:
    sink = RecordingSink()
    writer = make_writer(sink, linger=0.5)
    events = a_run(5)
    for event in events:
        writer.submit(event)
    deadline = time.monotonic() + WAIT
    while writer.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sink.calls) == 1 and writer.stats.batches == 1
    assert set(sink.store) == as_stored(quads_of(events))


def test_flush_and_close_do_not_wait_for_the_linger(make_writer) -> None:
    sink = RecordingSink()
    writer = make_writer(sink, linger=60.0)
    writer.submit(epoch(1))
    started = time.monotonic()
    assert writer.flush(timeout=WAIT)
    writer.submit(epoch(2))
    writer.close(timeout=WAIT)
    assert time.monotonic() - started < 5.0  # far below the 60 s linger
    assert epoch_results_in(sink.store) == {1, 2}
    assert not writer._thread.is_alive()


def test_without_a_flush_events_become_visible_after_the_linger(make_writer) -> None:
    sink = RecordingSink()
    writer = make_writer(sink, linger=0.2)
    writer.submit(epoch(1))
    time.sleep(0.05)
    assert epoch_results_in(sink.store) == set()  # still lingering
    deadline = time.monotonic() + WAIT
    while not epoch_results_in(sink.store) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert epoch_results_in(sink.store) == {1}


def test_close_leaves_the_log_to_the_next_open_which_folds_it_in(tmp_path, monkeypatch) -> None:
    """Closing does not wait for RocksDB's maintenance: a small session's writes stay in the write-ahead log,
    which readers read at once; the next writable open folds the log into the store and deletes it. (The store is
    closed at once here, not kept open for the next run of this process: `test_kept_open.py`.)"""
    from cnnprov_rdf.capture.tracker import Tracker
    from cnnprov_rdf.query.execute import run_query
    from cnnprov_rdf.storage import kept

    monkeypatch.setenv(kept.KEEP_OPEN_ENV, "0")

    path = tmp_path / "store"
    with Tracker(path) as tracker:
        run = tracker.start_run(planned_epochs=300, agents=AGENTS)
        for n in range(1, 301):
            run.log_epoch(n, {"loss": 1 / n}, elapsed_seconds=0.5)
        run.end()
    assert sum(f.stat().st_size for f in path.glob("*.log")) > 0  # left for the next open
    assert len(run_query(path, "epoch-loss-time", run=run.run_id).rows) == 300  # readers see it all
    with Tracker(path) as again:  # not locked; its writer thread opens the store, which folds the log in
        assert again.flush(timeout=WAIT)
        deadline = time.monotonic() + WAIT
        while again.writer._sink.store is None and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.01)
    logs = {f.name: f.stat().st_size for f in path.glob("*.log")}
    assert logs and set(logs.values()) == {0}, logs
    assert len(run_query(path, "epoch-loss-time", run=run.run_id).rows) == 300


def test_a_big_session_purges_its_log_when_it_closes(tmp_path) -> None:
    from cnnprov_rdf.storage import sink as sink_module
    from cnnprov_rdf.storage.store import open_for_writing

    path = tmp_path / "store"
    sink = StoreSink(open_for_writing(path), path, spool_path=tmp_path / "spool.nq")
    for n in range(1, 101):
        sink.write(to_quads(epoch(n)))
    sink._logged_quads = sink_module.PURGE_QUADS  # as if the session had been big
    sink.close()
    logs = {f.name: f.stat().st_size for f in path.glob("*.log")}
    assert logs and set(logs.values()) == {0}, logs


def test_a_second_writer_in_this_process_fails_at_once_even_before_the_store_opens(tmp_path) -> None:
    from cnnprov_rdf.storage.store import StoreLockedError

    path = tmp_path / "store"
    first = StoreSink.opening(path)
    with pytest.raises(StoreLockedError, match="already open for writing in this process"):
        StoreSink.opening(path)
    first.close()
    StoreSink.opening(path).close()  # released


# --- shared nodes: written once per store -------------------------------------------------------------


def _run_events(run_id: str, layers: tuple) -> list:
    from cnnprov_rdf.capture.events import ArchitectureRecorded

    return [
        HyperparametersRecorded(run_id, {"learning_rate": 0.01, "epochs": 2}),
        ArchitectureRecorded(run_id, "net", 120, layers),
        EpochEnded(run_id, 1, {"loss": 0.5, "top5": 0.9}, 1.0, AT, 0.01),
    ]


def test_a_shared_nodes_graph_is_written_once_per_store(tmp_path) -> None:
    from cnnprov_rdf.capture.events import LayerInfo
    from cnnprov_rdf.graph.iris import graph_of, is_write_once
    from cnnprov_rdf.storage.store import open_for_writing

    layers = (LayerInfo(1, "conv", "Conv2D", 100, filters=4, kernel_size=(3, 3)), LayerInfo(2, "fc", "Dense", 20))
    first, second = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
    quads_first, quads_second = quads_of(_run_events(first, layers)), quads_of(_run_events(second, layers))
    shared_first = [q for q in quads_first if is_write_once(q.graph_name)]
    # two hyperparameters, the "top5" measure and the architecture, the same for both runs
    assert len({q.graph_name for q in shared_first}) == 4
    assert shared_first == [q for q in quads_second if is_write_once(q.graph_name)]

    sink = StoreSink(open_for_writing(tmp_path / "store"), tmp_path / "store")
    sink.write(quads_first)
    assert sink.skipped_quads == 0
    sink.write(quads_second)
    assert sink.skipped_quads == len(shared_first)
    store = sink.store
    assert set(store) >= as_stored(quads_first) | as_stored(quads_second)  # the store holds both runs whole
    for run_id, quads in ((first, quads_first), (second, quads_second)):
        own = [q for q in quads if not is_write_once(q.graph_name) and not is_index_graph(q.graph_name)]
        assert {q.graph_name for q in own} == {graph_of(run_id)}
        assert len(list(store.quads_for_pattern(None, None, None, graph_of(run_id)))) == len(own)
    del store
    sink.close()

    # a new sink (another tracker, later) finds the graphs in the store instead of writing them again
    third = "33333333-3333-4333-8333-333333333333"
    again = StoreSink(open_for_writing(tmp_path / "store"), tmp_path / "store")
    again.write(quads_of(_run_events(third, layers)))
    assert again.skipped_quads == len(shared_first)
    # a different architecture is a different node, with a graph of its own
    other = (LayerInfo(1, "conv", "Conv2D", 100, filters=8, kernel_size=(3, 3)),)
    again.write(quads_of(_run_events("44444444-4444-4444-8444-444444444444", other)))
    assert again.skipped_quads == 2 * len(shared_first) - sum(
        1 for q in shared_first if "/graph/architecture/" in q.graph_name.value)
    assert len([g for g in again.store.named_graphs() if "/graph/architecture/" in g.value]) == 2
    again.close()


def test_a_failed_write_does_not_count_a_shared_graph_as_held(tmp_path) -> None:
    from cnnprov_rdf.capture.events import LayerInfo

    class FailingStore:
        def contains_named_graph(self, graph: NamedNode) -> bool:
            return False

        def extend(self, quads: Sequence[Quad]) -> None:
            raise OSError("disk full")

    store = Store()
    sink = StoreSink(FailingStore())  # type: ignore[arg-type]
    quads = quads_of(_run_events(RUN, (LayerInfo(1, "fc", "Dense", 20),)))
    with pytest.raises(OSError, match="disk full"):
        sink.write(quads)
    sink.store = store  # the disk has room again
    sink.write(quads)
    assert sink.skipped_quads == 0 and set(store) == as_stored(quads)
