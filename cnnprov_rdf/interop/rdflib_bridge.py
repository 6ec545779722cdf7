"""The one conversion between pyoxigraph and rdflib terms, for the libraries that work on rdflib graphs
(owlrl, pySHACL, prov).

A plain literal is `xsd:string` in pyoxigraph and has no datatype in rdflib; everything else maps one to one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pyoxigraph import BlankNode, Literal, NamedNode, Quad, Triple
from rdflib import BNode, Graph, URIRef
from rdflib import Literal as RdflibLiteral

from ..errors import InterchangeError
from ..graph.vocabulary import XSD_NS

_XSD_STRING = XSD_NS + "string"


def to_rdflib_term(term: NamedNode | BlankNode | Literal | Triple) -> URIRef | BNode | RdflibLiteral:
    """The rdflib term for a pyoxigraph IRI, blank node or literal (rdflib has none for a quoted triple)."""
    if isinstance(term, NamedNode):
        return URIRef(term.value)
    if isinstance(term, BlankNode):
        return BNode(term.value)
    if isinstance(term, Literal):
        if term.language:
            return RdflibLiteral(term.value, lang=term.language)
        datatype = term.datatype.value
        return RdflibLiteral(term.value, datatype=None if datatype == _XSD_STRING else URIRef(datatype))
    raise InterchangeError(f"rdflib has no term for {term!r}")


def to_oxigraph_term(term: Any) -> NamedNode | BlankNode | Literal:
    """The pyoxigraph term for an rdflib URIRef, BNode or Literal."""
    if isinstance(term, URIRef):
        return NamedNode(str(term))
    if isinstance(term, BNode):
        return BlankNode(str(term))
    if isinstance(term, RdflibLiteral):
        if term.language:
            return Literal(str(term), language=term.language)
        return Literal(str(term), datatype=NamedNode(str(term.datatype or _XSD_STRING)))
    raise InterchangeError(f"pyoxigraph has no term for {term!r}")


def to_rdflib_triples(items: Iterable[Quad | Triple]) -> list[tuple[Any, Any, Any]]:
    """rdflib (subject, predicate, object) tuples of pyoxigraph quads (their graph left out) or triples."""
    return [(to_rdflib_term(item.subject), to_rdflib_term(item.predicate), to_rdflib_term(item.object))
            for item in items]


def to_rdflib_graph(items: Iterable[Quad | Triple], prefixes: Mapping[str, str] | None = None) -> Graph:
    """An rdflib Graph of pyoxigraph quads (merged: their graph left out) or triples. With `prefixes`, the graph
    binds exactly those (and none of rdflib's own)."""
    graph = Graph() if prefixes is None else Graph(bind_namespaces="none")
    for prefix, namespace in (prefixes or {}).items():
        graph.bind(prefix, namespace)
    for triple in to_rdflib_triples(items):
        graph.add(triple)
    return graph
