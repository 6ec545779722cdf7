"""Validating captured run graphs against the SHACL shapes in `ontology/shapes.ttl`.

Each run's named graph is checked on its own with pySHACL, without inference: the mapping types every node
explicitly, so the shapes need no entailment. The report names, for every violation, the shape it broke.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import Store

from ..query.runs import run_quads, select_runs
from ..resources import ontology_file
from .rdflib_bridge import to_rdflib_graph

SHAPES_NS = "https://w3id.org/cnnprov/shapes#"
_SH = "http://www.w3.org/ns/shacl#"
_RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


def shapes_file() -> Path:
    """`ontology/shapes.ttl`, next to the ontology."""
    return ontology_file().with_name("shapes.ttl")


@dataclass(frozen=True)
class Violation:
    """One SHACL validation result."""

    focus_node: str
    path: str | None
    shape: str  # IRI of the named node shape the result belongs to (or the source shape itself)
    shape_label: str
    message: str
    severity: str  # "Violation", "Warning" or "Info"
    value: str | None = None
    constraint: str | None = None  # local name of the constraint component, e.g. "MinCountConstraintComponent"

    def text(self) -> str:
        where = f" {_short(self.path)}" if self.path else ""
        value = f" (value {self.value})" if self.value is not None and self.value != self.focus_node else ""
        return f"[{self.severity}] {self.shape_label}: <{self.focus_node}>{where}: {self.message}{value}"


@dataclass
class RunValidation:
    """The result of validating one run graph."""

    run_id: str
    run: str
    graph: str
    conforms: bool
    violations: list[Violation] = field(default_factory=list)


@dataclass
class ValidationReport:
    """The results for every run validated; `conforms` only if every run conforms."""

    conforms: bool
    runs: list[RunValidation]
    seconds: float = 0.0

    def text(self) -> str:
        lines = [
            f"{'Conforms' if self.conforms else 'Does not conform'}: {len(self.runs)} run graph(s) validated "
            f"against {shapes_file().name}, "
            f"{sum(len(r.violations) for r in self.runs)} violation(s)."
        ]
        for result in self.runs:
            status = "conforms" if result.conforms else f"{len(result.violations)} violation(s)"
            lines.append(f"run {result.run_id}: {status}")
            for violation in result.violations:
                lines.append(f"  {violation.text()}")
        return "\n".join(lines)


def _short(iri: str) -> str:
    for prefix, namespace in (
        ("cnn:", "https://w3id.org/cnnprov/ontology#"),
        ("prov:", "http://www.w3.org/ns/prov#"),
        ("mls:", "http://www.w3.org/ns/mls#"),
        ("rdf:", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
        ("cnnsh:", SHAPES_NS),
    ):
        if iri.startswith(namespace):
            return prefix + iri[len(namespace):]
    return iri


def load_shapes(path: str | os.PathLike[str] | None = None):  # type: ignore[no-untyped-def]
    """The shapes graph (rdflib)."""
    import rdflib

    shapes = rdflib.Graph()
    shapes.parse(str(path or shapes_file()), format="turtle")
    return shapes


def _shape_names(shapes) -> dict:  # type: ignore[no-untyped-def]
    """For every shape node: (IRI of the named shape that holds it, its label)."""
    from rdflib import RDF, RDFS, URIRef
    from rdflib.namespace import SH

    names = {}
    named = set(shapes.subjects(RDF.type, SH.NodeShape)) | set(shapes.subjects(RDF.type, SH.PropertyShape))
    for shape in named:
        label = shapes.value(shape, RDFS.label) or (_short(str(shape)) if isinstance(shape, URIRef) else None)
        names[shape] = (str(shape), str(label) if label is not None else str(shape))
    # Property shapes (blank nodes) take the name of the node shape that holds them, plus their sh:name.
    for owner, prop in shapes.subject_objects(SH.property):
        if owner in names:
            iri, label = names[owner]
            name = shapes.value(prop, SH.name)
            names.setdefault(prop, (iri, f"{label} ({name})" if name is not None else label))
    # SPARQL constraints and sh:or alternatives report their node shape as source; nothing more to add.
    return names


def _violations(results, shapes) -> list[Violation]:  # type: ignore[no-untyped-def]
    from rdflib import RDF
    from rdflib.namespace import SH

    names = _shape_names(shapes)
    found = []
    for result in results.subjects(RDF.type, SH.ValidationResult):
        source = results.value(result, SH.sourceShape)
        shape, label = names.get(source, (str(source), _short(str(source))))
        path = results.value(result, SH.resultPath)
        value = results.value(result, SH.value)
        severity = results.value(result, SH.resultSeverity)
        component = results.value(result, SH.sourceConstraintComponent)
        messages = [str(m) for m in results.objects(result, SH.resultMessage)]
        found.append(
            Violation(
                focus_node=str(results.value(result, SH.focusNode)),
                path=str(path) if path is not None else None,
                shape=shape,
                shape_label=label,
                message="; ".join(sorted(messages)) or "(no message)",
                severity=str(severity).removeprefix(_SH) if severity is not None else "Violation",
                value=str(value) if value is not None else None,
                constraint=str(component).removeprefix(_SH) if component is not None else None,
            )
        )
    return sorted(found, key=lambda v: (v.shape_label, v.focus_node, v.path or "", v.message))


def validate(
    store: Store,
    runs: list[str] | None = None,
    *,
    shapes: str | os.PathLike[str] | None = None,
) -> ValidationReport:
    """Validate the named graph of each run in `runs` (IRIs, ids or unique id prefixes; default: every run).

    Works on any pyoxigraph Store, read-only or in memory. Raises `RunNotFoundError` for an unknown run.
    """
    import time

    import pyshacl

    start = time.perf_counter()
    shapes_graph = load_shapes(shapes)
    results = []
    for iri, run_id, graph in select_runs(store, runs):  # every run newest first when runs is None
        data = to_rdflib_graph(run_quads(store, graph))
        conforms, report, _ = pyshacl.validate(
            data, shacl_graph=shapes_graph, inference="none", advanced=True, allow_warnings=True
        )
        violations = _violations(report, shapes_graph)
        results.append(RunValidation(run_id, iri.value, graph.value, bool(conforms), violations))
    return ValidationReport(all(r.conforms for r in results), results, time.perf_counter() - start)
