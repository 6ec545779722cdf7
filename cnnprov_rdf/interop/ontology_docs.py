"""Markdown reference of the `cnn:` ontology, generated from `ontology/cnnprov.ttl`.

python -m cnnprov_rdf.interop.ontology_docs > docs/ontology.md
"""

from __future__ import annotations

import os
import sys

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS

from ..graph.vocabulary import CNN_NS, MLS_NS, PREFIXES, PROV_NS
from ..resources import ontology_file

_ALIGNED_NAMESPACES = (PROV_NS, MLS_NS)


def _curie(term: object) -> str:
    text = str(term)
    for prefix, namespace in sorted(PREFIXES.items(), key=lambda item: -len(item[1])):
        if text.startswith(namespace):
            return f"{prefix}:{text[len(namespace) :]}"
    return f"<{text}>"


def _link(graph: Graph, term: URIRef) -> str:
    """A term as a CURIE in code, linked to its section when the document describes it."""
    curie = f"`{_curie(term)}`"
    if str(term).startswith(CNN_NS) and (term, RDFS.label, None) in graph:
        return f"[{curie}](#{_anchor(term)})"
    return curie


def _anchor(term: URIRef) -> str:
    return "cnn-" + str(term)[len(CNN_NS) :].lower()


def _text(graph: Graph, subject: URIRef, predicate: URIRef) -> str:
    values = [o for o in graph.objects(subject, predicate) if isinstance(o, Literal)]
    english = [v for v in values if v.language in (None, "en")]
    return " ".join(str(v) for v in (english or values)).strip()


def _class_expression(graph: Graph, node) -> str:  # type: ignore[no-untyped-def]
    """A named class, or an owl:unionOf rendered as "A or B"."""
    if isinstance(node, BNode):
        union = graph.value(node, OWL.unionOf)
        if union is not None:
            return " or ".join(_class_expression(graph, member) for member in Collection(graph, union))
        return "(anonymous class)"
    return _link(graph, node)


def _joined(graph: Graph, nodes) -> str:  # type: ignore[no-untyped-def]
    rendered = sorted(_class_expression(graph, node) for node in nodes)
    return ", ".join(rendered) if rendered else "—"


def _cnn_subjects(graph: Graph, kind: URIRef) -> list[URIRef]:
    return sorted(s for s in graph.subjects(RDF.type, kind) if isinstance(s, URIRef) and str(s).startswith(CNN_NS))


def _heading(graph: Graph, term: URIRef) -> list[str]:
    label = _text(graph, term, RDFS.label)
    return [
        f'<a id="{_anchor(term)}"></a>',
        f"### `{_curie(term)}`" + (f" — {label}" if label else ""),
        "",
        _text(graph, term, RDFS.comment) or "(no description)",
        "",
    ]


def _classes(graph: Graph) -> list[str]:
    lines = ["## Classes", ""]
    for cls in _cnn_subjects(graph, OWL.Class):
        supers = list(graph.objects(cls, RDFS.subClassOf))
        aligned = [s for s in supers if isinstance(s, URIRef) and str(s).startswith(_ALIGNED_NAMESPACES)]
        lines += _heading(graph, cls)
        lines += [
            f"- Superclasses: {_joined(graph, supers)}",
            f"- PROV-O / ML Schema alignment: {_joined(graph, aligned)}",
            "",
        ]
    return lines


def _properties(graph: Graph, kind: URIRef, title: str) -> list[str]:
    lines = [f"## {title}", ""]
    for prop in _cnn_subjects(graph, kind):
        supers = list(graph.objects(prop, RDFS.subPropertyOf))
        aligned = [s for s in supers if isinstance(s, URIRef) and str(s).startswith(_ALIGNED_NAMESPACES)]
        characteristics = sorted(
            _curie(t) for t in graph.objects(prop, RDF.type) if t not in (OWL.ObjectProperty, OWL.DatatypeProperty)
        )
        lines += _heading(graph, prop)
        lines += [
            f"- Domain: {_joined(graph, graph.objects(prop, RDFS.domain))}",
            f"- Range: {_joined(graph, graph.objects(prop, RDFS.range))}",
            f"- Super-properties: {_joined(graph, supers)}",
            f"- PROV-O / ML Schema alignment: {_joined(graph, aligned)}",
        ]
        if characteristics:
            lines.append(f"- Characteristics: {', '.join(f'`{c}`' for c in characteristics)}")
        lines.append("")
    return lines


def _individuals(graph: Graph) -> list[str]:
    lines = ["## Individuals", ""]
    for individual in _cnn_subjects(graph, OWL.NamedIndividual):
        types = [t for t in graph.objects(individual, RDF.type) if t != OWL.NamedIndividual]
        lines += _heading(graph, individual)
        lines += [f"- Type: {_joined(graph, types)}", ""]
    return lines


def render_markdown(ontology_path: str | os.PathLike[str] | None = None) -> str:
    """The Markdown reference of every class, property and individual the ontology file declares."""
    path = ontology_file() if ontology_path is None else ontology_path
    graph = Graph().parse(os.fspath(path), format="turtle")
    ontology = next((s for s in graph.subjects(RDF.type, OWL.Ontology) if isinstance(s, URIRef)), None)
    title = _text(graph, ontology, RDFS.label) if ontology is not None else "Ontology"
    lines = [
        f"# {title or 'Ontology'}",
        "",
        "<!-- Generated by `python -m cnnprov_rdf.interop.ontology_docs > docs/ontology.md` from ontology/cnnprov.ttl;"
        " do not edit by hand. -->",
        "",
    ]
    if ontology is not None:
        version = graph.value(ontology, OWL.versionInfo)
        lines += [
            f"IRI: `{ontology}`" + (f" · version {version}" if version is not None else ""),
            "",
            _text(graph, ontology, RDFS.comment),
            "",
        ]
    lines += ["Prefixes: " + ", ".join(f"`{p}:` <{ns}>" for p, ns in PREFIXES.items()), ""]
    lines += _classes(graph)
    lines += _properties(graph, OWL.ObjectProperty, "Object properties")
    lines += _properties(graph, OWL.DatatypeProperty, "Datatype properties")
    lines += _individuals(graph)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    sys.stdout.write(render_markdown(args[0] if args else None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
