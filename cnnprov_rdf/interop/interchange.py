"""Interchange with other provenance tools: export runs as PROV-N / PROV-JSON, import foreign provenance.

Export goes through the `prov` package's PROV-O reader: the runs' triples are read into a `ProvDocument`, which
writes PROV-N or PROV-JSON. Import accepts every W3C PROV serialization (the format told by the content, checked
against the extension: `interop.formats`): PROV-O in every RDF syntax pyoxigraph parses, and PROV-JSON, PROV-N,
PROV-XML and PROV-JSON-LD (read by `prov`, turned into PROV-O). Each document goes into a named graph of its own,
the shortcuts its qualified relations imply (`interop.qualified`) into `{graph}/shortcuts`, in one transaction.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import (
    BlankNode,
    CanonicalizationAlgorithm,
    Dataset,
    NamedNode,
    Quad,
    RdfFormat,
    Store,
    Triple,
    parse,
)

from ..errors import InterchangeError, ProvImportError
from ..graph.iris import DEFAULT_BASE, default_import_graph, shortcuts_graph_of
from ..graph.vocabulary import PREFIXES
from ..query.runs import run_quads
from ..storage.run_index import reindex
from ..storage.store import open_for_writing
from . import formats, jsonld, producers, qualified
from .export import FORMATS, run_graphs

#: Formats `export_prov` writes: name → the `prov` serializer's format name.
PROV_EXPORT_FORMATS = {"provn": "provn", "provjson": "json"}

#: RDF formats `import_file` reads with pyoxigraph (the names `cnnprov export --format` uses).
RDF_IMPORT_FORMATS: dict[str, RdfFormat] = {name: FORMATS[name] for name in formats.RDF_FORMATS}

#: PROV formats `import_file` reads with the `prov` package: name → the `prov` deserializer's format name.
PROV_IMPORT_FORMATS = formats.PROV_FORMATS

#: Every format name `import_file` accepts.
IMPORT_FORMATS = formats.ALL_FORMATS

#: File extension (lower case, no dot) → the import format it suggests (the content decides within its family).
EXTENSION_FORMATS = formats.EXTENSION_FORMATS

@dataclass(frozen=True)
class ImportResult:
    graph: str
    """IRI of the named graph the document went into."""
    quads_added: int
    """Quads that were not in the store before."""
    format: str
    """The import format used (one of `IMPORT_FORMATS`)."""
    already_present: bool
    """The graph already held every quad of the document (the same document was imported before)."""
    warnings: tuple[str, ...] = ()
    """What was tolerated (non-IRI prefixes, times typed), one line each."""


# --- export ----------------------------------------------------------------------------------------


def to_prov_document(store: Store, runs: Sequence[str] | None = None):  # type: ignore[no-untyped-def]
    """The runs' graphs (or every run's), merged, read by `prov` into a flat `prov.model.ProvDocument`."""
    from prov.model import ProvDocument
    from prov.serializers.provrdf import ProvRDFSerializer

    from .rdflib_bridge import to_rdflib_graph  # rdflib and prov load only for a PROV export, not for the CLI

    quads = [quad for graph in run_graphs(store, runs) for quad in run_quads(store, graph)]
    graph = to_rdflib_graph(quads, prefixes={**PREFIXES, "id": DEFAULT_BASE})
    document = ProvDocument()
    serializer = ProvRDFSerializer(document)
    with warnings.catch_warnings():  # prefixes minted for namespaces outside PREFIXES: expected, not a problem
        warnings.simplefilter("ignore")
        serializer.decode_document(graph, document)  # type: ignore[arg-type]  # prov reads a Graph as well
    return document


def export_prov(store: Store, fmt: str = "provn", runs: Sequence[str] | None = None) -> str:
    """The runs (run IRIs, ids or prefixes; all runs when None) as PROV-N (`provn`) or PROV-JSON (`provjson`)."""
    if fmt not in PROV_EXPORT_FORMATS:
        raise InterchangeError(f"unknown PROV format {fmt!r}; choose one of {', '.join(PROV_EXPORT_FORMATS)}")
    document = to_prov_document(store, runs)
    if fmt == "provjson":
        return document.serialize(format="json", indent=2)
    return document.serialize(format="provn")


# --- import ----------------------------------------------------------------------------------------


def import_format(file: str | os.PathLike[str], fmt: str | None = None, content: bytes | None = None) -> str:
    """The import format: `fmt`, or else what the content says, checked against the extension
    (`interop.formats.detect_format`). Without `content` the file is read."""
    if content is None:
        content = _read(file)
    return formats.detect_format(file, content, fmt)


def _read(file: str | os.PathLike[str]) -> bytes:
    try:
        return Path(file).read_bytes()
    except OSError as error:
        raise ProvImportError(f"{file}: cannot read the file: {error.strerror or error}") from error


_POSITION = re.compile(r"line (\d+)")


def _rdf_error(file: str | os.PathLike[str], fmt: str, error: SyntaxError) -> ProvImportError:
    line = error.lineno
    if line is None:
        match = _POSITION.search(str(error))
        line = int(match.group(1)) if match else None
    where = f"{file}, line {line}" if line is not None else str(file)
    return ProvImportError(f"{where}: malformed {fmt}: {error.msg or error}")


def _parse_rdf(content: bytes, file: str | os.PathLike[str], fmt: str, base_iri: str) -> list[Triple]:
    try:
        return [item.triple for item in parse(content, format=RDF_IMPORT_FORMATS[fmt], base_iri=base_iri)]
    except SyntaxError as error:
        raise _rdf_error(file, fmt, error) from error
    except ValueError as error:  # e.g. invalid IRIs found while building terms
        raise ProvImportError(f"{file}: malformed {fmt}: {error}") from error


def _parse_prov(
    content: bytes, file: str | os.PathLike[str], fmt: str, graph: str, notes: list[str]
) -> list[Triple]:
    from prov.model import ProvDocument

    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ProvImportError(f"{file}: {fmt} must be UTF-8 text ({error})") from error
    if fmt == "provjson":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ProvImportError(
                f"{file}, line {error.lineno} column {error.colno}: malformed JSON: {error.msg}"
            ) from error
        if not isinstance(data, dict):
            raise ProvImportError(f"{file}: a PROV-JSON document must be a JSON object, not {type(data).__name__}")
        fixed = producers.fix_prefixes(data, graph)
        if fixed:
            notes.extend(fixed)
            text = json.dumps(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source: str | bytes = text.encode("utf-8") if fmt == "provxml" else text  # lxml wants bytes
            document = ProvDocument.deserialize(content=source, format=PROV_IMPORT_FORMATS[fmt])
            nquads = document.serialize(format="rdf", rdf_format="nquads")
    except Exception as error:  # prov raises many kinds (ProvNSyntaxError, ProvJSONException, ProvException...)
        message = " ".join((str(error) or type(error).__name__).split())[:300]
        line = getattr(error, "lineno", None)  # lxml's XMLSyntaxError for PROV-XML
        match = _POSITION.search(message)
        where = str(file)
        if isinstance(line, int):
            where = f"{file}, line {line}"
        elif match and not message.startswith(str(file)):
            where = f"{file}, line {match.group(1)}"
        raise ProvImportError(f"{where}: not a valid {fmt} document: {message}") from error
    # prov writes bundles as named graphs: flattened into the document's one graph like any other quad format.
    return [quad.triple for quad in parse(nquads, format=RdfFormat.N_QUADS)]


def read_document(
    content: bytes, file: str | os.PathLike[str], fmt: str, graph: NamedNode, notes: list[str] | None = None
) -> list[Quad]:
    """Every statement of a document, as quads in `graph`, and the shortcuts its qualified relations imply in
    `shortcuts_graph_of(graph)`; blank nodes canonically labelled, so the same document always gives the same
    quads. What was tolerated (see `interop.producers`) is appended to `notes`."""
    notes = [] if notes is None else notes
    if fmt in RDF_IMPORT_FORMATS:
        if fmt == "jsonld":
            content = jsonld.inline_contexts(content, file)
        triples = _parse_rdf(content, file, fmt, base_iri=graph.value)
    else:
        triples = _parse_prov(content, file, fmt, graph.value, notes)
    triples, typed = producers.tolerate(triples)
    if typed:
        notes.append(f"{typed} PROV time(s) written as strings were typed xsd:dateTime")
    shortcut_graph = shortcuts_graph_of(graph)
    quads = [Quad(t.subject, t.predicate, t.object, graph) for t in triples]
    quads += [Quad(t.subject, t.predicate, t.object, shortcut_graph) for t in qualified.shortcuts(triples)]
    if any(isinstance(term, BlankNode) for quad in quads for term in (quad.subject, quad.object)):
        dataset = Dataset(quads)
        dataset.canonicalize(CanonicalizationAlgorithm.RDFC_1_0)
        quads = list(dataset)
    return list(dict.fromkeys(quads))


def import_file(
    store_path: str | os.PathLike[str],
    file: str | os.PathLike[str],
    graph: str | None = None,
    fmt: str | None = None,
) -> ImportResult:
    """Import a provenance document into its own named graph of the store at `store_path`, atomically.

    The format comes from `fmt` or the file extension (see `IMPORT_FORMATS`, `EXTENSION_FORMATS`). The graph is
    `graph` or one named after the file's content hash, so importing the same document twice adds nothing.
    Any error (unreadable file, malformed content) raises `ProvImportError` before the store is touched.
    """
    content = _read(file)
    fmt = import_format(file, fmt, content)
    if graph is not None:
        try:
            target = NamedNode(graph)
        except ValueError as error:
            raise ProvImportError(f"{file}: {graph!r} is not a valid graph IRI: {error}") from error
    else:
        target = default_import_graph(content)
    notes: list[str] = []
    quads = read_document(content, file, fmt, target, notes)
    store = open_for_writing(store_path)
    try:
        existed = store.contains_named_graph(target)
        new = [quad for quad in quads if quad not in store] if existed else quads
        if new:
            store.bulk_extend(new)  # the bulk loader: 2-3x the transactional rate; a rerun completes a cut-off one
            reindex(store, target)  # runs in the document (a cnnprov export, say) join the run index
            store.flush()
        return ImportResult(target.value, len(new), fmt, already_present=existed and not new, warnings=tuple(notes))
    finally:
        del store
