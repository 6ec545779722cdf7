"""Interchange with other provenance tools: export runs as PROV-N / PROV-JSON, import foreign provenance.

Export goes through the `prov` package's PROV-O reader: the runs' triples are read into a `ProvDocument`, which
writes PROV-N or PROV-JSON. Import accepts every W3C PROV serialization (the format told by the content, checked
against the extension: `interop.formats`): PROV-O in every RDF syntax pyoxigraph parses, and PROV-JSON, PROV-N,
PROV-XML and PROV-JSON-LD (read by `prov`, turned into PROV-O). Each document goes into a named graph of its own,
the shortcuts its qualified relations imply (`interop.qualified`) into `{graph}/shortcuts`: bounded by `limits`,
parsed as a stream and written in chunks by `streaming` (a failed import removes its graphs again).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pyoxigraph import NamedNode, Quad, RdfFormat, Store, Triple, parse

from ..errors import ImportLimitError, InterchangeError, ProvImportError
from ..graph.iris import DEFAULT_BASE, import_graph_for_hash, shortcuts_graph_of
from ..graph.vocabulary import PREFIXES
from ..query.runs import run_quads
from ..storage.run_index import reindex
from ..storage.store import open_for_writing
from . import formats, jsonld, producers, qualified
from .export import FORMATS, run_graphs
from .limits import Deadline, ImportLimits, check_before_sniffing, check_content, check_size, deadline
from .streaming import content_hash, parsed_file, relabelled, write_new_graph

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
    (`interop.formats.detect_format`). Without `content` the file's head is read (`_head`)."""
    return formats.detect_format(file, _head(file) if content is None else content, fmt)


def _head(file: str | os.PathLike[str]) -> bytes:
    """What the format sniffer reads: a JSON document whole (its keys tell PROV-JSON from JSON-LD; its size and
    depth are checked first), else the first 64 KiB."""
    try:
        with open(file, "rb") as handle:
            head = handle.read(65536)
            if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
                head += handle.read()
            return head
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


def _parse_prov(
    content: bytes, file: str | os.PathLike[str], fmt: str, graph: str, notes: list[str], max_depth: int
) -> list[Triple]:
    from prov.model import ProvDocument

    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ProvImportError(f"{file}: {fmt} must be UTF-8 text ({error})") from error
    if fmt == "provjson":
        try:
            data = json.loads(text)
        except RecursionError:
            raise ImportLimitError(f"{file}: nested too deep for the JSON reader (the limit set with --max-depth, "
                                   f"{max_depth}, is past what it can read)") from None
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
    except RecursionError:
        raise ImportLimitError(f"{file}: nested too deep for the PROV reader (lower --max-depth)") from None
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
    file: str | os.PathLike[str], fmt: str, graph: NamedNode, seed: str, limits: ImportLimits, clock: Deadline,
    notes: list[str] | None = None,
) -> Iterator[Quad]:
    """Every statement of a document, as quads in `graph`, streamed, then the shortcuts its qualified relations
    imply in `shortcuts_graph_of(graph)`; blank nodes labelled from `seed` (the content hash) in order of
    appearance, so the same document always gives the same quads. What was tolerated (see `interop.producers`)
    is appended to `notes` once the stream has ended."""
    notes = [] if notes is None else notes
    check_content(file, fmt, limits, clock)
    statements: Iterable[Triple | Quad]
    if fmt == "jsonld":  # its contexts inlined from the copy `prov` ships (nothing fetched): read whole
        content = jsonld.inline_contexts(Path(file).read_bytes(), file)
        statements = parse(content, format=RDF_IMPORT_FORMATS[fmt], base_iri=graph.value)
    elif fmt in RDF_IMPORT_FORMATS:
        statements = parsed_file(file, RDF_IMPORT_FORMATS[fmt], base_iri=graph.value)
    else:
        statements = _parse_prov(Path(file).read_bytes(), file, fmt, graph.value, notes, limits.max_depth)
    typed = [0]

    def tolerated() -> Iterator[Triple]:
        for statement in statements:
            (triple,), count = producers.tolerate([statement.triple if isinstance(statement, Quad) else statement])
            typed[0] += count
            yield triple

    collector = qualified.ShortcutCollector()
    yield from collector.watch(relabelled(tolerated(), graph, seed, clock))
    if typed[0]:
        notes.append(f"{typed[0]} PROV time(s) written as strings were typed xsd:dateTime")
    shortcut_graph = shortcuts_graph_of(graph)
    for t in collector.shortcuts():
        yield Quad(t.subject, t.predicate, t.object, shortcut_graph)


