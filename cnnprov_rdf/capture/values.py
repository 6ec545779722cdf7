"""Odd values a training hands to capture, made storable: capture never raises into training.

Numbers are recognised by protocol, not by type, so numpy, TensorFlow and other number-like scalars are
stored as numbers without importing them: a boolean (`bool`, or a scalar whose `dtype.kind` is "b", such as
numpy's `bool_`) stays a boolean, an `numbers.Integral` or anything with `__index__` an integer, a
`numbers.Real` or anything with `__float__` a float. A metric value that is no number (None, "n/a", a dict,
bytes, a complex, an integer too large for a double) is skipped; a hyperparameter value of another type is
stored as its text. Either way one warning per run and name says so, and the rest of the event is kept. A name
that is not text becomes its text, and a lone surrogate in it (an undecodable byte kept by Python) is
escaped as `\\udcXX`, so it can become part of an IRI.
"""

from __future__ import annotations

import functools
import logging
import math
import numbers
import operator
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

log = logging.getLogger("cnnprov_rdf")

F = TypeVar("F", bound=Callable[..., Any])
Setting = bool | int | float | str


def clean_name(name: object) -> str:
    """A name as text with lone surrogates escaped."""
    text = name if isinstance(name, str) else str(name)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def clean_text(value: object) -> str:
    """Any value as text with lone surrogates escaped (bytes decoded as UTF-8, undecodable bytes escaped)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "backslashreplace")
    return clean_name(value)


def _is_boolean(value: object) -> bool:
    return isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", None) == "b"


def as_setting(value: object) -> tuple[Setting, bool]:
    """A hyperparameter value as a bool, int, float or str, and whether it was stored as its own type."""
    if _is_boolean(value):
        return bool(value), True
    if isinstance(value, str):
        return clean_text(value), True
    if isinstance(value, numbers.Integral) or (hasattr(value, "__index__") and not isinstance(value, float)):
        try:
            return operator.index(value), True
        except TypeError:
            pass
    if isinstance(value, numbers.Real) or (hasattr(value, "__float__") and not isinstance(value, complex)):
        try:
            return float(value), True
        except (TypeError, ValueError, OverflowError):
            pass
    try:
        return clean_text(value), False
    except Exception:  # a __str__ that raises
        return f"<{type(value).__name__}>", False


def as_number(value: object) -> float | None:
    """A metric value as a float (a numeric string too), or None when it is no number a double can hold."""
    if isinstance(value, bytes | bytearray | complex) or value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    if math.isinf(number) and isinstance(value, numbers.Integral):
        return None  # an integer too large for a double: inf would be wrong
    return number


def as_count(value: object) -> int | None:
    """An epoch or batch number (any integer-like value, or a float holding an integer), else None."""
    if _is_boolean(value):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        pass
    number = as_number(value)
    return int(number) if number is not None and math.isfinite(number) and number.is_integer() else None


class Warnings:
    """One warning per run and (kind, name): a bad value every epoch does not flood the log."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.seen: set[tuple[str, str]] = set()

    def once(self, kind: str, name: str, message: str, *args: object) -> None:
        if (kind, name) not in self.seen:
            self.seen.add((kind, name))
            log.warning("cnnprov-rdf: run %s: " + message + " (not repeated for this name)", self.run_id, *args)


def clean_metrics(values: Mapping[Any, Any] | Any, warnings: Warnings, what: str) -> dict[str, float]:
    """The metrics that are numbers, by clean name; one warning per skipped name."""
    try:
        items = list(values.items())
    except Exception:  # not a mapping at all
        warnings.once(what, "", "%s: %r is not a mapping of metric names to values; nothing recorded", what,
                      type(values).__name__)
        return {}
    kept: dict[str, float] = {}
    for key, value in items:
        name = clean_name(key)
        number = as_number(value)
        if number is None:
            warnings.once(what, name, "%s metric %r: %s is not a number; skipped", what, name,
                          describe(value))
        else:
            kept[name] = number
    return kept


def describe(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def never_raises(method: F) -> F:
    """A `Run` method that logs a warning instead of raising: capture never stops a training."""

    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as error:
            log.warning("cnnprov-rdf: %s failed and was not recorded: %s: %s", method.__name__,
                        type(error).__name__, error)
            return None

    return guarded  # type: ignore[return-value]
