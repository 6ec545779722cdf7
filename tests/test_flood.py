"""A flood of epochs through the Tracker API, SIGKILLed: every event enqueued 2 s before the kill is on disk.

The child (`_flood_child.py`) calls `log_epoch` as fast as it can and logs, after each call, the epoch and the
time (`time.monotonic`, one clock for every process of the machine). The parent kills it with SIGKILL after
a few seconds of flooding, opens the store and compares.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from pyoxigraph import NamedNode, Store

from cnnprov_rdf.graph.iris import graph_of
from cnnprov_rdf.graph.vocabulary import CNN_NS

CHILD = Path(__file__).with_name("_flood_child.py")
BOUND = 2.0  # seconds: what the writer promises for an event enqueued before a SIGKILL


def side_log(path: Path) -> list[tuple[int, float]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [(int(a), float(b)) for a, b in (line.split() for line in lines if line.count(" ") == 1)]


def test_every_epoch_enqueued_two_seconds_before_a_sigkill_is_in_the_store(tmp_path: Path) -> None:
    store, log, run_id = tmp_path / "store", tmp_path / "enqueued.txt", str(uuid.uuid4())
    env = {**os.environ, "CNNPROV_SPOOL_DIR": str(tmp_path / "spool"), "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, str(CHILD), str(store), str(log), run_id], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not side_log(log) and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert side_log(log), f"the child never logged an epoch: {child.stderr.read() if child.stderr else ''}"
        time.sleep(4.0)  # flood for 4 s
        killed_at = time.monotonic()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    logged = side_log(log)
    due = {epoch for epoch, at in logged if at <= killed_at - BOUND}
    assert len(due) > 100, f"only {len(due)} epochs were enqueued 2 s before the kill ({len(logged)} in all)"

    reopened = Store(str(store))  # recovers the write-ahead log, as the next writer would
    epoch_property, graph = NamedNode(CNN_NS + "epoch"), graph_of(run_id)
    stored = {int(q.object.value) for q in reopened.quads_for_pattern(None, epoch_property, None, graph)}
    missing = sorted(due - stored)
    assert not missing, f"{len(missing)} of {len(due)} due epochs are missing, first {missing[:5]}"
    assert stored <= {epoch for epoch, _ in logged} | {max(e for e, _ in logged) + 1}  # nothing invented
