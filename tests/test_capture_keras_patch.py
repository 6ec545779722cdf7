"""The Keras callback's source of fit/evaluate arguments and saved files: `capture.keras_patch.MODEL_PATCH`.

It is installed only while a callback waits for or runs a fit (or its `with` block lasts) and leaves nothing
behind: not on `keras.Model`, not on the model instance, not in `sys.excepthook`.
"""

from __future__ import annotations

import gc
import sys

import keras
import numpy as np
import pytest

from cnnprov_rdf.capture.keras_patch import MODEL_PATCH, PATCHED
from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.errors import ConfigurationError
from cnnprov_rdf.graph.literals import python_value
from cnnprov_rdf.keras import ProvenanceCallback
from cnnprov_rdf.storage.store import open_for_reading

PREFIXES = "PREFIX prov: <http://www.w3.org/ns/prov#>\nPREFIX cnn: <https://w3id.org/cnnprov/ontology#>\n" \
           "PREFIX mls: <http://www.w3.org/ns/mls#>\n"
ORIGINALS = MODEL_PATCH.originals()  # importing cnnprov_rdf.keras reserved the patch for the first callback
RESOLVED = {name: ORIGINALS[name] or getattr(keras.Model.__mro__[1], name) for name in PATCHED}


def select(path, query: str) -> list[dict[str, object]]:
    solutions = open_for_reading(path).query(PREFIXES + query, use_default_graph_as_union=True)
    names = [v.value for v in solutions.variables]
    return [{n: python_value(s[n]) for n in names} for s in solutions]


def small_model() -> keras.Model:
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).random((n, 4), dtype=np.float32)
    return x, (x.sum(axis=1) > 2).astype("int32")


def assert_nothing_left(model: keras.Model, excepthook: object) -> None:
    assert (MODEL_PATCH.installed, MODEL_PATCH.users) == (False, 0)
    assert {name: keras.Model.__dict__.get(name) for name in PATCHED} == ORIGINALS
    assert {name: getattr(keras.Model, name) for name in PATCHED} == RESOLVED
    assert type(model).fit is RESOLVED["fit"] and type(model).evaluate is RESOLVED["evaluate"]
    assert not set(PATCHED) & set(model.__dict__)
    assert sys.excepthook is excepthook


def test_a_run_with_fit_evaluate_checkpoint_and_save_leaves_no_patch_and_records_exact_arguments(tmp_path):
    hook = sys.excepthook
    model, (x, y), (x_test, y_test) = small_model(), data(20), data(8, seed=1)
    with ProvenanceCallback(tmp_path / "store", dataset={"name": "sums"}) as capture:
        assert MODEL_PATCH.installed
        model.fit(x, y, epochs=2, batch_size=5, validation_split=0.25, shuffle=False, verbose=0,
                  callbacks=[capture, keras.callbacks.ModelCheckpoint(tmp_path / "checkpoint.keras")])
        model.evaluate(x_test, y_test, verbose=0, callbacks=[capture])
        model.save(tmp_path / "final.keras")
        model.save_weights(tmp_path / "final.weights.h5")
    assert_nothing_left(model, hook)
    store = tmp_path / "store"
    values = {r["name"]: r["value"] for r in select(store, "SELECT ?name ?value WHERE { ?run a cnn:Training ; "
              "prov:used ?s . ?s cnn:hyperparameterName ?name ; mls:hasValue ?value }")}
    assert (values["batch_size"], values["validation_split"], values["shuffle"]) == (5, 0.25, False)
    assert values["epochs"] == 2
    split = select(store, "SELECT ?train ?validation WHERE { ?s a cnn:DataSplit ; cnn:trainExamples ?train ; "
                          "cnn:validationFraction ?validation }")
    assert split == [{"train": 15, "validation": 0.25}]  # Keras trains on floor(20 * 0.75)
    assert select(store, "SELECT ?n WHERE { ?r a cnn:TestResult ; cnn:testExamples ?n }") == [{"n": 8}]
    files = select(store, "SELECT ?path ?epoch WHERE { ?f a cnn:ModelFile ; cnn:filePath ?path "
                          "OPTIONAL { ?f cnn:epoch ?epoch } }")
    assert sorted((f["path"].rsplit("/", 1)[1], f["epoch"]) for f in files) == [
        ("checkpoint.keras", 1), ("checkpoint.keras", 2), ("final.keras", None), ("final.weights.h5", None)]


