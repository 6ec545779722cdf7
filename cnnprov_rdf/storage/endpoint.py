"""Remote capture: a `QuadSink` that writes batches to a SPARQL 1.1 endpoint with SPARQL Update.

`EndpointSink` plugs into the `AsyncWriter` in place of the embedded store: one batch is one
`INSERT DATA` request (one transaction on the server). Outages are handled inside the sink, so the writer
never retries or waits on the network:

* A batch that cannot be sent (connection refused, timeout, 5xx, or a 4xx such as 403 from a read-only
  server) is appended, as N-Quads, to a local spool file, and the sink backs off: for `backoff` seconds
  every batch goes straight to the spool without touching the network. `write` never raises for a
  network failure, and never waits longer than about one HTTP timeout.
* While the spool is not empty, new batches are appended to it rather than sent, so the server receives
  quads in the order they were produced. At most every `backoff` seconds a write first replays the spool:
  in chunks, in order; the spool is shortened only after a chunk was accepted.
* Exactly once: the mapping gives every event deterministic IRIs and no blank nodes, and `INSERT DATA`
  of a quad already present changes nothing (RDF set semantics). A chunk that is sent twice (the server
  applied it but the answer was lost, or the process died between sending and shortening the spool) is
  therefore harmless: nothing is lost, nothing is duplicated.
* The spool (`storage.spool`) is guarded by an `fcntl` lock on `<spool>.lock`, so processes on one machine
  that capture to the same endpoint share one spool without interleaving partial writes; the endpoint's URL
  is kept beside it in `<spool>.url`. A spool left behind by a dead process is replayed with `replay_spool`
  (`cnnprov flush`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import DefaultGraph, Quad

from ..errors import EndpointError
from ..graph.vocabulary import ONTOLOGY_GRAPH
from . import capabilities as caps
from . import spool
from .destination import Endpoint, is_endpoint_url
from .spool import SPOOL_ENV as SPOOL_ENV  # re-exported: where it was before the one spool
from .spool import default_spool_dir

log = logging.getLogger(__name__)



def update_url(url: str) -> str:
    """The SPARQL Update URL of an endpoint given by its base, query or update URL (`Endpoint.update_url`)."""
    return Endpoint(url).update_url


def default_spool_path(url: str, spool_dir: Path | None = None) -> Path:
    """`<spool dir>/<sha1 of the update URL>.nq`: one spool per endpoint, shared by the processes of a machine."""
    digest = hashlib.sha1(update_url(url).encode()).hexdigest()
    return (spool_dir or default_spool_dir()) / f"{digest}.nq"


def _term(term: object) -> str:
    return str(term)  # pyoxigraph writes N-Triples syntax, with escapes, which SPARQL accepts as is


def insert_data(quads: Sequence[Quad]) -> str:
    """One `INSERT DATA` request for `quads`, grouped by graph, terms written by pyoxigraph."""
    graphs: dict[str, list[str]] = {}
    for quad in quads:
        key = "" if isinstance(quad.graph_name, DefaultGraph) else _term(quad.graph_name)
        graphs.setdefault(key, []).append(f"{_term(quad.subject)} {_term(quad.predicate)} {_term(quad.object)} .")
    parts = []
    for graph, triples in graphs.items():
        body = "\n".join(triples)
        parts.append(f"GRAPH {graph} {{\n{body}\n}}" if graph else body)
    return "INSERT DATA {\n" + "\n".join(parts) + "\n}"


def send_update(url: str, quads: Sequence[Quad], timeout: float) -> None:
    """POST one INSERT DATA to the update endpoint; raises `EndpointError` on any failure."""
    send_text(url, insert_data(quads), timeout)


def send_text(url: str, update: str, timeout: float) -> str:
    """POST one SPARQL Update; the Server header of the answer. Raises `EndpointError` on any failure."""
    _, server = caps.post(update_url(url), update.encode("utf-8"), "application/sparql-update; charset=utf-8",
                          timeout)
    return server


@dataclass
class SinkStats:
    sent_quads: int = 0
    spooled_quads: int = 0
    replayed_quads: int = 0
    failures: int = 0
    max_write_seconds: float = 0.0


class EndpointSink:
    """Writes each batch by the Graph Store Protocol where the server offers it, else as one SPARQL
    `INSERT DATA`; spools to N-Quads while the endpoint is unavailable.

    On first contact (`storage.capabilities`) it tells the server, whether the endpoint keeps NaN and ±INF
    (if not, they are encoded reversibly) and whether it holds the ontology (if not, it is sent once, by the
    Graph Store Protocol or skolemized). An authorisation failure (401/403) is not an outage: it is logged once
    as an error naming the cause, the quads stay in the spool (`cnnprov flush` sends them later), and this sink
    sends nothing more (`refused` holds the error)."""

    def __init__(
        self,
        url: str,
        spool_path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 2.0,
        backoff: float = 1.0,
        close_timeout: float = 5.0,
        use_gsp: bool = True,
    ) -> None:
        self.url = update_url(url)
        self.spool_path = Path(spool_path) if spool_path is not None else default_spool_path(self.url)
        self.timeout = timeout
        self.backoff = backoff
        self.close_timeout = close_timeout
        self.stats = SinkStats()
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._warned_config = False
        self.query_url = Endpoint(self.url).query_url
        self.capabilities = caps.EndpointCapabilities()
        self.use_gsp = use_gsp
        self.refused: EndpointError | None = None
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        self.spool_path.with_name(self.spool_path.name + ".url").write_text(self.url + "\n")

    @property
    def spooled(self) -> int:
        """Quads waiting in the spool file (of every process capturing to this endpoint)."""
        return spool.count_quads(self.spool_path)

    def write(self, quads: Sequence[Quad]) -> None:
        """Send or spool one batch. Never raises for a network failure; waits at most about one timeout."""
        if not quads:
            return
        started = time.monotonic()
        with self._lock, spool.locked(self.spool_path):
            try:
                self._write_locked(quads)
            finally:
                self.stats.max_write_seconds = max(self.stats.max_write_seconds, time.monotonic() - started)

    def _write_locked(self, quads: Sequence[Quad]) -> None:
        if self.refused is not None:
            self._spool(quads)  # refused: kept for `cnnprov flush`, never retried by this sink
            return
        if spool.is_waiting(self.spool_path) or time.monotonic() < self._retry_at:
            self._spool(quads)  # keep the order: behind what is already waiting
            if time.monotonic() >= self._retry_at:
                self._replay()
            return
        try:
            self._send(quads)
        except EndpointError as error:
            self._failed(error)
            self._spool(quads)
            return
        self.stats.sent_quads += len(quads)

    def _spool(self, quads: Sequence[Quad]) -> None:
        spool.append(self.spool_path, quads)
        self.stats.spooled_quads += len(quads)

    def _replay(self) -> EndpointError | None:
        try:
            sent = spool.replay(self.spool_path, self._send)
        except EndpointError as error:
            self._failed(error)
            return error
        if sent:
            self.stats.replayed_quads += sent
            log.info("cnnprov-rdf: %s is back; %d spooled quads replayed", self.url, sent)
        return None

    def _send(self, quads: Sequence[Quad]) -> None:
        self.send(quads)

    def send(self, quads: Sequence[Quad]) -> None:
        """Send one batch now, as `write` would, without spooling: raises `EndpointError` on any failure."""
        self._prepare()
        self._deliver(quads)

    def _prepare(self) -> None:
        """First contact: the server, the ontology's presence, NaN/INF support; the ontology sent if missing."""
        c = self.capabilities
        if c.gsp is None:
            c.has_ontology, c.server = caps.ask(
                self.query_url, f"ASK {{ GRAPH <{ONTOLOGY_GRAPH.value}> {{ ?s ?p ?o }} }}", self.timeout)
            c.gsp = self.use_gsp
        if c.keeps_non_finite is None:
            c.keeps_non_finite = caps.probe_non_finite(
                self.query_url, lambda text: send_text(self.url, text, self.timeout), self.timeout, c.server)
            if not c.keeps_non_finite:
                log.info("cnnprov-rdf: %s does not keep NaN/INF doubles; they are sent as cnn:nonFiniteDouble",
                         self.url)
        if not c.has_ontology:
            self._deliver(caps.ontology_quads())
            c.has_ontology = True

    def _deliver(self, quads: Sequence[Quad]) -> None:
        c = self.capabilities
        encoded = caps.encode_quads(quads, non_finite=not c.keeps_non_finite, skolemize=False,
                                    wide="virtuoso" in c.server.lower())
        if c.gsp:
            try:
                caps.gsp_write(caps.gsp_url(self.url, c.server), encoded, self.timeout, "virtuoso" in c.server.lower())
                return
            except EndpointError as error:
                if caps.status_of(error) not in (404, 405, 406, 415, 501):
                    raise
                c.gsp = False  # no Graph Store Protocol there: SPARQL Update from now on
                log.info("cnnprov-rdf: %s offers no Graph Store Protocol; sending INSERT DATA", self.url)
        send_update(self.url, caps.encode_quads(encoded, non_finite=False, skolemize=True), self.timeout)

    def _failed(self, error: EndpointError) -> None:
        self.stats.failures += 1
        self._retry_at = time.monotonic() + self.backoff
        if caps.status_of(error) in caps.AUTH_CODES:
            if self.refused is None:
                log.error("cnnprov-rdf: the SPARQL endpoint %s refused the update: %s. Nothing more is sent by this "
                          "process; the quads are kept in %s (send them with `cnnprov flush` once it accepts "
                          "updates)", self.url, error, self.spool_path)
            self.refused = error
            return
        if not error.transient:
            if not self._warned_config:
                self._warned_config = True
                log.warning("cnnprov-rdf: the SPARQL endpoint %s refused the update (%s); is it read-only or "
                            "protected? Quads are kept in %s", self.url, error, self.spool_path)
        elif self.stats.failures == 1 or self.stats.failures % 100 == 0:
            log.warning("cnnprov-rdf: %s; quads are kept in %s and sent when it answers again",
                        error, self.spool_path)

    def close(self) -> None:
        """A last replay, retried until `close_timeout`; a spool that cannot be sent is left on disk."""
        deadline = time.monotonic() + self.close_timeout
        with self._lock:
            while self.refused is None:
                with spool.locked(self.spool_path):
                    error = self._replay()
                if error is None:
                    return
                if not error.transient or time.monotonic() + self.backoff >= deadline:
                    break
                time.sleep(self.backoff)
        log.warning("cnnprov-rdf: %d quads for %s are still in %s; send them with `cnnprov flush`",
                    self.spooled, self.url, self.spool_path)


