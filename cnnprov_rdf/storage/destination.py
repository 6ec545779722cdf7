"""Where provenance goes or comes from: an on-disk store path or a SPARQL endpoint URL, parsed in one place.

`parse_destination` is the only rule: an `http://` or `https://` string is an endpoint, any other string or
path is a store directory (another `scheme://` is an error, not a directory of that name). Capture
(`Tracker`, `ProvenanceCallback`), `run_query`, export and the CLI all call it.

An endpoint may be given by a server's base URL or by its query or update URL:

| given | query URL | update URL |
|---|---|---|
| `http://h:7878` or `http://h:7878/` | `http://h:7878/query` | `http://h:7878/update` |
| `…/query` | as given | `…/update` |
| `…/update` | `…/query` | as given |
| `…/sparql` (Virtuoso, Blazegraph, Fuseki) | as given | as given |
| any other path | as given | as given |
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import ConfigurationError

DEFAULT_STORE = "provenance"
STORE_ENV = "CNNPROV_STORE"
#: The bearer token sent with SPARQL updates (what `cnnprov serve --read-write` printed or was given).
TOKEN_ENV = "CNNPROV_TOKEN"

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def default_store_path() -> Path:
    """`$CNNPROV_STORE`, else `./provenance`."""
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE)


@dataclass(frozen=True)
class StoreLocation:
    """An embedded Oxigraph store: a directory on disk."""

    path: Path

    def __str__(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class Endpoint:
    """A SPARQL 1.1 endpoint, by the URL the user gave (see the module's table for the derived URLs)."""

    url: str

    @property
    def query_url(self) -> str:
        return self._derived("query")

    @property
    def update_url(self) -> str:
        return self._derived("update")

    def _derived(self, kind: str) -> str:
        url = self.url.rstrip("/")
        path = urlsplit(url).path
        if path in ("", "/"):
            return f"{url}/{kind}"
        for own, other in (("/query", "/update"), ("/update", "/query")):
            if path.endswith(own):
                return url if own == f"/{kind}" else url[: -len(own)] + other
        return url

    def __str__(self) -> str:
        return self.url


Destination = StoreLocation | Endpoint


def is_endpoint_url(value: object) -> bool:
    """Whether a string names a SPARQL endpoint (an http or https URL)."""
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def parse_destination(value: str | os.PathLike[str] | Destination | None) -> Destination:
    """A store path or an endpoint URL; None means the default store (`$CNNPROV_STORE`, else `./provenance`)."""
    if isinstance(value, StoreLocation | Endpoint):
        return value
    if value is None:
        return StoreLocation(default_store_path())
    if isinstance(value, str):
        if not value.strip():
            raise ConfigurationError("an empty string is neither a store path nor an endpoint URL")
        if is_endpoint_url(value):
            parts = urlsplit(value)
            if not parts.hostname:
                raise ConfigurationError(f"the endpoint URL {value!r} names no host")
            return Endpoint(value)
        if _SCHEME.match(value):
            raise ConfigurationError(
                f"{value!r} is neither a store path nor an http(s) SPARQL endpoint URL")
        return StoreLocation(Path(value))
    if isinstance(value, os.PathLike):
        return StoreLocation(Path(value))
    raise ConfigurationError(f"expected a store path or an endpoint URL, got {type(value).__name__}")


def destination_from(
    store: str | os.PathLike[str] | Destination | None = None, endpoint: str | None = None
) -> Destination:
    """The destination of a `store=` / `endpoint=` pair of arguments (at most one of them given)."""
    if endpoint is not None:
        if store is not None:
            raise ConfigurationError("give either a store or an endpoint, not both")
        destination = parse_destination(endpoint)
        if not isinstance(destination, Endpoint):
            raise ConfigurationError(f"endpoint= takes an http(s) URL, got {endpoint!r}")
        return destination
    return parse_destination(store)
