"""yProv4ML: its PROV-JSON run document and its metric side files, as one of our runs.

`SOURCE` is the run's PROV-JSON file (`prov_<experiment>_GR<rank>_<id>.json`) or its experiment folder. The
document itself is imported as foreign PROV (`interchange.import_file`: its non-IRI prefixes resolved, its string
times typed, in a graph of its own); beside it, the run is mapped onto our ontology as `yprov4ml-<experiment>`:
the root activity's start and end; hyperparameters (`provml:HyperParameter` entities, `prov:label` and
`prov:value`, typed); and the metric files (`metrics_GR*/*.csv`: `name,context,source` then `epoch,value,timestamp`
lines) as epoch results — context TRAINING gives `loss`, `accuracy`, …, VALIDATION `val_loss`, `val_accuracy`;
an epoch with several values gets their mean; epochs counted from 0 are shifted to 1. The mapped run is
`prov:wasInfluencedBy` the document's root activity and the document file. Metrics in netCDF or Zarr files
(yProv4ML's other formats) are not read: a warning names them. Times without an offset are read as UTC.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from statistics import fmean
from typing import Any
from urllib.parse import quote

from pyoxigraph import NamedNode

from ...errors import ProvImportError
from ...graph.iris import RunIris
from ...graph.vocabulary import PROV
from ..interchange import import_file
from ..producers import is_iri, parse_time
from . import METRIC_ALIASES, ForeignImport, ForeignRun, typed_value, write_runs

_CONTEXT_PREFIX = {"training": "", "train": "", "validation": "val_", "valid": "val_", "eval": "val_"}
_MAX_METRIC_FILES = 10_000


def _document_file(source: Path) -> Path:
    if source.is_file():
        return source
    if source.is_dir():
        candidates = sorted(source.glob("prov_*.json")) or sorted(source.glob("*.json"))
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            names = ", ".join(c.name for c in candidates[:5])
            raise ProvImportError(f"{source}: several PROV-JSON files ({names}); name one")
    raise ProvImportError(f"{source}: no yProv4ML PROV-JSON file (prov_*.json) there")


def _value(raw: Any) -> Any:
    return raw.get("$") if isinstance(raw, dict) else raw


def _time(raw: Any) -> datetime | None:
    text = _value(raw)
    parsed = parse_time(str(text)) if text is not None else None
    if parsed is None:
        return None
    moment = datetime.fromisoformat(parsed.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _root(document: dict[str, Any], file: Path) -> tuple[str, dict[str, Any]]:
    activities = document.get("activity")
    if not isinstance(activities, dict):
        raise ProvImportError(f"{file}: not a yProv4ML run document (no activities)")
    for name, attributes in activities.items():
        if isinstance(attributes, dict) and "yprov:experiment_name" in attributes:
            return name, attributes
    raise ProvImportError(f"{file}: not a yProv4ML run document (no activity with yprov:experiment_name)")


def _metric_name(name: str, context: str) -> str:
    kind = context.rsplit(".", 1)[-1].strip().lower()
    prefix = _CONTEXT_PREFIX.get(kind)
    name = METRIC_ALIASES.get(name, name)
    if prefix is None:
        return f"{kind}_{name}" if kind else name
    return name if name.startswith(prefix) else prefix + name


def _read_metrics(folder: Path, warnings: list[str]) -> tuple[dict[int, dict[str, float]], dict[int, datetime]]:
    values: dict[int, dict[str, list[float]]] = {}
    times: dict[int, datetime] = {}
    files = sorted(folder.glob("metrics_GR*/*"))[:_MAX_METRIC_FILES]
    for path in files:
        if path.suffix != ".csv":
            warnings.append(f"{path.name}: yProv4ML metric files in {path.suffix or 'this'} format are not read")
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        if not rows or len(rows[0]) < 2:
            warnings.append(f"{path.name}: no yProv4ML metric header (name,context,source); skipped")
            continue
        name = _metric_name(rows[0][0], rows[0][1])
        for line, row in enumerate(rows[1:], start=2):
            try:
                epoch, value = int(row[0]), float(row[1])
                stamp = int(float(row[2])) if len(row) > 2 and row[2] else None
            except (ValueError, IndexError):
                warnings.append(f"{path.name}, line {line}: not `epoch,value,timestamp`; skipped")
                continue
            values.setdefault(epoch, {}).setdefault(name, []).append(value)
            if stamp:
                at = datetime.fromtimestamp(stamp / 1000, tz=UTC)
                times[epoch] = max(times.get(epoch, at), at)
    shift = 1 if values and min(values) == 0 else 0
    epochs = {e + shift: {n: fmean(v) for n, v in metrics.items()} for e, metrics in values.items()}
    return epochs, {e + shift: t for e, t in times.items()}


def import_yprov4ml(store_path: str | os.PathLike[str], source: str | os.PathLike[str]) -> ForeignImport:
    """Import one yProv4ML run (its PROV-JSON file or experiment folder) into the store at `store_path`."""
    file = _document_file(Path(source))
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProvImportError(f"{file}: cannot read the yProv4ML document: {error}") from error
    if not isinstance(document, dict):
        raise ProvImportError(f"{file}: not a yProv4ML run document (not a JSON object)")
    name, attributes = _root(document, file)
    started = _time(attributes.get("prov:startedAtTime"))
    if started is None:
        raise ProvImportError(f"{file}: the run's activity {name!r} has no start time")
    imported = import_file(store_path, file, fmt="provjson")  # the document itself, in its own graph
    warnings = list(imported.warnings)
    epochs, times = _read_metrics(file.parent, warnings)
    ended = _time(attributes.get("prov:endedAtTime"))
    params: dict[str, Any] = {}
    for entity in (document.get("entity") or {}).values():
        if isinstance(entity, dict) and str(_value(entity.get("prov:type"))).endswith(":HyperParameter"):
            label, value = _value(entity.get("prov:label")), _value(entity.get("prov:value"))
            if label is not None and value is not None:
                params[str(label)] = typed_value(str(value))
    experiment = str(_value(attributes.get("yprov:experiment_name")) or name)
    run = ForeignRun(
        tool="yprov4ml", native_id=quote(experiment, safe=""), started_at=started, name=experiment,
        params=params, epochs=epochs, epoch_times=times, ended_at=ended, status="finished" if ended else None,
        source=file.resolve().as_uri(),
    )
    run.extra.append((RunIris(run.run_id).run, PROV.wasInfluencedBy, _root_iri(document, name, imported.graph)))
    return write_runs(store_path, "yprov4ml", [run], warnings=warnings)


def _root_iri(document: dict[str, Any], name: str, graph: str) -> NamedNode:
    """The IRI the imported document gives the root activity (its default namespace, resolved as on import)."""
    prefixes = document.get("prefix") or {}
    prefix, _, local = name.rpartition(":") if ":" in name else ("default", "", name)
    namespace = str(prefixes.get(prefix, ""))
    if not is_iri(namespace):
        namespace = f"{graph}/{quote(namespace, safe='')}/"
    return NamedNode(namespace + local)
