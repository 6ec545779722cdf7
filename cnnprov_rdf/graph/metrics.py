"""The known per-epoch values: one table from a Keras metric name to what the graph, the queries and the plots
know about it. Every other list of metric names is derived from `METRICS`.

A Keras metric outside the table (`top_5`, …) is still recorded, as a `cnn:MetricValue` node.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One per-epoch value: its name (the Keras log key, and its column in `epoch-metrics`), its human label,
    the `cnn:` properties (local names) of an epoch's value and of a run's final and best values, and
    whether a higher value is better (None: not a quality measure)."""

    name: str
    label: str
    epoch_property: str
    final_property: str | None = None
    best_property: str | None = None
    higher_is_better: bool | None = None
    logged: bool = True
    """A Keras metric, in `EpochEnded.metrics`; False for a field of the epoch event itself."""
    compare_column: str | None = None
    """Its column stem in `compare-runs` (`seconds_a`) when that is not its name."""

    @property
    def validation(self) -> bool:
        """Measured on the validation data (Keras prefixes those metrics with `val_`)."""
        return self.name.startswith("val_")

    @property
    def properties(self) -> tuple[str, ...]:
        """Every `cnn:` property (local name) the table gives it."""
        return tuple(p for p in (self.epoch_property, self.final_property, self.best_property) if p)


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("loss", "Training loss", "loss", "finalLoss", higher_is_better=False),
        Metric("accuracy", "Training accuracy", "accuracy", "finalAccuracy", "bestAccuracy", higher_is_better=True),
        Metric("val_loss", "Validation loss", "valLoss", "finalValLoss", "bestValLoss", higher_is_better=False),
        Metric(
            "val_accuracy", "Validation accuracy", "valAccuracy", "finalValAccuracy", "bestValAccuracy",
            higher_is_better=True,
        ),
        Metric("learning_rate", "Learning rate", "learningRate", logged=False),
        Metric("elapsed_seconds", "Epoch time (s)", "elapsedSeconds", logged=False, compare_column="seconds"),
    )
}

#: The per-epoch fields, in table order: the value columns of `epoch-metrics`, and what can be plotted.
EPOCH_FIELDS: tuple[str, ...] = tuple(METRICS)

#: The per-epoch column stems of `compare-runs` (`loss_a`, `loss_b`, …).
COMPARE_FIELDS: tuple[str, ...] = tuple(m.compare_column or m.name for m in METRICS.values())

#: Keras metrics that have their own property on an epoch or batch result: name → `cnn:` property.
STANDARD_METRICS: dict[str, str] = {m.name: m.epoch_property for m in METRICS.values() if m.logged}

#: The Keras metrics measured on the training data (not on the validation data).
TRAINING_METRICS: tuple[str, ...] = tuple(m.name for m in METRICS.values() if m.logged and not m.validation)

#: Metric name → `cnn:` property of the run's final value.
FINAL_PROPERTIES: dict[str, str] = {m.name: m.final_property for m in METRICS.values() if m.final_property}

#: Metric name → `cnn:` property of the run's best value.
BEST_PROPERTIES: dict[str, str] = {m.name: m.best_property for m in METRICS.values() if m.best_property}

#: Every `cnn:` property the table names (all of them `xsd:double` valued).
METRIC_PROPERTIES: tuple[str, ...] = tuple(p for m in METRICS.values() for p in m.properties)


def higher_is_better(name: str) -> bool | None:
    """Whether a higher value of metric `name` is better; None when unknown or not a quality measure."""
    metric = METRICS.get(name)
    return None if metric is None else metric.higher_is_better


def best_tracked(*, higher: bool) -> tuple[str, ...]:
    """The metrics whose best value a run records, and whose best is their highest (`higher`) or lowest value."""
    return tuple(name for name, m in METRICS.items() if m.best_property and m.higher_is_better is higher)


def label(name: str) -> str:
    """A metric's human label (its name when unknown)."""
    metric = METRICS.get(name)
    return name if metric is None else metric.label


def summary_properties(final: dict[str, float], best: dict[str, float]) -> Iterator[tuple[str, float]]:
    """(property local name, value) of a run summary's final and best values of the metrics the table knows:
    what the run node (`cnn:`) and the run index (`idx:`) both state."""
    for table, metrics in ((FINAL_PROPERTIES, final), (BEST_PROPERTIES, best)):
        for name, value in metrics.items():
            if name in table:
                yield table[name], value