def test_an_exception_escaping_fit_fails_the_run_and_propagates_unchanged(tmp_path):
    hook, model, (x, y) = sys.excepthook, small_model(), data(12)
    error = MemoryError("out of memory in epoch 2")

    class Explode(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise error

    capture = ProvenanceCallback(tmp_path / "store")  # bare: no `with`, no close()
    with pytest.raises(MemoryError) as raised:
        model.fit(x, y, epochs=3, verbose=0, callbacks=[capture, Explode()])
    assert raised.value is error
    assert capture.run is not None and capture.run.ended  # by the fit wrapper, before anyone closed the callback
    assert_nothing_left(model, hook)
    capture.close()  # outside an `except`: records nothing more
    rows = select(tmp_path / "store", "SELECT ?status ?epochs ?type ?message WHERE { ?run a cnn:Training ; "
                  "cnn:status ?status ; cnn:epochsCompleted ?epochs . ?e a cnn:TrainingError ; "
                  "prov:wasGeneratedBy ?run ; cnn:errorType ?type ; cnn:errorMessage ?message }")
    assert rows == [{"status": "failed", "epochs": 2, "type": "MemoryError", "message": "out of memory in epoch 2"}]


def test_a_bare_one_liner_has_its_epochs_in_the_store_when_fit_returns(tmp_path):
    hook, model, (x, y) = sys.excepthook, small_model(), data(12)
    MODEL_PATCH.reserve()  # as importing cnnprov_rdf.keras does: `model.fit` is looked up before the callback exists
    model.fit(x, y, epochs=3, batch_size=4, verbose=0, callbacks=[ProvenanceCallback(tmp_path / "store")])
    assert_nothing_left(model, hook)
    rows = select(tmp_path / "store", "SELECT ?epoch WHERE { ?e a cnn:EpochResult ; cnn:epoch ?epoch } ORDER BY ?epoch")
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    runs = select(tmp_path / "store", "SELECT ?status ?batch WHERE { ?r a cnn:Training ; cnn:status ?status ; "
                  "prov:used ?s . ?s cnn:hyperparameterName 'batch_size' ; mls:hasValue ?batch }")
    assert runs == [{"status": "finished", "batch": 4}]


def test_a_bare_one_liner_without_the_patch_still_records_its_epochs(tmp_path):
    hook, model, (x, y) = sys.excepthook, small_model(), data(12)
    ProvenanceCallback(tmp_path / "other").close()  # takes over and gives back the hold reserved at import, if any
    assert not MODEL_PATCH.installed
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[ProvenanceCallback(tmp_path / "store")])
    assert_nothing_left(model, hook)
    runs = select(tmp_path / "store", "SELECT ?status ?epochs WHERE { ?r a cnn:Training ; cnn:status ?status ; "
                  "cnn:epochsCompleted ?epochs }")
    assert runs == [{"status": "finished", "epochs": 2}]


def test_several_callbacks_share_the_patch_until_the_last_is_done(tmp_path):
    hook, model, (x, y) = sys.excepthook, small_model(), data(12)
    with Tracker(tmp_path / "store") as tracker:
        first, second = ProvenanceCallback(tracker=tracker, run_name="a"), ProvenanceCallback(tracker=tracker,
                                                                                              run_name="b")
        assert MODEL_PATCH.users == 2
        with first:
            model.fit(x, y, epochs=1, batch_size=6, verbose=0, callbacks=[first, second])
        assert MODEL_PATCH.installed  # `second` is open: it may still see an evaluate or a save
        second.close()
        assert_nothing_left(model, hook)
        tracker.flush()
        names = {r["name"]: r["batch"] for r in select(
            tmp_path / "store", "SELECT ?name ?batch WHERE { ?r a cnn:Training ; cnn:runName ?name ; prov:used ?s . "
            "?s cnn:hyperparameterName 'batch_size' ; mls:hasValue ?batch }")}
        assert names == {"a": 6, "b": 6}


