"""Events as N-Quads text, for the writer: a fast path for epoch and batch records, the mapping for the rest.

`to_quads` builds a pyoxigraph object per term, about 150 µs for an epoch record; the writer only needs the
quads as text to hand to the store's parser, so an epoch or batch result whose metrics are all standard ones
is written here with string templates (about a tenth of that). The quads are the same as `to_quads` gives
(`tests/test_nquads.py` checks it on arbitrary events); any other event, or an epoch with a custom metric
(which also describes a shared measure), goes through `to_quads`, returned as quads so that a sink can leave
out shared graphs it already holds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from pyoxigraph import NamedNode, Quad

from ..capture.events import BatchEnded, EpochEnded, Event
from .iris import RunIris
from .mapping import to_quads
from .metrics import STANDARD_METRICS
from .vocabulary import CNN, DEFAULT_BASE, PROV, RDF_TYPE, XSD

_TYPE = str(RDF_TYPE)
_ENTITY = str(PROV.Entity)
_GENERATED_BY = str(PROV.wasGeneratedBy)
_AT = str(PROV.generatedAtTime)
_EPOCH = str(CNN.epoch)
_BATCH = str(CNN.batch)
_ELAPSED = str(CNN.elapsedSeconds)
_RATE = str(CNN.learningRate)
_EPOCH_RESULT = str(CNN.EpochResult)
_BATCH_RESULT = str(CNN.BatchResult)
_METRIC = {name: str(CNN.term(prop)) for name, prop in STANDARD_METRICS.items()}
_DOUBLE = f'"^^{XSD.double}'
_INTEGER = f'"^^{XSD.integer}'
_DATE_TIME = f'"^^{XSD.dateTime}'


def double_lexical(value: float) -> str:
    """The lexical form `literals.double` writes (NaN, INF, -INF, else `repr`)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return repr(value)


def date_time_lexical(value: datetime) -> str:
    """The lexical form `literals.date_time` writes (UTC, `Z`)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Encoded:
    """A batch of events: `text` (N-Quads, `text_quads` statements) plus `quads` from the general mapping."""

    text: list[str] = field(default_factory=list)
    text_quads: int = 0
    quads: list[Quad] = field(default_factory=list)

    def data(self) -> bytes:
        return "".join(self.text).encode("utf-8")

    def __len__(self) -> int:
        return self.text_quads + len(self.quads)


class _RunText:
    """A run's IRIs as N-Triples terms, minted (and so validated) once by pyoxigraph."""

    __slots__ = ("graph", "prefix", "run")

    def __init__(self, run_id: str, base: str) -> None:
        iris = RunIris(run_id, base)
        self.run, self.graph, self.prefix = str(iris.run), str(iris.graph), iris.prefix
        NamedNode(self.prefix + "/epoch/1")  # a prefix that cannot carry a path raises here, not in the store


class Encoder:
    """Turns events into `Encoded` batches; keeps each run's IRIs (bounded: cleared past `max_runs`)."""

    def __init__(self, base: str = DEFAULT_BASE, max_runs: int = 1_000) -> None:
        self.base = base
        self._runs: dict[str, _RunText] = {}
        self._max_runs = max_runs

    def _run(self, run_id: str) -> _RunText:
        run = self._runs.get(run_id)
        if run is None:
            if len(self._runs) >= self._max_runs:
                self._runs.clear()
            run = self._runs[run_id] = _RunText(run_id, self.base)
        return run

    def add(self, event: Event, into: Encoded) -> None:
        """Add one event's quads to `into`; raises (and adds nothing) for an event that cannot be mapped."""
        if isinstance(event, EpochEnded | BatchEnded) and all(name in _METRIC for name in event.metrics):
            lines = self._result(event)
            into.text.append("".join(lines))
            into.text_quads += len(lines)
        else:
            into.quads.extend(to_quads(event, self.base))

    def encode(self, events: Iterable[Event]) -> Encoded:
        encoded = Encoded()
        for event in events:
            self.add(event, encoded)
        return encoded

    def _result(self, event: EpochEnded | BatchEnded) -> list[str]:
        run = self._run(event.run_id)
        tail = f" {run.graph} .\n"
        if isinstance(event, EpochEnded):
            node = f"<{run.prefix}/epoch/{quote(str(event.epoch), safe='')}>"
            kind = _EPOCH_RESULT
        else:
            node = f"<{run.prefix}/epoch/{quote(str(event.epoch), safe='')}/batch/{quote(str(event.batch), safe='')}>"
            kind = _BATCH_RESULT
        lines = [
            f"{node} {_TYPE} {kind}{tail}",
            f"{node} {_TYPE} {_ENTITY}{tail}",
            f"{node} {_GENERATED_BY} {run.run}{tail}",
            f'{node} {_EPOCH} "{int(event.epoch)}{_INTEGER}{tail}',
        ]
        if isinstance(event, BatchEnded):
            lines.append(f'{node} {_BATCH} "{int(event.batch)}{_INTEGER}{tail}')
        lines.append(f'{node} {_AT} "{date_time_lexical(event.ended_at)}{_DATE_TIME}{tail}')
        if isinstance(event, EpochEnded):
            lines.append(f'{node} {_ELAPSED} "{double_lexical(float(event.elapsed_seconds))}{_DOUBLE}{tail}')
            if event.learning_rate is not None:
                lines.append(f'{node} {_RATE} "{double_lexical(float(event.learning_rate))}{_DOUBLE}{tail}')
        for name, value in event.metrics.items():
            lines.append(f'{node} {_METRIC[name]} "{double_lexical(float(value))}{_DOUBLE}{tail}')
        return lines
