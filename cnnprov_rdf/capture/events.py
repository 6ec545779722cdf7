"""Training events: plain, immutable records of what happened, with no RDF in them.

Capture code (the tracker, the Keras callback) creates these; `mapping.py` turns each into quads.
Epoch numbers are 1-based, as Keras prints them ("Epoch 1/3").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

#: A hyperparameter value as it is stored: a typed literal of one of these Python types.
HyperparameterValue = bool | int | float | str


@dataclass(frozen=True)
class Agents:
    """Who and what ran the training: software versions, device, user and host."""

    software_version: str
    python_version: str
    framework_name: str | None = None
    framework_version: str | None = None
    keras_version: str | None = None
    device_kind: str = "CPU"
    device_name: str = ""
    host_name: str = ""
    user_name: str = ""


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    started_at: datetime
    agents: Agents
    name: str | None = None
    planned_epochs: int | None = None


@dataclass(frozen=True)
class HyperparametersRecorded:
    run_id: str
    values: dict[str, HyperparameterValue]


@dataclass(frozen=True)
class DatasetRecorded:
    run_id: str
    name: str
    location: str | None = None
    train_fraction: float | None = None
    train_examples: int | None = None
    test_examples: int | None = None
    validation_fraction: float | None = None


@dataclass(frozen=True)
class LayerInfo:
    index: int
    name: str
    kind: str
    parameter_count: int = 0
    filters: int | None = None
    kernel_size: tuple[int, ...] | None = None
    strides: tuple[int, ...] | None = None
    units: int | None = None
    activation: str | None = None
    dropout_rate: float | None = None


@dataclass(frozen=True)
class ArchitectureRecorded:
    run_id: str
    model_name: str
    parameter_count: int
    layers: tuple[LayerInfo, ...]


@dataclass(frozen=True)
class ScheduleRecorded:
    """The learning-rate schedule in force: step decay multiplies the rate by `factor` every `every` epochs."""

    run_id: str
    kind: str
    initial_rate: float | None = None
    factor: float | None = None
    every: int | None = None


@dataclass(frozen=True)
class EpochEnded:
    run_id: str
    epoch: int
    metrics: dict[str, float]
    elapsed_seconds: float
    ended_at: datetime
    learning_rate: float | None = None


@dataclass(frozen=True)
class BatchEnded:
    """One training batch finished (opt-in per-batch capture); `batch` is 1-based within its epoch.

    Keras reports batch metrics as running means over the epoch so far, and so are these values.
    """

    run_id: str
    epoch: int
    batch: int
    metrics: dict[str, float]
    ended_at: datetime


@dataclass(frozen=True)
class LearningRateChanged:
    """An adaptation: after `after_epoch` the rate went from `old_rate` to `new_rate`."""

    run_id: str
    number: int
    after_epoch: int
    old_rate: float
    new_rate: float
    at: datetime
    schedule_known: bool = False


@dataclass(frozen=True)
class TestingDone:
    run_id: str
    number: int
    metrics: dict[str, float]
    started_at: datetime
    ended_at: datetime
    test_examples: int | None = None
    used_split: bool = False


@dataclass(frozen=True)
class ModelFileSaved:
    run_id: str
    path: str
    byte_size: int
    sha256: str
    saved_at: datetime
    epoch: int | None = None


@dataclass(frozen=True)
class RunFailed:
    run_id: str
    error_type: str
    message: str
    at: datetime


@dataclass(frozen=True)
class RunSummary:
    """What a run's end states: its epochs, wall time, final and best metrics, and `epoch_seconds`, the elapsed
    seconds of its recorded epochs (each epoch's value once, as its graph holds them; for the run index's
    epoch-time statistics)."""

    epochs_completed: int
    total_training_seconds: float
    final_metrics: dict[str, float] = field(default_factory=dict)
    best_metrics: dict[str, float] = field(default_factory=dict)
    epoch_seconds: tuple[float, ...] = ()


@dataclass(frozen=True)
class RunEnded:
    """Training ended: `status` is "finished" or "failed"."""

    run_id: str
    ended_at: datetime
    status: str
    summary: RunSummary


@dataclass(frozen=True)
class SearchStarted:
    """A hyperparameter search began: its tuner, objective (a metric and "maximize" or "minimize") and space.

    `space` maps each hyperparameter the search varies to a description of its range (a JSON text)."""

    search_id: str
    started_at: datetime
    name: str
    tuner: str
    objective: str
    direction: str
    space: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchEnded:
    search_id: str
    ended_at: datetime


@dataclass(frozen=True)
class TrialStarted:
    """A run is a trial of a search. `sampled` maps each hyperparameter whose value the search chose (recorded
    as the run's setting of it) to a description of its range (a JSON text, or "" if unknown)."""

    run_id: str
    search_id: str
    trial_id: str
    sampled: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialEnded:
    """The trial a run belongs to ended: `status` is "completed", "pruned" or "failed"."""

    run_id: str
    search_id: str
    status: str
    objective_value: float | None = None


#: The trial statuses a search records.
TRIAL_STATUSES = ("completed", "pruned", "failed")

#: Events about a search as a whole (in the search's graph, not a run's).
SearchEvent = SearchStarted | SearchEnded

Event = (
    RunStarted
    | HyperparametersRecorded
    | DatasetRecorded
    | ArchitectureRecorded
    | ScheduleRecorded
    | EpochEnded
    | BatchEnded
    | LearningRateChanged
    | TestingDone
    | ModelFileSaved
    | RunFailed
    | RunEnded
    | SearchStarted
    | SearchEnded
    | TrialStarted
    | TrialEnded
)
