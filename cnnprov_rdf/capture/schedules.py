"""Learning-rate schedules that describe themselves, so their parameters can be recorded."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigurationError


@dataclass(frozen=True)
class StepDecay:
    """Step decay: the rate is multiplied by `factor` every `every` epochs.

    Called with Keras' 0-based epoch index (as `keras.callbacks.LearningRateScheduler` does), it returns
    `initial * factor ** (epoch // every)`: with `every=2` epochs 1-2 (as Keras prints them) run at
    `initial` and the rate drops after epoch 2.
    """

    initial: float
    factor: float
    every: int

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ConfigurationError(f"StepDecay.every must be >= 1, got {self.every}")
        if not self.factor > 0:
            raise ConfigurationError(f"StepDecay.factor must be > 0, got {self.factor}")

    def __call__(self, epoch: int, current_rate: float | None = None) -> float:
        return float(self.initial * self.factor ** (epoch // self.every))
