"""Literals ⇄ Python values: the typed literals the mapping writes, and the plain values queries return."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pyoxigraph import Literal, NamedNode

from ..capture.events import HyperparameterValue
from .vocabulary import XSD

# --- Python → literal -------------------------------------------------------------------------------


def double(value: float) -> Literal:
    """An `xsd:double`; NaN and infinities use the XSD lexical forms `NaN`, `INF`, `-INF`."""
    value = float(value)
    if math.isnan(value):
        lexical = "NaN"
    elif math.isinf(value):
        lexical = "INF" if value > 0 else "-INF"
    else:
        lexical = repr(value)
    return Literal(lexical, datatype=XSD.double)


def integer(value: int) -> Literal:
    """An `xsd:integer` (of any size)."""
    return Literal(str(int(value)), datatype=XSD.integer)


def string(value: str) -> Literal:
    """An `xsd:string`; undecodable bytes kept by Python as surrogates (odd file names) become `\\udcXX` text."""
    return Literal(str(value).encode("utf-8", "backslashreplace").decode("utf-8"))


def boolean(value: bool) -> Literal:
    """An `xsd:boolean`."""
    return Literal("true" if value else "false", datatype=XSD.boolean)


def date_time(value: datetime) -> Literal:
    """An `xsd:dateTime` in UTC, so it always carries a valid time zone (naive times are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return Literal(value.astimezone(UTC).isoformat().replace("+00:00", "Z"), datatype=XSD.dateTime)


def typed(value: HyperparameterValue) -> Literal:
    """A hyperparameter value as the literal of its Python type."""
    if isinstance(value, bool):
        return boolean(value)
    if isinstance(value, int):
        return integer(value)
    if isinstance(value, float):
        return double(value)
    return string(value)


# --- literal → Python -------------------------------------------------------------------------------


#: How a literal of each XSD datatype becomes a Python value (others stay strings).
_CONVERTERS: dict[NamedNode, Callable[[str], Any]] = {
    **{XSD.term(name): int for name in ("integer", "int", "long", "short", "nonNegativeInteger")},
    **{XSD.term(name): float for name in ("double", "float", "decimal")},  # float() reads INF, -INF and NaN
    XSD.boolean: lambda lexical: lexical in ("true", "1"),
}


def python_value(term: Any) -> Any:
    """A plain Python value for a result term: numbers as numbers, booleans as bools, IRIs, dates and other
    literals as strings (their lexical form), None for an unbound one."""
    if term is None:
        return None
    if isinstance(term, Literal):
        convert = _CONVERTERS.get(term.datatype)
        return term.value if convert is None else convert(term.value)
    return term.value
