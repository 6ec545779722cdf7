"""The framework-neutral capture API: a `Tracker` owns the writer to one destination and starts `Run`s.

A custom TensorFlow or PyTorch loop calls a run's methods directly; the Keras callback is a thin layer
over them. Nothing here touches RDF: events are handed to the storage layer's asynchronous writer.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from ..graph.vocabulary import DEFAULT_BASE
from ..storage.destination import Destination, Endpoint, StoreLocation, destination_from
from ..storage.endpoint import EndpointSink
from ..storage.writer import AsyncWriter, StoreSink
from .environment import file_digest, local_agents, now
from .events import Agents, Event
from .run import Run

__all__ = ["Run", "Tracker", "file_digest", "local_agents", "now"]


class Tracker:
    """Owns one asynchronous writer to a store or a SPARQL endpoint; starts runs.

    >>> with Tracker("provenance") as tracker:          # doctest: +SKIP
    ...     with tracker.start_run(planned_epochs=2) as run:
    ...         run.log_epoch(1, {"loss": 0.9})
    """

    def __init__(
        self,
        store: str | os.PathLike[str] | Destination | None = None,
        *,
        base: str = DEFAULT_BASE,
        max_pending: int = 10_000,
        endpoint: str | None = None,
        linger: float = 1.0,
    ) -> None:
        """Write to `store`: an embedded store's path, or an http(s) SPARQL endpoint URL (a server's base or
        /update URL), as `storage.destination.parse_destination` reads it; `endpoint=` names an endpoint
        explicitly. An endpoint gets SPARQL Update, spooled locally while it is unavailable. Events reach
        the destination in batches, at most about `linger` seconds after they happened (see `AsyncWriter`)."""
        self.base = base
        self.destination: Destination = destination_from(store, endpoint)
        #: The update URL written to, for an endpoint; else None.
        self.endpoint: str | None = None
        #: The store's directory, for an embedded store; else None.
        self.store_path: Path | None = None
        if isinstance(self.destination, Endpoint):
            self.endpoint = self.destination.update_url
            self.writer = AsyncWriter(EndpointSink(self.endpoint), base=base, max_pending=max_pending, linger=linger)
            return
        path = self.destination.path
        self.store_path = path
        sink = StoreSink.opening(path)  # opened on the writer thread; spools to the user cache folder
        self.writer = AsyncWriter(sink, base=base, max_pending=max_pending, linger=linger)

    def start_run(
        self,
        *,
        name: str | None = None,
        planned_epochs: int | None = None,
        agents: Agents | None = None,
        run_id: str | None = None,
    ) -> Run:
        return Run(self, run_id or str(uuid.uuid4()), name=name, planned_epochs=planned_epochs, agents=agents)

    def search(self, name: str, **options: Any) -> Any:
        """A hyperparameter search to record (`cnnprov_rdf.tuning.search.Search`; `with` starts and ends it)."""
        from ..tuning.search import Search

        return Search(self, name, **options)

    def submit(self, event: Event) -> None:
        self.writer.submit(event)

    def flush(self, timeout: float | None = None, *, wait: bool = True) -> bool:
        """Wait until what was submitted is written; `wait=False` has it written now, in the background."""
        return self.writer.flush(timeout, wait=wait)

    def close(self, *, wait: bool = True) -> None:
        """Write what is pending and release the destination; `wait=False` does it in the background (a reader
        of the store in this process, and the interpreter at exit, wait for it)."""
        self.writer.close(wait=wait)

    @property
    def closed(self) -> bool:
        return self.writer.closed

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def destination_key(destination: Destination) -> str:
    """One string per place written to: a store's resolved directory, an endpoint's update URL."""
    if isinstance(destination, StoreLocation):
        return str(destination.path.resolve())
    return destination.update_url
