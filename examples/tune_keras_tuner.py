import keras
import keras_tuner
import numpy as np

from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.tuning import record_search

x = np.random.default_rng(0).random((48, 32, 32, 3), dtype=np.float32)
y = np.random.default_rng(1).integers(0, 2, 48)


def build(hp):
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(hp.Choice("filters", [8, 16]), 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


tuner = keras_tuner.RandomSearch(build, objective="val_accuracy", max_trials=3, project_name="tiny-cnn",
                                 overwrite=True)
record_search(tuner, store="provenance")  # before search: every trial (every execution) becomes a run
tuner.search(x, y, epochs=2, validation_split=0.25, verbose=0)

for row in run_query("provenance", "search-trials"):  # the latest search, best trial first
    print(row)
