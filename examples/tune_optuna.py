import keras
import numpy as np
import optuna

from cnnprov_rdf.keras import ProvenanceCallback
from cnnprov_rdf.query.execute import run_query

x = np.random.default_rng(0).random((48, 32, 32, 3), dtype=np.float32)
y = np.random.default_rng(1).integers(0, 2, 48)


def objective(trial):
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(trial.suggest_categorical("filters", [8, 16]), 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(trial.suggest_float("learning_rate", 1e-4, 1e-2, log=True)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with ProvenanceCallback(store="provenance", trial=trial) as capture:  # the study is the search
        history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0, callbacks=[capture])
    if history.history["val_accuracy"][-1] < 0.2:
        raise optuna.TrialPruned()  # recorded as a pruned trial
    return history.history["val_loss"][-1]


study = optuna.create_study(study_name="tiny-cnn-study", direction="minimize")
study.optimize(objective, n_trials=3)

for row in run_query("provenance", "search-trials", search="tiny-cnn-study"):
    print(row)
