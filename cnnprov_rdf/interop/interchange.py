"""Interchange with other provenance tools: export runs as PROV-N / PROV-JSON, import foreign provenance.

Export goes through the `prov` package's PROV-O reader: the runs' triples are read into a `ProvDocument`, which
writes PROV-N or PROV-JSON. Import accepts every RDF syntax pyoxigraph parses plus PROV-JSON and PROV-N (read by
`prov`, turned into PROV-O), and puts each document into a named graph of its own, in a single transaction.
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
    parse,
)

from ..errors import InterchangeError, ProvImportError
from ..graph.iris import DEFAULT_BASE, default_import_graph
from ..graph.vocabulary import PREFIXES, PROV_NS
from ..query.runs import run_quads
from ..storage.run_index import reindex
from ..storage.store import open_for_writing
from .export import FORMATS, run_graphs

#: Formats `export_prov` writes: name → the `prov` serializer's format name.
PROV_EXPORT_FORMATS = {"provn": "provn", "provjson": "json"}

#: RDF formats `import_file` reads with pyoxigraph (the names `cnnprov export --format` uses).
RDF_IMPORT_FORMATS: dict[str, RdfFormat] = FORMATS

#: PROV formats `import_file` reads with the `prov` package: name → the `prov` deserializer's format name.
PROV_IMPORT_FORMATS = {"provjson": "json", "provn": "provn"}

#: Every format name `import_file` accepts.
IMPORT_FORMATS = (*RDF_IMPORT_FORMATS, *PROV_IMPORT_FORMATS)

#: File extension (lower case, no dot) → import format.
EXTENSION_FORMATS = {
    "ttl": "turtle",
    "turtle": "turtle",
    "trig": "trig",
    "nt": "ntriples",
    "nq": "nquads",
    "jsonld": "jsonld",
    "rdf": "rdfxml",
    "owl": "rdfxml",
    "xml": "rdfxml",
    "json": "provjson",
    "provn": "provn",
}

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


def import_format(file: str | os.PathLike[str], fmt: str | None = None) -> str:
    """The import format named by `fmt`, or else by the file's extension."""
    if fmt is not None:
        if fmt not in IMPORT_FORMATS:
            raise ProvImportError(f"{file}: unknown import format {fmt!r}; choose one of {', '.join(IMPORT_FORMATS)}")
        return fmt
    extension = Path(file).suffix.lower().lstrip(".")
    if extension not in EXTENSION_FORMATS:
        raise ProvImportError(
            f"{file}: cannot tell the format from the extension {Path(file).suffix!r}; give one of "
            f"{', '.join(IMPORT_FORMATS)} (extensions: {', '.join('.' + e for e in EXTENSION_FORMATS)})"
        )
    return EXTENSION_FORMATS[extension]


_POSITION = re.compile(r"line (\d+)")


def _rdf_error(file: str | os.PathLike[str], fmt: str, error: SyntaxError) -> ProvImportError:
    line = error.lineno
    if line is None:
        match = _POSITION.search(str(error))
        line = int(match.group(1)) if match else None
    where = f"{file}, line {line}" if line is not None else str(file)
    return ProvImportError(f"{where}: malformed {fmt}: {error.msg or error}")


def _parse_rdf(content: bytes, file: str | os.PathLike[str], fmt: str, base_iri: str) -> list:  # type: ignore[type-arg]
    try:
        return [item.triple for item in parse(content, format=RDF_IMPORT_FORMATS[fmt], base_iri=base_iri)]
    except SyntaxError as error:
        raise _rdf_error(file, fmt, error) from error
    except ValueError as error:  # e.g. invalid IRIs found while building terms
        raise ProvImportError(f"{file}: malformed {fmt}: {error}") from error


