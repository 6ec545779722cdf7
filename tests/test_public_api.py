"""The public API, pinned: the names users import and the parameters they pass. A change here is a release note."""

from __future__ import annotations

import inspect

import cnnprov_rdf

PUBLIC = [
    "CnnprovError",
    "QueryResult",
    "Run",
    "StepDecay",
    "Tracker",
    "export",
    "open_for_reading",
    "open_for_writing",
    "run_query",
]


def parameters(function: object) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]  # type: ignore[arg-type]


def test_the_package_exports_exactly_the_public_names() -> None:
    assert sorted(cnnprov_rdf.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(cnnprov_rdf, name) is not None


def test_the_keras_callback_is_importable_from_its_public_path() -> None:
    from cnnprov_rdf.capture.keras import ProvenanceCallback as Implementation
    from cnnprov_rdf.keras import ProvenanceCallback

    assert ProvenanceCallback is Implementation
    wanted = ["store", "tracker", "run_name", "hyperparameters", "dataset", "endpoint", "per_batch"]
    assert parameters(ProvenanceCallback.__init__)[: len(wanted)] == wanted


def test_the_capture_api_keeps_its_parameters() -> None:
    assert parameters(cnnprov_rdf.Tracker.__init__)[:1] == ["store"]
    assert {"base", "endpoint", "linger", "max_pending"} <= set(parameters(cnnprov_rdf.Tracker.__init__))
    assert parameters(cnnprov_rdf.Tracker.start_run) == ["name", "planned_epochs", "agents", "run_id"]
    run_methods = {
        "log_hyperparameters": ["values", "more"],
        "log_dataset": ["name", "location", "train_fraction", "train_examples", "test_examples",
                        "validation_fraction"],
        "log_epoch": ["epoch", "metrics", "elapsed_seconds", "learning_rate"],
        "log_learning_rate": ["epoch", "rate", "at"],
        "log_test": ["metrics", "started_at", "test_examples"],
        "log_model_file": ["path", "epoch"],
        "fail": ["error"],
        "end": [],
    }
    for method, wanted in run_methods.items():
        assert parameters(getattr(cnnprov_rdf.Run, method)) == wanted, method


def test_the_query_and_export_api_keeps_its_parameters() -> None:
    assert parameters(cnnprov_rdf.run_query) == ["store", "name", "queries_dir", "params"]
    assert parameters(cnnprov_rdf.export) == ["store", "format", "runs", "output", "named_graphs"]
    assert parameters(cnnprov_rdf.open_for_reading) == ["path"]
    assert parameters(cnnprov_rdf.open_for_writing) == ["path"]
    assert {"columns", "rows"} <= {f for f in vars(cnnprov_rdf.QueryResult).get("__dataclass_fields__", {})} | set(
        dir(cnnprov_rdf.QueryResult))
