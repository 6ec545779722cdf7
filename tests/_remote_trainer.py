"""Remote-capture helper: trains the scaled-down AlexNet into a SPARQL endpoint; run as a script by tests."""

from __future__ import annotations

import json
import sys


def train_tiny_endpoint(endpoint: str, *, epochs: int = 3, extra_callbacks: list | None = None, seed: int = 1):
    """Like conftest's `train_tiny_alexnet`, but `ProvenanceCallback(endpoint=...)`; returns (run id, history)."""
    import keras

    from cnnprov_rdf.capture.schedules import StepDecay
    from cnnprov_rdf.demo.alexnet import build_alexnet
    from cnnprov_rdf.demo.datasets import synthetic_shapes
    from cnnprov_rdf.keras import ProvenanceCallback

    keras.utils.set_random_seed(seed)
    data = synthetic_shapes(n_per_class=4, num_classes=2, size=64, split=0.75, seed=seed)
    model = build_alexnet((64, 64, 3), data.num_classes, width=0.125)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with ProvenanceCallback(endpoint=endpoint, run_name=f"remote-{seed}", dataset={"name": data.name}) as capture:
        callbacks = [keras.callbacks.LearningRateScheduler(StepDecay(0.01, 0.5, 2)), capture, *(extra_callbacks or [])]
        history = model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=4, verbose=0, callbacks=callbacks)
        model.evaluate(data.x_test, data.y_test, verbose=0, callbacks=[capture])
    return capture.run.run_id, history.history


if __name__ == "__main__":
    run_id, history = train_tiny_endpoint(sys.argv[1], epochs=int(sys.argv[2]), seed=int(sys.argv[3]))
    print(json.dumps({"run_id": run_id, "history": history}), flush=True)