def _parse_prov(content: bytes, file: str | os.PathLike[str], fmt: str) -> list:  # type: ignore[type-arg]
    from prov.model import ProvDocument

    try:
        text = content.decode("utf-8")
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
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            document = ProvDocument.deserialize(content=text, format=PROV_IMPORT_FORMATS[fmt])
            nquads = document.serialize(format="rdf", rdf_format="nquads")
    except Exception as error:  # prov raises many kinds (ProvNSyntaxError, ProvJSONException, ProvException...)
        message = str(error) or type(error).__name__
        match = _POSITION.search(message)
        where = f"{file}, line {match.group(1)}" if match and not message.startswith(str(file)) else str(file)
        raise ProvImportError(f"{where}: not a valid {fmt} document: {message}") from error
    # prov writes bundles as named graphs: flattened into the document's one graph like any other quad format.
    triples = [quad.triple for quad in parse(nquads, format=RdfFormat.N_QUADS)]
    return triples + _shortcuts(triples)


#: PROV-O qualified relation → (the property naming its influencer, the unqualified "shortcut" property).
_QUALIFIED = {
    "qualifiedUsage": ("entity", "used"),
    "qualifiedGeneration": ("activity", "wasGeneratedBy"),
    "qualifiedAssociation": ("agent", "wasAssociatedWith"),
    "qualifiedCommunication": ("activity", "wasInformedBy"),
    "qualifiedDerivation": ("entity", "wasDerivedFrom"),
    "qualifiedDelegation": ("agent", "actedOnBehalfOf"),
    "qualifiedAttribution": ("agent", "wasAttributedTo"),
    "qualifiedStart": ("entity", "wasStartedBy"),
    "qualifiedEnd": ("entity", "wasEndedBy"),
    "qualifiedInvalidation": ("activity", "wasInvalidatedBy"),
    "qualifiedInfluence": ("influencer", "wasInfluencedBy"),
}


def _shortcuts(triples: list) -> list:  # type: ignore[type-arg]
    """The unqualified PROV-O triples that qualified relations imply (`prov` writes relations with attributes
    only in the qualified form), so queries on e.g. `prov:wasGeneratedBy` see them too."""
    from pyoxigraph import Triple

    qualified = {NamedNode(PROV_NS + name): (NamedNode(PROV_NS + by), NamedNode(PROV_NS + short))
                 for name, (by, short) in _QUALIFIED.items()}
    influencers: dict = {}  # type: ignore[type-arg]
    for t in triples:
        influencers.setdefault((t.subject, t.predicate), []).append(t.object)
    found = []
    for t in triples:
        if t.predicate in qualified:
            by, short = qualified[t.predicate]
            found += [Triple(t.subject, short, o) for o in influencers.get((t.object, by), [])]
    return found


def read_document(
    content: bytes, file: str | os.PathLike[str], fmt: str, graph: NamedNode
) -> list[Quad]:
    """Every statement of a document, as quads in `graph`; blank nodes canonically labelled, so the same
    document always gives the same quads."""
    if fmt in RDF_IMPORT_FORMATS:
        triples = _parse_rdf(content, file, fmt, base_iri=graph.value)
    else:
        triples = _parse_prov(content, file, fmt)
    quads = [Quad(t.subject, t.predicate, t.object, graph) for t in triples]
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
    fmt = import_format(file, fmt)
    try:
        content = Path(file).read_bytes()
    except OSError as error:
        raise ProvImportError(f"{file}: cannot read the file: {error.strerror or error}") from error
    if graph is not None:
        try:
            target = NamedNode(graph)
        except ValueError as error:
            raise ProvImportError(f"{file}: {graph!r} is not a valid graph IRI: {error}") from error
    else:
        target = default_import_graph(content)
    quads = read_document(content, file, fmt, target)
    store = open_for_writing(store_path)
    try:
        existed = store.contains_named_graph(target)
        new = [quad for quad in quads if quad not in store] if existed else quads
        if new:
            store.extend(new)
            reindex(store, target)  # runs in the document (a cnnprov export, say) join the run index
            store.flush()
        return ImportResult(target.value, len(new), fmt, already_present=existed and not new)
    finally:
        del store
