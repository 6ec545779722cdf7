"""Opt-in per-batch capture: `ProvenanceCallback(per_batch=True)` stores one `cnn:BatchResult` per training batch."""

from __future__ import annotations

import time

import keras
import pytest
from pyoxigraph import Store

from cnnprov_rdf.graph.literals import python_value
from cnnprov_rdf.graph.mapping import to_quads
from cnnprov_rdf.interop.validation import validate
from cnnprov_rdf.keras import ProvenanceCallback
from cnnprov_rdf.storage.store import open_for_reading

PREFIXES = """
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX cnn: <https://w3id.org/cnnprov/ontology#>
"""

EPOCHS, BATCH_SIZE = 2, 8
FIT: dict[str, object] = {}  # what the module's training measured: fit seconds, the callback's hook seconds


class RecordBatches(keras.callbacks.Callback):
    """What Keras hands every callback after each batch, as (epoch, batch, loss, accuracy)."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0
        self.seen: list[tuple[int, int, float, float]] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append((self.epoch, batch + 1, float(logs["loss"]), float(logs["accuracy"])))


def select(store: Store, query: str) -> list[dict[str, object]]:
    solutions = store.query(PREFIXES + query, use_default_graph_as_union=True)
    names = [v.value for v in solutions.variables]
    return [{n: python_value(s[n]) for n in names} for s in solutions]


@pytest.fixture(scope="module")
def batch_training(tmp_path_factory: pytest.TempPathFactory):
    from cnnprov_rdf.demo.alexnet import build_alexnet
    from cnnprov_rdf.demo.datasets import synthetic_shapes

    store_path = tmp_path_factory.mktemp("batches") / "store"
    keras.utils.set_random_seed(3)
    data = synthetic_shapes(n_per_class=5, num_classes=4, size=64, split=0.8, seed=3)
    model = build_alexnet((64, 64, 3), data.num_classes, width=0.125)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    recorder = RecordBatches()
    with ProvenanceCallback(store_path, run_name="batches", per_batch=True) as capture:
        started = time.perf_counter()
        model.fit(data.x_train, data.y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0,
                  callbacks=[capture, recorder])
        FIT["seconds"], FIT["hook_seconds"] = time.perf_counter() - started, dict(capture.hook_seconds)
    steps = -(-len(data.x_train) // BATCH_SIZE)
    return store_path, capture.run.run_id, recorder.seen, steps


def test_one_batch_result_per_step_with_the_losses_keras_reported(batch_training):
    store_path, _, seen, steps = batch_training
    store = open_for_reading(store_path)
    rows = select(store, """
        SELECT ?epoch ?loss ?accuracy WHERE {
          ?b a cnn:BatchResult, prov:Entity ; prov:wasGeneratedBy ?run ; cnn:epoch ?epoch ; cnn:loss ?loss ;
             cnn:accuracy ?accuracy ; prov:generatedAtTime ?t .
          ?run a cnn:Training }""")
    assert len(rows) == steps * EPOCHS == len(seen)
    stored = sorted((r["epoch"], r["loss"], r["accuracy"]) for r in rows)
    assert stored == sorted((epoch, loss, accuracy) for epoch, _, loss, accuracy in seen)


def test_batch_iris_are_numbered_within_their_epoch(batch_training):
    store_path, run_id, seen, _ = batch_training
    store = open_for_reading(store_path)
    rows = select(store, """
        SELECT ?b ?loss WHERE { ?b a cnn:BatchResult ; cnn:loss ?loss }""")
    by_iri = {r["b"]: r["loss"] for r in rows}
    for epoch, batch, loss, _ in seen:
        assert by_iri[f"https://w3id.org/cnnprov/id/run/{run_id}/epoch/{epoch}/batch/{batch}"] == loss


def test_epoch_results_are_still_recorded(batch_training):
    store = open_for_reading(batch_training[0])
    rows = select(store, "SELECT ?epoch WHERE { ?e a cnn:EpochResult ; cnn:epoch ?epoch } ORDER BY ?epoch")
    assert [r["epoch"] for r in rows] == list(range(1, EPOCHS + 1))


def test_run_with_batches_conforms_to_the_shapes(batch_training):
    store_path, run_id, _, _ = batch_training
    report = validate(open_for_reading(store_path), [run_id])
    assert report.conforms, report


def test_per_batch_capture_is_off_by_default(captured):
    store = open_for_reading(captured.store)
    assert not select(store, "SELECT ?b WHERE { ?b a cnn:BatchResult }")


def test_batch_mapping_keeps_only_standard_metrics():
    from datetime import UTC, datetime

    from cnnprov_rdf.capture.events import BatchEnded

    event = BatchEnded("r1", 2, 5, {"loss": 0.5, "accuracy": 0.25, "top_5": 1.0}, datetime(2024, 1, 1, tzinfo=UTC))
    quads = to_quads(event)
    predicates = {q.predicate.value.rsplit("#", 1)[-1] for q in quads}
    assert {"epoch", "batch", "loss", "accuracy", "wasGeneratedBy", "generatedAtTime", "type"} == predicates
    assert {q.subject.value for q in quads} == {"https://w3id.org/cnnprov/id/run/r1/epoch/2/batch/5"}



def test_epoch_level_capture_defines_no_batch_hook(tmp_path):
    """Without per_batch, Keras' own no-op batch hooks stay: nothing of ours runs after each training step."""
    no_op = keras.callbacks.Callback.on_train_batch_end
    with ProvenanceCallback(tmp_path / "store") as capture:
        assert capture.on_train_batch_end.__func__ is no_op
        assert capture.on_train_batch_begin.__func__ is keras.callbacks.Callback.on_train_batch_begin
        with ProvenanceCallback(tmp_path / "store", per_batch=True) as batches:
            assert batches.on_train_batch_end.__func__ is not no_op


def test_the_callback_adds_up_the_time_spent_in_each_of_its_hooks(batch_training):
    hooks = FIT["hook_seconds"]
    assert set(hooks) == {"on_train_begin", "on_epoch_begin", "record_batch", "on_epoch_end", "on_train_end"}
    assert all(seconds > 0 for seconds in hooks.values())
    assert sum(hooks.values()) < FIT["seconds"]
