"""Capture across processes: reading while a training writes, and a SIGKILLed training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.storage.store import StoreLockedError, open_for_reading, open_for_writing

TRAINER = Path(__file__).with_name("_train_in_subprocess.py")


def start_training(store: Path, *, epochs: int, pause: float, hang_after: int = 0) -> subprocess.Popen[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(TRAINER), str(store), str(epochs), str(pause), str(hang_after)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )


def wait_for_line(process: subprocess.Popen[str], expected: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.strip() == expected:
            return
        if not line and process.poll() is not None:
            raise AssertionError(f"training process exited ({process.returncode}) before printing {expected}")
    raise AssertionError(f"no {expected!r} within {timeout}s")


def epochs_seen_by_cli(store: Path) -> list[int]:
    """What another process sees right now: `cnnprov query epoch-loss-time --format json`."""
    result = subprocess.run(
        [sys.executable, "-m", "cnnprov_rdf.cli", "query", "epoch-loss-time",
         "--store", str(store), "--format", "json"],
        capture_output=True, text=True, check=True,
    )
    return sorted(row["epoch"] for row in json.loads(result.stdout))


def test_queries_from_another_process_see_epochs_grow_while_training_writes(tmp_path):
    store = tmp_path / "store"
    process = start_training(store, epochs=4, pause=4.0)
    try:
        wait_for_line(process, "EPOCH 1")
        time.sleep(1.5)  # the writer commits within its linger (1 s) and a fraction of a second
        first = epochs_seen_by_cli(store)
        with pytest.raises(StoreLockedError, match=str(store)):
            open_for_writing(store)
        wait_for_line(process, "EPOCH 3")
        time.sleep(1.5)
        later = epochs_seen_by_cli(store)
        wait_for_line(process, "DONE")
    finally:
        process.kill()
        process.wait()
    assert first == [1]
    assert later == [1, 2, 3]
    assert epochs_seen_by_cli(store) == [1, 2, 3, 4]


def test_sigkilled_training_leaves_an_openable_store_with_earlier_epochs(tmp_path):
    store = tmp_path / "store"
    process = start_training(store, epochs=5, pause=0.0, hang_after=2)
    try:
        wait_for_line(process, "EPOCH 2")
        time.sleep(2.5)  # events enqueued more than the writer's linger (1 s) before the kill must survive it
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGKILL
    epochs = run_query(store, "epoch-loss-time")
    assert sorted(row["epoch"] for row in epochs) == [1, 2]
    runs = run_query(store, "runs").rows
    assert [(r["status"], r["epochs"]) for r in runs] == [("unfinished", 2)]
    # The store is not left locked: a new writer can open it.
    open_for_writing(store).flush()


UNCAUGHT = """
import atexit, keras, sys
sys.path.insert(0, {tests!r})
from cnnprov_rdf.keras import ProvenanceCallback
from cnnprov_rdf.capture.keras_patch import MODEL_PATCH

atexit.register(lambda: print("PATCH LEFT", MODEL_PATCH.installed, flush=True))  # runs after the writer closed

class Explode(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            print("EXCEPTHOOK UNCHANGED", sys.excepthook is sys.__excepthook__, flush=True)
            raise MemoryError("out of memory in epoch 2")

from cnnprov_rdf.demo.alexnet import build_alexnet
from cnnprov_rdf.demo.datasets import synthetic_shapes
data = synthetic_shapes(n_per_class=4, num_classes=2, seed=3)
model = build_alexnet((64, 64, 3), 2)
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
# The bare one-liner: no `with`, no close(); nobody catches the error.
model.fit(data.x_train, data.y_train, epochs=3, verbose=0,
          callbacks=[ProvenanceCallback({store!r}), Explode()])
"""


def test_uncaught_exception_with_a_bare_callback_is_recorded_by_the_fit_wrapper_before_the_process_exits(tmp_path):
    """The patched `keras.Model.fit` records the escaping error on the run (sys.excepthook is left alone)."""
    store = tmp_path / "store"
    script = UNCAUGHT.format(tests=str(Path(__file__).parent), store=str(store))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert result.returncode == 1 and "MemoryError: out of memory in epoch 2" in result.stderr
    assert "EXCEPTHOOK UNCHANGED True" in result.stdout and "PATCH LEFT False" in result.stdout
    rows = run_query(store, "runs").rows
    assert [(r["status"], r["epochs"]) for r in rows] == [("failed", 2)]
    errors = list(open_for_reading(store).query(
        "SELECT ?type ?message WHERE { GRAPH ?g { ?e <https://w3id.org/cnnprov/ontology#errorType> ?type ; "
        "<https://w3id.org/cnnprov/ontology#errorMessage> ?message } }"))
    assert [(e["type"].value, e["message"].value) for e in errors] == [("MemoryError", "out of memory in epoch 2")]
