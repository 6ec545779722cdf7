"""Locating the ontology and query files, in a source checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    bundled = _PACKAGE_DIR / "_data" / name
    return bundled if bundled.is_dir() else _PACKAGE_DIR.parent / name


def ontology_file() -> Path:
    return _data_dir("ontology") / "cnnprov.ttl"


def queries_dir() -> Path:
    return _data_dir("queries")
