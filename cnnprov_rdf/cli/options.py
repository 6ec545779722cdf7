"""Options shared by several commands: the store, runs, query parameters and query sources."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..query.sources import as_source
from ..storage.destination import STORE_ENV, default_store_path


def store_parent() -> argparse.ArgumentParser:
    """`--store PATH` (default `$CNNPROV_STORE` or `./provenance`)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--store", type=Path, default=default_store_path(),
        help=f"provenance store directory (default: ${STORE_ENV} or ./provenance)",
    )
    return parent


def runs_parent() -> argparse.ArgumentParser:
    """`--run RUN`, repeatable (default: every run)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--run", action="append", help="run IRI, id or id prefix (repeatable; default: all)")
    return parent


def add_sources(parser: argparse.ArgumentParser, *, help_text: bool = True) -> None:
    """Repeatable `--store PATH` / `--endpoint URL`, in the order given (default: the default store)."""
    parser.add_argument("--store", dest="sources", action="append", type=str, metavar="PATH",
                        help=f"provenance store (repeatable; default: ${STORE_ENV} or ./provenance)"
                        if help_text else None)
    parser.add_argument("--endpoint", dest="sources", action="append", metavar="URL",
                        help="SPARQL endpoint, e.g. http://127.0.0.1:7878/query (repeatable)" if help_text else None)


def sources(args: argparse.Namespace) -> list[Any]:
    """The stores and endpoints a command reads, in the order given (default: the default store)."""
    return [as_source(location) for location in (args.sources or [str(default_store_path())])]


def parse_params(pairs: Sequence[str]) -> dict[str, str]:
    """`--param key=value` pairs as a dict."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigurationError(f"--param takes key=value, got {pair!r}")
        params[key] = value
    return params