def test_create_fit_evaluate_save_close_records_the_test_and_the_file_then_leaves_nothing(tmp_path):
    """The pattern of `cnnprov demo` and examples/grid_search.py: no `with`, an explicit close()."""
    hook, model, (x, y), (x_test, y_test) = sys.excepthook, small_model(), data(12), data(5, seed=2)
    capture = ProvenanceCallback(tmp_path / "store")
    try:
        model.fit(x, y, epochs=1, batch_size=6, verbose=0, callbacks=[capture])
        model.evaluate(x_test, y_test, verbose=0, callbacks=[capture])
        model.save(tmp_path / "model.keras")
        model.fit(x, y, epochs=2, batch_size=3, verbose=0, callbacks=[capture])  # reused: a second run
    finally:
        capture.close()
    assert_nothing_left(model, hook)
    store = tmp_path / "store"
    assert select(store, "SELECT ?n WHERE { ?r a cnn:TestResult ; cnn:testExamples ?n }") == [{"n": 5}]
    assert [r["path"].rsplit("/", 1)[1] for r in select(store, "SELECT ?path WHERE { ?f cnn:filePath ?path }")] == [
        "model.keras"]
    runs = select(store, "SELECT ?planned ?batch WHERE { ?r a cnn:Training ; cnn:plannedEpochs ?planned ; "
                  "prov:used ?s . ?s cnn:hyperparameterName 'batch_size' ; mls:hasValue ?batch } ORDER BY ?planned")
    assert runs == [{"planned": 1, "batch": 6}, {"planned": 2, "batch": 3}]


def test_a_bare_per_batch_callback_is_collected_when_fit_returns(tmp_path):
    hook, model, (x, y) = sys.excepthook, small_model(), data(12)
    MODEL_PATCH.reserve()
    gc.disable()  # the callback must be in no reference cycle: freed as soon as fit returns
    try:
        model.fit(x, y, epochs=1, batch_size=6, verbose=0,
                  callbacks=[ProvenanceCallback(tmp_path / "s", per_batch=True)])
        assert_nothing_left(model, hook)
    finally:
        gc.enable()


def test_a_forgotten_callback_gives_the_patch_back_when_collected(tmp_path):
    with Tracker(tmp_path / "store") as tracker:
        ProvenanceCallback(tracker=tracker)
        gc.collect()
        assert not MODEL_PATCH.installed


def test_a_callback_takes_a_store_path_or_an_endpoint_url(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPROV_SPOOL_DIR", str(tmp_path / "spool"))
    with ProvenanceCallback("http://127.0.0.1:9") as capture:
        assert capture.tracker.endpoint == "http://127.0.0.1:9/update"
    with pytest.raises(ConfigurationError):
        ProvenanceCallback(tmp_path / "store", endpoint="http://127.0.0.1:9")
    assert not MODEL_PATCH.installed


def test_holds_from_many_threads_are_counted_and_the_last_release_restores_the_originals():
    import threading

    from cnnprov_rdf.capture.keras_patch import CallObserver

    observers = [CallObserver() for _ in range(8)]
    MODEL_PATCH.hold(observers[0]).release()  # takes over and gives back the hold reserved at import, if any
    start = threading.Barrier(len(observers))

    def churn(observer: CallObserver) -> None:
        start.wait()
        for _ in range(50):
            hold = MODEL_PATCH.hold(observer)
            assert MODEL_PATCH.installed and keras.Model.fit is not RESOLVED["fit"]
            hold.release()
            hold.release()  # a second release does nothing

    threads = [threading.Thread(target=churn, args=(observer,)) for observer in observers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not MODEL_PATCH.installed and MODEL_PATCH.users == 0
    assert {name: getattr(keras.Model, name) for name in PATCHED} == RESOLVED
