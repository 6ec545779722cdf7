"""End-to-end capture of a real Keras training into a real on-disk Oxigraph store."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from pathlib import Path

import keras
import numpy as np
import pytest
from pyoxigraph import Store

from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.graph.literals import python_value
from cnnprov_rdf.keras import ProvenanceCallback
from cnnprov_rdf.storage.store import StoreLockedError, open_for_reading

PREFIXES = """
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX cnn: <https://w3id.org/cnnprov/ontology#>
PREFIX mls: <http://www.w3.org/ns/mls#>
"""


def select(store: Store, query: str) -> list[dict[str, object]]:
    solutions = store.query(PREFIXES + query, use_default_graph_as_union=True)
    names = [v.value for v in solutions.variables]
    return [{n: python_value(s[n]) for n in names} for s in solutions]


@pytest.fixture(scope="module")
def store(captured) -> Store:
    return open_for_reading(captured.store)


def test_one_run_with_start_before_end_and_finished_summary(store, captured):
    rows = select(store, """
        SELECT ?id ?start ?end ?status ?epochs ?planned ?final WHERE {
          ?run a cnn:Training, prov:Activity ; cnn:runId ?id ; prov:startedAtTime ?start ; prov:endedAtTime ?end ;
               cnn:status ?status ; cnn:epochsCompleted ?epochs ; cnn:plannedEpochs ?planned ;
               cnn:finalLoss ?final }""")
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == captured.run_id
    assert row["start"] < row["end"]  # ISO 8601 UTC strings order like times
    assert (row["status"], row["epochs"], row["planned"]) == ("finished", 3, 3)
    assert row["final"] == captured.history["loss"][-1]


def test_epoch_losses_equal_keras_history_exactly(store, captured):
    rows = select(store, """
        SELECT ?epoch ?loss ?accuracy ?elapsed ?lr WHERE {
          ?e a cnn:EpochResult, prov:Entity ; prov:wasGeneratedBy ?run ; cnn:epoch ?epoch ; cnn:loss ?loss ;
             cnn:accuracy ?accuracy ; cnn:elapsedSeconds ?elapsed ; cnn:learningRate ?lr ; prov:generatedAtTime ?t }
        ORDER BY ?epoch""")
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert [r["loss"] for r in rows] == captured.history["loss"]
    assert [r["accuracy"] for r in rows] == captured.history["accuracy"]
    assert [r["lr"] for r in rows] == captured.history["learning_rate"]
    assert all(r["elapsed"] > 0 for r in rows)


def test_one_adaptation_after_epoch_two_with_old_and_new_rate(store, captured):
    rates = captured.history["learning_rate"]
    assert rates[0] == rates[1] != rates[2]
    rows = select(store, """
        SELECT ?epoch ?old ?new ?id ?used ?kind ?factor ?every ?initial WHERE {
          ?a a cnn:Adaptation, prov:Activity ; cnn:epoch ?epoch ; cnn:oldLearningRate ?old ;
             cnn:newLearningRate ?new ; cnn:adaptationId ?id ; prov:startedAtTime ?t ;
             prov:used ?used ; prov:used ?schedule .
          ?used a cnn:EpochResult .
          ?schedule a cnn:LearningRateSchedule ; cnn:scheduleKind ?kind ; cnn:decayFactor ?factor ;
                    cnn:decayEvery ?every ; cnn:initialLearningRate ?initial .
          ?setting prov:wasGeneratedBy ?a ; cnn:learningRate ?new }""")
    assert len(rows) == 1
    row = rows[0]
    assert (row["epoch"], row["old"], row["new"]) == (2, rates[1], rates[2])
    assert row["used"].endswith("/epoch/2")
    # The adaptation took place when epoch 3 began: after epoch 2 ended, before epoch 3 ended.
    times = select(store, """
        SELECT ?started ?epoch2 ?epoch3 ?elapsed3 WHERE {
          ?a a cnn:Adaptation ; prov:startedAtTime ?started .
          ?e2 a cnn:EpochResult ; cnn:epoch 2 ; prov:generatedAtTime ?epoch2 .
          ?e3 a cnn:EpochResult ; cnn:epoch 3 ; prov:generatedAtTime ?epoch3 ; cnn:elapsedSeconds ?elapsed3 }""")[0]
    started, epoch2, epoch3 = (datetime.fromisoformat(times[k]) for k in ("started", "epoch2", "epoch3"))
    epoch3_began = epoch3 - timedelta(seconds=times["elapsed3"])
    assert epoch2 <= started <= epoch3_began + timedelta(milliseconds=20)
    assert (row["kind"], row["factor"], row["every"], row["initial"]) == ("step-decay", 0.5, 2, 0.01)


def test_testing_record_equals_evaluate(store, captured):
    rows = select(store, """
        SELECT ?loss ?accuracy ?model WHERE {
          ?testing a cnn:Testing, prov:Activity ; prov:used ?model ; prov:wasInformedBy ?run .
          ?model a cnn:TrainedModel ; prov:wasGeneratedBy ?run .
          ?result prov:wasGeneratedBy ?testing ; a cnn:TestResult ; cnn:loss ?loss ; cnn:accuracy ?accuracy }""")
    assert rows == [{"loss": captured.test_result["loss"], "accuracy": captured.test_result["accuracy"],
                     "model": rows[0]["model"]}]


def test_hyperparameters_read_from_optimizer_fit_and_model(store):
    rows = select(store, """
        SELECT ?name ?value WHERE {
          ?run a cnn:Training ; prov:used ?s .
          ?s a cnn:HyperparameterSetting ; cnn:hyperparameterName ?name ; mls:hasValue ?value }""")
    values = {r["name"]: r["value"] for r in rows}
    assert values["learning_rate"] == pytest.approx(0.01)
    assert values["epochs"] == 3
    assert values["batch_size"] == 8
    assert values["optimizer"] == "SGD"
    assert values["loss_function"] == "sparse_categorical_crossentropy"


def test_architecture_has_every_layer_in_order(store, captured):
    rows = select(store, """
        SELECT ?count ?params ?index ?kind ?filters ?kernel ?units ?rate WHERE {
          ?run a cnn:Training ; prov:used ?arch .
          ?arch a cnn:ModelArchitecture ; cnn:layerCount ?count ; cnn:parameterCount ?params ; cnn:hasLayer ?l .
          ?l cnn:layerIndex ?index ; cnn:layerKind ?kind .
          OPTIONAL { ?l cnn:filters ?filters } OPTIONAL { ?l cnn:kernelSize ?kernel }
          OPTIONAL { ?l cnn:units ?units } OPTIONAL { ?l cnn:dropoutRate ?rate } } ORDER BY ?index""")
    assert len(rows) == captured.layer_count == rows[0]["count"]
    assert rows[0]["params"] == captured.model.count_params()
    kinds = [r["kind"] for r in rows]
    assert kinds.count("Conv2D") == 5 and kinds.count("Dense") == 3 and kinds.count("Dropout") == 2
    first_conv = next(r for r in rows if r["kind"] == "Conv2D")
    assert (first_conv["filters"], first_conv["kernel"]) == (12, "11x11")
    assert [r["rate"] for r in rows if r["kind"] == "Dropout"] == [0.5, 0.5]


def test_model_file_recorded_with_size_and_sha256(store, captured):
    data = captured.model_file.read_bytes()
    rows = select(store, """
        SELECT ?path ?bytes ?sha WHERE {
          ?f a cnn:ModelFile, prov:Entity ; prov:wasGeneratedBy ?run ; cnn:filePath ?path ;
             cnn:byteSize ?bytes ; cnn:sha256 ?sha . ?run a cnn:Training }""")
    assert rows == [{"path": str(captured.model_file.resolve()), "bytes": len(data),
                     "sha": hashlib.sha256(data).hexdigest()}]


def test_agents_dataset_and_split(store):
    import tensorflow as tf

    rows = select(store, """
        SELECT ?tf ?keras ?kind ?user ?dataset ?fraction WHERE {
          ?run a cnn:Training ; prov:wasAssociatedWith ?software, ?device, ?user_agent ; prov:used ?d, ?split .
          ?software a prov:SoftwareAgent ; cnn:frameworkVersion ?tf ; cnn:kerasVersion ?keras .
          ?device a cnn:ComputeDevice ; cnn:deviceKind ?kind .
          ?user_agent a prov:Person ; cnn:userName ?user .
          ?d a cnn:Dataset ; cnn:datasetName ?dataset .
          ?split a cnn:DataSplit ; prov:wasDerivedFrom ?d ; cnn:trainFraction ?fraction }""")
    assert len(rows) == 1
    assert rows[0]["tf"] == tf.__version__ and rows[0]["keras"] == keras.__version__
    assert rows[0]["kind"] in ("CPU", "GPU")
    assert (rows[0]["dataset"], rows[0]["fraction"]) == ("synthetic-shapes", 0.8)


def test_nothing_is_both_activity_and_entity(store):
    rows = select(store, "SELECT ?x WHERE { ?x a prov:Activity, prov:Entity }")
    assert rows == []


def test_exception_in_fit_is_recorded_and_propagates_unchanged(tmp_path):
    from conftest import train_tiny_alexnet

    error = RuntimeError("loader exploded")

    class Explode(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise error

    with pytest.raises(RuntimeError) as raised:
        train_tiny_alexnet(tmp_path / "store", tmp_path, extra_callbacks=[Explode()])
    assert raised.value is error
    rows = select(open_for_reading(tmp_path / "store"), """
        SELECT ?status ?type ?message ?epochs WHERE {
          ?run a cnn:Training ; cnn:status ?status ; cnn:epochsCompleted ?epochs .
          ?e a cnn:TrainingError ; prov:wasGeneratedBy ?run ; cnn:errorType ?type ; cnn:errorMessage ?message }""")
    assert rows == [{"status": "failed", "type": "RuntimeError", "message": "loader exploded", "epochs": 1}]


def test_framework_neutral_api_for_a_custom_loop_stores_nan_and_inf(tmp_path):
    with Tracker(tmp_path / "store") as tracker, tracker.start_run(name="custom", planned_epochs=2) as run:
        run.log_hyperparameters(learning_rate=0.1, optimizer="hand-written SGD")
        run.log_epoch(1, {"loss": math.nan, "accuracy": 0.5}, elapsed_seconds=1.5, learning_rate=0.1)
        run.log_epoch(2, {"loss": math.inf, "accuracy": 0.25}, elapsed_seconds=1.0, learning_rate=0.05)
    store = open_for_reading(tmp_path / "store")
    losses = [s["loss"] for s in store.query(PREFIXES + "SELECT ?loss WHERE { GRAPH ?g { ?e cnn:loss ?loss ; "
                                             "cnn:epoch ?n } } ORDER BY ?n")]
    assert [(loss.value, loss.datatype.value.rsplit("#")[1]) for loss in losses] == [("NaN", "double"),
                                                                                        ("INF", "double")]
    assert select(store, "SELECT ?old ?new ?epoch WHERE { ?a cnn:oldLearningRate ?old ; cnn:newLearningRate ?new ;"
                         " cnn:epoch ?epoch }") == [{"old": 0.1, "new": 0.05, "epoch": 1}]


def test_second_writer_in_the_same_process_gets_a_clear_error_naming_the_store(tmp_path):
    path = tmp_path / "busy"
    with Tracker(path):
        with pytest.raises(StoreLockedError, match=str(path)) as raised:
            Tracker(path)
        assert "already open for writing in this process" in str(raised.value)


def test_callbacks_on_one_store_share_its_writer_and_release_it(tmp_path):
    path = tmp_path / "shared"
    first, second = ProvenanceCallback(path), ProvenanceCallback(path)  # e.g. a grid search in one script
    assert first.tracker is second.tracker
    first.close()
    assert not second.tracker.writer.closed
    second.close()
    assert second.tracker.writer.closed
    with Tracker(path):  # the lock is released once the last user closed
        pass


def test_run_iris_are_under_the_base_and_unique(captured, store):
    rows = select(store, "SELECT ?run WHERE { ?run a cnn:Training }")
    assert rows[0]["run"] == f"https://w3id.org/cnnprov/id/run/{captured.run_id}"
    assert Path(str(captured.store)).is_dir()


@pytest.mark.parametrize("plateau_first", [False, True], ids=["capture-first", "plateau-first"])
def test_reduce_lr_on_plateau_and_model_checkpoint_are_recorded(tmp_path, plateau_first):
    """Either order of callbacks records the rate each epoch trained with: the plateau halves it at epoch end."""
    from cnnprov_rdf.demo.alexnet import build_alexnet
    from cnnprov_rdf.demo.datasets import synthetic_shapes

    data = synthetic_shapes(n_per_class=6, num_classes=2, size=64, seed=2)
    model = build_alexnet((64, 64, 3), 2, width=0.125)
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="sparse_categorical_crossentropy")
    checkpoint = tmp_path / "checkpoint.keras"
    # min_delta=100 makes every epoch after the first a "plateau": the rate halves after epoch 2.
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=100, verbose=0)
    with ProvenanceCallback(tmp_path / "store") as capture:
        order = [plateau, capture] if plateau_first else [capture, plateau]
        history = model.fit(data.x_train, data.y_train, epochs=3, batch_size=4, verbose=0,
                            callbacks=[*order, keras.callbacks.ModelCheckpoint(checkpoint)])
    store = open_for_reading(tmp_path / "store")
    assert len(history.history["loss"]) == 3
    old, new = float(np.float32(0.001)), float(np.float32(0.0005))
    adaptations = select(store, "SELECT ?epoch ?old ?new ?kind WHERE { ?a a cnn:Adaptation ; cnn:epoch ?epoch ; "
                                "cnn:oldLearningRate ?old ; cnn:newLearningRate ?new ; prov:used ?s . "
                                "?s cnn:scheduleKind ?kind } ORDER BY ?epoch")
    assert adaptations == [{"epoch": 2, "old": old, "new": new, "kind": "reduce-on-plateau"}]
    rates = select(store, "SELECT ?epoch ?rate WHERE { ?e a cnn:EpochResult ; cnn:epoch ?epoch ; "
                          "cnn:learningRate ?rate } ORDER BY ?epoch")
    assert [r["rate"] for r in rates] == [old, old, new]
    files = select(store, "SELECT ?epoch ?sha WHERE { ?f a cnn:ModelFile ; cnn:epoch ?epoch ; cnn:sha256 ?sha }"
                          " ORDER BY ?epoch")
    assert [f["epoch"] for f in files] == [1, 2, 3]
    assert files[-1]["sha"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