def _syntax_error(file: str | os.PathLike[str], fmt: str, error: Exception) -> ProvImportError:
    if isinstance(error, SyntaxError):
        return _rdf_error(file, fmt, error)
    return ProvImportError(f"{file}: malformed {fmt}: {error}")  # e.g. invalid IRIs found while building terms


def import_file(
    store_path: str | os.PathLike[str],
    file: str | os.PathLike[str],
    graph: str | None = None,
    fmt: str | None = None,
    limits: ImportLimits = ImportLimits(),  # noqa: B008  # frozen, so one shared default is safe
) -> ImportResult:
    """Import a provenance document into its own named graph of the store at `store_path`.

    The format comes from `fmt` or the file extension (see `IMPORT_FORMATS`, `EXTENSION_FORMATS`). The graph is
    `graph` or one named after the file's content hash, so importing the same document twice adds nothing.
    `limits` bound the file's size, its nesting depth and the time taken (`ImportLimitError` names the one
    passed). The document is parsed as a stream and written in chunks; any error (unreadable file, malformed
    or hostile content, a limit) raises `ProvImportError` and leaves the store as it was.
    """
    try:
        check_size(file, limits)
        digest = content_hash(file)
    except OSError as error:
        raise ProvImportError(f"{file}: cannot read the file: {error.strerror or error}") from error
    with deadline(file, limits.timeout) as clock:
        check_before_sniffing(file, limits, clock)  # entities and nesting, before the sniffer reads JSON
    fmt = import_format(file, fmt, _head(file))
    if graph is not None:
        try:
            target = NamedNode(graph)
        except ValueError as error:
            raise ProvImportError(f"{file}: {graph!r} is not a valid graph IRI: {error}") from error
    else:
        target = import_graph_for_hash(digest)
    notes: list[str] = []  # what the document's parse tolerated (filled again by each pass)
    with deadline(file, limits.timeout) as clock:
        def document() -> Iterator[Quad]:
            notes.clear()
            return _checked(file, fmt, read_document(file, fmt, target, digest[:16], limits, clock, notes))

        # a first pass parses the whole document, storing nothing: malformed input fails before the store opens
        for _ in document():
            pass
        quads = document()
        failure = None
        store = open_for_writing(store_path)
        try:
            return replace(_store(store, target, fmt, quads, explicit=graph is not None), warnings=tuple(notes))
        except ProvImportError as error:  # e.g. the deadline, while writing (the new graph was removed again)
            failure = str(error)
        finally:
            del store  # closed before the error leaves: no frame of its traceback keeps the store open
        raise ImportLimitError(failure) if "limit" in failure else ProvImportError(failure)


def _checked(file: str | os.PathLike[str], fmt: str, quads: Iterator[Quad]) -> Iterator[Quad]:
    """`quads`, with parser errors turned into `ProvImportError`s that name the file (and line)."""
    try:
        yield from quads
    except ProvImportError:
        raise
    except (SyntaxError, ValueError) as error:
        raise _syntax_error(file, fmt, error) from None
    except OSError as error:
        raise ProvImportError(f"{file}: cannot read the file: {error.strerror or error}") from None


def _store(store: Store, target: NamedNode, fmt: str, quads: Iterator[Quad], *, explicit: bool) -> ImportResult:
    if not store.contains_named_graph(target):
        added = write_new_graph(store, target, quads, also=(shortcuts_graph_of(target),))
        reindex(store, target)  # runs in the document (a cnnprov export, say) join the run index
        store.flush()
        return ImportResult(target.value, added, fmt, already_present=False)
    if not explicit:  # the graph named after this content: the same document was imported before
        return ImportResult(target.value, 0, fmt, already_present=True)
    new = list(dict.fromkeys(quad for quad in quads if quad not in store))
    if new:
        store.extend(new)
        reindex(store, target)
        store.flush()
    return ImportResult(target.value, len(new), fmt, already_present=not new)
