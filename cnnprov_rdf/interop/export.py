"""Exporting runs from a store as RDF files, with readable prefixes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from pyoxigraph import NamedNode, Quad, RdfFormat, Store, Triple, serialize

from ..errors import ExportError
from ..graph.vocabulary import PREFIXES
from ..query.runs import run_quads, select_runs
from ..storage.store import readable_store

#: Format names accepted by `cnnprov export --format`.
FORMATS: dict[str, RdfFormat] = {
    "turtle": RdfFormat.TURTLE,
    "trig": RdfFormat.TRIG,
    "ntriples": RdfFormat.N_TRIPLES,
    "nquads": RdfFormat.N_QUADS,
    "jsonld": RdfFormat.JSON_LD,
    "rdfxml": RdfFormat.RDF_XML,
}

#: Usual file extension of each format.
EXTENSIONS = {"turtle": "ttl", "trig": "trig", "ntriples": "nt", "nquads": "nq", "jsonld": "jsonld", "rdfxml": "rdf"}


def run_graphs(store: Store, runs: Sequence[str] | None) -> list[NamedNode]:
    """The named graphs of the given runs (run IRIs, ids or prefixes), or of every run when none is given."""
    return [run.graph for run in select_runs(store, runs or None)]


def export(
    store: Store | str | os.PathLike[str],
    format: str = "turtle",
    runs: Sequence[str] | None = None,
    output: str | os.PathLike[str] | BinaryIO | None = None,
    named_graphs: bool | None = None,
) -> bytes | None:
    """Serialize runs: triple formats merge the runs' graphs, quad formats keep one graph per run.

    JSON-LD is written as plain triples (what any JSON-LD triple reader takes) unless `named_graphs` is True;
    TriG and N-Quads keep the graphs unless `named_graphs` is False.

    `store` is an open Store or an embedded store's path (opened read-only). Returns the bytes when `output`
    is None, otherwise writes to the path or binary file given.
    """
    store = readable_store(store, "export")
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    rdf_format = FORMATS[format]
    graphs = run_graphs(store, runs)
    quads = [quad for graph in graphs for quad in run_quads(store, graph)]
    # dict.fromkeys: runs that trained the same architecture share its layers' graph (and its triples)
    keep_graphs = rdf_format.supports_datasets and (
        named_graphs if named_graphs is not None else rdf_format != RdfFormat.JSON_LD)
    if not keep_graphs and rdf_format.supports_datasets:
        rdf_format = {RdfFormat.JSON_LD: RdfFormat.JSON_LD, RdfFormat.TRIG: RdfFormat.TURTLE,
                      RdfFormat.N_QUADS: RdfFormat.N_TRIPLES}[rdf_format]
    items: list[Quad] | list[Triple] = (
        list(dict.fromkeys(quads)) if keep_graphs else list(dict.fromkeys(q.triple for q in quads)))
    prefixes = PREFIXES if rdf_format in (RdfFormat.TURTLE, RdfFormat.TRIG, RdfFormat.RDF_XML) else None
    if isinstance(output, str | os.PathLike):
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        output = str(output)
    return serialize(items, output, rdf_format, prefixes=prefixes)
