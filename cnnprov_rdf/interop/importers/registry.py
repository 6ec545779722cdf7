"""The importers of other tools' runs, by the name `cnnprov import --from` takes."""

from __future__ import annotations

import os
from collections.abc import Callable

from ...errors import ProvImportError
from . import ForeignImport
from .mlflow import import_mlflow
from .yprov4ml import import_yprov4ml

IMPORTERS: dict[str, Callable[[str | os.PathLike[str], str | os.PathLike[str]], ForeignImport]] = {
    "mlflow": import_mlflow,
    "yprov4ml": import_yprov4ml,
}

#: The tools whose native records `import_foreign` maps onto our ontology.
FOREIGN_TOOLS = tuple(IMPORTERS)


def import_foreign(store_path: str | os.PathLike[str], tool: str, source: str | os.PathLike[str]) -> ForeignImport:
    """Import another tool's runs from `source` into the store at `store_path` (`tool`: one of FOREIGN_TOOLS)."""
    if tool not in IMPORTERS:
        raise ProvImportError(f"unknown tool {tool!r}; choose one of {', '.join(FOREIGN_TOOLS)}")
    return IMPORTERS[tool](store_path, source)
