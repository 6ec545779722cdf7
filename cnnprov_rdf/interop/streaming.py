"""Streaming an import into the store: the parser's quads, relabelled deterministically, in chunks.

Blank nodes get labels from the document's content hash and their order of first appearance (`_:<hash>_<n>`),
so the same bytes always give the same quads (importing twice adds nothing) without RDF canonicalisation,
whose cost grows without bound on deep or symmetric blank-node structures. A new graph is written with
`bulk_extend` chunk by chunk, so memory stays near one chunk whatever the file's size; if anything fails
midway the graph is removed again, leaving the store as it was.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from typing import Any

from pyoxigraph import BlankNode, NamedNode, Quad, RdfFormat, Store, Triple, parse

from .limits import Deadline

#: Quads per `bulk_extend` call.
CHUNK = 50_000


def content_hash(file: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of the file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class BlankNodeLabels:
    """Relabels blank nodes: the n-th distinct one of a document seeded `seed` becomes `_:<seed>_<n>`."""

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self.labels: dict[str, BlankNode] = {}

    def term(self, term: Any) -> Any:
        if not isinstance(term, BlankNode):
            return term
        label = self.labels.get(term.value)
        if label is None:
            label = self.labels[term.value] = BlankNode(f"b{self.seed}x{len(self.labels)}")
        return label

    def quad(self, statement: Triple | Quad, graph: NamedNode) -> Quad:
        return Quad(self.term(statement.subject), statement.predicate, self.term(statement.object), graph)


def relabelled(statements: Iterable[Triple | Quad], graph: NamedNode, seed: str, clock: Deadline) -> Iterator[Quad]:
    """The statements as quads in `graph`, blank nodes relabelled; checks the deadline as it goes."""
    labels = BlankNodeLabels(seed)
    for count, statement in enumerate(statements):
        if count & 0x3FFF == 0:
            clock.check()
        yield labels.quad(statement, graph)


def parsed_file(file: str | os.PathLike[str], fmt: RdfFormat, base_iri: str) -> Iterator[Quad]:
    """The file's statements, parsed as a stream (raises SyntaxError / ValueError as pyoxigraph does)."""
    return iter(parse(path=file, format=fmt, base_iri=base_iri))


def chunks(quads: Iterable[Quad], size: int = CHUNK) -> Iterator[list[Quad]]:
    chunk: list[Quad] = []
    for quad in quads:
        chunk.append(quad)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def graph_size(store: Store, graph: NamedNode) -> int:
    # `graph` is a NamedNode (a validated IRI), written in its N-Triples form
    result = store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {graph} {{ ?s ?p ?o }} }}")
    return int(next(iter(result))[0].value)  # type: ignore[arg-type]


def write_new_graph(store: Store, graph: NamedNode, quads: Iterable[Quad], also: tuple[NamedNode, ...] = ()) -> int:
    """Write `quads` (in `graph`, which the store does not hold yet, or in the new graphs `also`) chunk by chunk;
    the quads in `graph` then. On any error the graphs are removed again (`remove_graph_in_chunks`) and the
    error re-raised."""
    try:
        for chunk in chunks(quads):
            store.bulk_extend(chunk)
        store.flush()
    except BaseException:
        for written in (graph, *also):
            remove_graph_in_chunks(store, written)
        raise
    return graph_size(store, graph)


def remove_graph_in_chunks(store: Store, graph: NamedNode, size: int = CHUNK) -> None:
    """Empty `graph` one transaction of at most `size` quads at a time: `remove_graph` would hold every
    deletion of a large graph in memory at once."""
    # `graph` is a NamedNode (a validated IRI), written in its N-Triples form
    update = (f"DELETE {{ GRAPH {graph} {{ ?s ?p ?o }} }} WHERE {{ "
              f"SELECT ?s ?p ?o WHERE {{ GRAPH {graph} {{ ?s ?p ?o }} }} LIMIT {int(size)} }}")
    while store.query(f"ASK {{ GRAPH {graph} {{ ?s ?p ?o }} }}"):
        store.update(update)
    store.remove_graph(graph)
    store.flush()
