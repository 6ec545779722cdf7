"""What an endpoint can store, told once per sink, and the encodings that make every quad storable there.

* **Graph Store Protocol.** Where the server offers it (the Oxigraph server's `/store`, Virtuoso's
  `/sparql-graph-crud`), a batch is POSTed as N-Quads (Oxigraph: one request, one transaction) or as N-Triples
  per graph (Virtuoso); elsewhere (404, 405, 415 on the first try) it falls back to `INSERT DATA`.
* **NaN and ±INF.** Told once by writing the three values to a probe graph, reading them back and dropping the
  graph (a refused write counts as "not kept"). Virtuoso 7.2 is not probed: once it holds data, an `INSERT` of
  a NaN fails there with HTTP 500 "Insert stopped because out of seg data … RDF_QUAD_OP" (measured), and the
  probe on an empty store would pass. On such an engine, a non-finite double is sent as
  `"NaN"^^cnn:nonFiniteDouble` (the same lexical form, another datatype: reversible, `decode_term` restores it;
  `EndpointSource` results go through it).
* **Wide integers.** Virtuoso 7 keeps an `xsd:integer` only in 32 bits: one sent by GSP at or beyond 2^31
  comes back as `xsd:decimal`, and `INSERT DATA` refuses one beyond 64 bits (measured). To Virtuoso such an
  integer is sent as `"…"^^cnn:wideInteger` (its exact lexical form, another datatype: reversible, `decode_term`
  restores it); Virtuoso then compares it as text, not as a number.
* **Blank nodes.** `INSERT DATA` with blank nodes is refused by Virtuoso; the ontology (the one source of blank
  nodes we write) is sent by the Graph Store Protocol with its blank nodes, or else skolemized: `_:b` →
  `<https://w3id.org/cnnprov/.well-known/genid/b>` (RDF 1.1 §3.5), which `decode_term` turns back into `_:b`.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pyoxigraph import BlankNode, DefaultGraph, Literal, NamedNode, Quad, RdfFormat, parse, serialize

from ..errors import EndpointError
from ..graph.vocabulary import CNN_NS, ONTOLOGY_GRAPH, XSD_NS
from ..resources import ontology_file
from .destination import TOKEN_ENV

NON_FINITE = NamedNode(CNN_NS + "nonFiniteDouble")
XSD_DOUBLE = NamedNode(XSD_NS + "double")
XSD_INTEGER = NamedNode(XSD_NS + "integer")
WIDE_INTEGER = NamedNode(CNN_NS + "wideInteger")
#: The integers Virtuoso 7 keeps as `xsd:integer` (32 bits, signed).
NARROW = range(-(2**31), 2**31)
SKOLEM_BASE = "https://w3id.org/cnnprov/.well-known/genid/"
_NON_FINITE_VALUES = ("NaN", "INF", "-INF")
AUTH_CODES = (401, 403)


def post(url: str, body: bytes, content_type: str, timeout: float, accept: str = "*/*") -> tuple[bytes, str]:
    """POST `body`; (answer, Server header). Raises `EndpointError` (transient for network errors and 5xx)."""
    headers = {"Content-Type": content_type, "Accept": accept}
    if os.environ.get(TOKEN_ENV):  # the write token a `cnnprov serve --read-write` printed
        headers["Authorization"] = f"Bearer {os.environ[TOKEN_ENV]}"
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read(), response.headers.get("Server", "")
    except urllib.error.HTTPError as error:
        detail = " ".join(error.read().decode("utf-8", errors="replace").split())[:300]
        cause = " (authorisation: the endpoint is read-only or needs credentials)" if error.code in AUTH_CODES else ""
        failure = EndpointError(f"HTTP {error.code} from {url}{cause}: {detail or error.reason}",
                                transient=error.code >= 500)
        failure.status = error.code  # type: ignore[attr-defined]
        raise failure from None
    except (OSError, http.client.HTTPException) as error:  # refused, reset, timeout, DNS, bad answer
        raise EndpointError(f"{url} unreachable: {error}") from None


def status_of(error: EndpointError) -> int | None:
    return getattr(error, "status", None)


def gsp_url(update_url: str, server: str) -> str:
    """The Graph Store Protocol URL beside an update URL: Virtuoso's `/sparql-graph-crud`, else `/store`."""
    parts = urlsplit(update_url)
    path = parts.path.rstrip("/")
    base = path.rsplit("/", 1)[0] if path.endswith(("/update", "/sparql", "/query")) else path
    tail = "/sparql-graph-crud" if "virtuoso" in server.lower() else "/store"
    return urlunsplit((parts.scheme, parts.netloc, base + tail, "", ""))