def spool_status(spool_dir: str | os.PathLike[str] | None = None) -> list[tuple[str, Path, int]]:
    """Every non-empty spool in `spool_dir`: (endpoint URL, spool file, quads waiting)."""
    directory = Path(spool_dir) if spool_dir is not None else default_spool_dir()
    return [(_spool_url(path) or "?", path, quads) for path, quads in spool.waiting_spools(directory)
            if not path.name.startswith("store-")]  # a store's spool: `cnnprov flush` replays it into the store


def _spool_url(path: Path) -> str | None:
    try:
        return path.with_name(path.name + ".url").read_text().strip() or None
    except OSError:
        return None


def replay_spool(path_or_url: str | os.PathLike[str], url: str | None = None, *, timeout: float = 10.0) -> int:
    """Send a spool (for example one left by a dead process) to its endpoint, in order; returns quads sent.

    `path_or_url` is a spool file, or an endpoint URL whose default spool is meant. `url` overrides the
    endpoint recorded beside the spool. Raises `EndpointError` if the endpoint does not take it all; what was
    sent is then removed from the spool, the rest kept.
    """
    text = os.fspath(path_or_url)
    if is_endpoint_url(text):
        url = url or text
        path = default_spool_path(text)
    else:
        path = Path(text)
        url = url or _spool_url(path)
        if url is None:
            raise EndpointError(f"no endpoint is recorded for {path}; give its URL", transient=False)
    sink = EndpointSink(update_url(url), path, timeout=timeout)  # the same encodings and protocol as capture
    with spool.locked(path):
        return spool.replay(path, sink.send)
