"""Readers beside a writing process: 6 query loops while 3 trainings (1,000 epochs each, one after another,
each writer opened and closed) write the same store; not one query fails, and the last ones see it all."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Quad, Store

from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.query.sources import LocalSource
from cnnprov_rdf.storage.store import open_for_reading, open_for_writing, read_consistently

REPO = Path(__file__).resolve().parents[1]
EPOCHS = "PREFIX cnn: <https://w3id.org/cnnprov/ontology#> SELECT (COUNT(?e) AS ?n) WHERE { ?e cnn:epoch ?k }"


def test_six_query_loops_beside_three_trainings_never_fail(tmp_path):
    store = tmp_path / "store"
    del_store = open_for_writing(store)
    del del_store
    stop, failures, answers = threading.Event(), [], []

    def loop(kind: int) -> None:
        source = LocalSource(store) if kind % 2 else None  # half reuse one source, half open one per query
        while not stop.is_set():
            try:
                if source is not None:
                    answers.append(int(source.select(EPOCHS)[1][0][0].value))
                else:
                    answers.append(len(run_query(store, "runs").rows))
            except Exception as error:  # the test's point: count every failure, whatever its kind
                failures.append(f"{type(error).__name__}: {error}")

    readers = [threading.Thread(target=loop, args=(kind,)) for kind in range(6)]
    for reader in readers:
        reader.start()
    try:
        done = subprocess.run([sys.executable, str(REPO / "tests" / "_live_trainings.py"), str(store), "3", "1000"],
                              env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                              timeout=300)
        time.sleep(0.5)
    finally:
        stop.set()
        for reader in readers:
            reader.join(60)
    assert done.returncode == 0, done.stderr
    assert failures == []
    assert len(answers) > 60
    runs = run_query(store, "runs").rows
    assert sorted(row["epochs"] for row in runs) == [1000, 1000, 1000]
    assert {row["status"] for row in runs} == {"finished"}
    assert LocalSource(store).select(EPOCHS)[1][0][0].value == "3000"


def test_snapshots_open_and_read_whole_batches_beside_flushes_and_compactions(tmp_path):
    """A bare `Store.read_only` beside a writer that flushes and compacts fails now and then (RocksDB removes a
    table file the snapshot's manifest named; about one open in seven here); the package's readers never do."""
    path = tmp_path / "store"
    writer, stop, batch = Store(str(path)), threading.Event(), 2000

    def write() -> None:
        for round_ in itertools.count():
            if stop.is_set():
                return
            writer.extend(Quad(NamedNode(f"urn:x:{round_}:{i}"), NamedNode("urn:p"), Literal(i), NamedNode("urn:g"))
                          for i in range(batch))
            writer.flush()
            if round_ % 5 == 4:
                writer.optimize()

    thread = threading.Thread(target=write)
    thread.start()
    counts, opened, began = [], 0, time.monotonic()
    try:
        while time.monotonic() - began < 8:
            counts.append(read_consistently(path, len))
            del_snapshot = open_for_reading(path)
            del del_snapshot
            opened += 1
    finally:
        stop.set()
        thread.join(60)
    assert opened > 40
    assert [count % batch for count in counts] == [0] * len(counts)  # whole batches, never half of one
    assert counts == sorted(counts) and counts[-1] > 0