def gsp_write(url: str, quads: Sequence[Quad], timeout: float, virtuoso: bool) -> None:
    """Add `quads` by the Graph Store Protocol: one N-Quads POST, or (Virtuoso) one N-Triples POST per graph."""
    if not virtuoso:
        post(url, serialize(quads, format=RdfFormat.N_QUADS) or b"", "application/n-quads", timeout)
        return
    graphs: dict[str, list[Any]] = {}
    for quad in quads:
        key = "" if isinstance(quad.graph_name, DefaultGraph) else quad.graph_name.value
        graphs.setdefault(key, []).append(quad.triple)
    for graph, triples in graphs.items():
        query = urllib.parse.urlencode({"graph-uri": graph} if graph else {"default": ""})
        post(f"{url}?{query}", serialize(triples, format=RdfFormat.N_TRIPLES) or b"", "text/turtle", timeout)


def is_non_finite(term: object) -> bool:
    return isinstance(term, Literal) and term.datatype == XSD_DOUBLE and term.value in _NON_FINITE_VALUES


def is_wide_integer(term: object) -> bool:
    """An `xsd:integer` beyond 32 bits (or not a number at all, which is sent as it is)."""
    if not (isinstance(term, Literal) and term.datatype == XSD_INTEGER):
        return False
    try:
        return int(term.value) not in NARROW
    except ValueError:
        return False


def encode_quads(quads: Sequence[Quad], *, non_finite: bool, skolemize: bool, wide: bool = False) -> list[Quad]:
    """`quads` with non-finite doubles (when `non_finite`), blank nodes (when `skolemize`) and integers beyond
    32 bits (when `wide`) encoded."""
    def term(t: Any) -> Any:
        if non_finite and is_non_finite(t):
            return Literal(t.value, datatype=NON_FINITE)
        if wide and is_wide_integer(t):
            return Literal(t.value, datatype=WIDE_INTEGER)
        if skolemize and isinstance(t, BlankNode):
            return NamedNode(SKOLEM_BASE + t.value)
        return t

    if not (non_finite or skolemize or wide):
        return list(quads)
    return [Quad(term(q.subject), q.predicate, term(q.object), q.graph_name) for q in quads]


def decode_term(term: Any) -> Any:
    """The term an encoded one stands for: a non-finite double, a wide integer, a blank node; any other term as
    it is."""
    if isinstance(term, Literal) and term.datatype == NON_FINITE:
        return Literal(term.value, datatype=XSD_DOUBLE)
    if isinstance(term, Literal) and term.datatype == WIDE_INTEGER:
        return Literal(term.value, datatype=XSD_INTEGER)
    if isinstance(term, NamedNode) and term.value.startswith(SKOLEM_BASE):
        return BlankNode(term.value[len(SKOLEM_BASE):])
    return term


def ontology_quads() -> list[Quad]:
    """The ontology, as quads in its graph (with its blank nodes)."""
    with ontology_file().open("rb") as source:
        return [Quad(t.subject, t.predicate, t.object, ONTOLOGY_GRAPH)
                for t in (item.triple for item in parse(source, format=RdfFormat.TURTLE))]


@dataclass
class EndpointCapabilities:
    """What one endpoint was told to do: its server, whether GSP works, whether it keeps NaN and ±INF."""

    server: str = ""
    gsp: bool | None = None
    keeps_non_finite: bool | None = None
    has_ontology: bool = False


def ask(query_url: str, query: str, timeout: float) -> tuple[bool, str]:
    body, server = post(query_url, urllib.parse.urlencode({"query": query}).encode(),
                        "application/x-www-form-urlencoded", timeout, accept="application/sparql-results+json")
    try:
        return bool(json.loads(body.decode("utf-8")).get("boolean")), server
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        raise EndpointError(f"{query_url} did not answer an ASK with SPARQL JSON results", transient=False) from None


def probe_non_finite(query_url: str, update: Any, timeout: float, server: str = "") -> bool:
    """Whether the endpoint keeps NaN, INF and -INF: written to a probe graph, asked back, the graph dropped."""
    if "virtuoso" in server.lower():
        return False
    graph = f"urn:uuid:{uuid.uuid4()}"
    values = " , ".join(f'"{v}"^^<{XSD_NS}double>' for v in _NON_FINITE_VALUES)
    subject, predicate = "<urn:cnnprov:probe>", f"<{CNN_NS}probeValue>"
    try:
        update(f"INSERT DATA {{ GRAPH <{graph}> {{ {subject} {predicate} {values} }} }}")
    except EndpointError as error:
        if status_of(error) in AUTH_CODES or (error.transient and status_of(error) is None):
            raise  # refused or unreachable: not an answer about NaN
        return False
    try:
        checks = " . ".join(f'FILTER EXISTS {{ GRAPH <{graph}> {{ {subject} {predicate} ?v{i} . '
                            f'FILTER(STR(?v{i}) IN ("{v}", "{v.lower()}")) }} }}'
                            for i, v in enumerate(_NON_FINITE_VALUES))
        kept, _ = ask(query_url, f"ASK {{ {checks} }}", timeout)
        return kept
    finally:
        update(f"DROP SILENT GRAPH <{graph}>")
