"""Every exception the package raises, under one root: `except CnnprovError` catches them all.

Each class also derives from the built-in it resembles (`ValueError` for bad input, `LookupError` for a
run that is not there, `RuntimeError` for an outside resource that failed), so callers that caught the
built-in keep working. The CLI catches the root once and prints its message as one line (exit 2).
"""

from __future__ import annotations


class CnnprovError(Exception):
    """The root of every error cnnprov-rdf raises; its message is one line a user can act on."""


class ConfigurationError(CnnprovError, ValueError):
    """A wrong argument or setting: a destination, a schedule, a model size, a dataset location."""


class StoreError(CnnprovError, RuntimeError):
    """A store cannot be opened or read; the message says which and what to do."""


class StoreLockedError(StoreError):
    """Another process holds the store open for writing."""


class StoreNotFoundError(StoreError):
    """No store exists at the path given for reading."""


class EndpointError(CnnprovError, RuntimeError):
    """A request to a SPARQL endpoint failed; `transient` is False for a 4xx (a configuration error)."""

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


class SourceError(StoreError):
    """A query source (a local store or a SPARQL endpoint) could not answer."""


class ServerError(CnnprovError, RuntimeError):
    """The Oxigraph server could not be found, started or reached."""


class QueryError(CnnprovError, ValueError):
    """An unknown query, a bad parameter value, or a malformed query file."""


class RunNotFoundError(CnnprovError, LookupError):
    """A run reference matches no run, or more than one."""


class RunParameterError(QueryError, RunNotFoundError):
    """A query's run (or search) parameter names no run, or several: both a QueryError and a RunNotFoundError."""


class SearchNotFoundError(CnnprovError, LookupError):
    """A search reference matches no recorded hyperparameter search, or more than one."""


class ExportError(CnnprovError, ValueError):
    """An export that cannot be written as asked (an unknown format, say)."""


class InterchangeError(CnnprovError, ValueError):
    """A PROV document that cannot be exported or imported as asked."""


class ProvImportError(InterchangeError):
    """A document to import is malformed or not what its format says; nothing was imported."""


class ImportLimitError(ProvImportError):
    """A document to import is over a limit (size, nesting depth, time) or uses a refused construct (XML
    entity declarations); the message names the limit and the flag that raises it. Nothing was imported."""


class RenderError(CnnprovError, ValueError):
    """A diagram or plot that cannot be drawn as asked (an unknown metric or file type, a missing tool)."""


__all__ = [
    "CnnprovError",
    "ConfigurationError",
    "EndpointError",
    "ExportError",
    "ImportLimitError",
    "InterchangeError",
    "ProvImportError",
    "QueryError",
    "RenderError",
    "RunNotFoundError",
    "RunParameterError",
    "SearchNotFoundError",
    "ServerError",
    "SourceError",
    "StoreError",
    "StoreLockedError",
    "StoreNotFoundError",
]
