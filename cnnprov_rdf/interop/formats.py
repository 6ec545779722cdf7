"""Which serialization a document is: told by its content, checked against its extension, overridable.

Every W3C PROV serialization is recognised: PROV-O in an RDF syntax (Turtle, TriG, N-Triples, N-Quads, RDF/XML,
JSON-LD), PROV-JSON, PROV-N, PROV-XML and PROV-JSON-LD. The content decides within a family (an `.xml` file is
PROV-XML when its root is `prov:document`, RDF/XML when it is `rdf:RDF`; a `.json` file is PROV-JSON-LD, JSON-LD
or PROV-JSON by its keys); a content of another family than the extension says is an error, never a guess.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..errors import ProvImportError

#: Formats read by pyoxigraph (PROV-O in an RDF syntax).
RDF_FORMATS = ("turtle", "trig", "ntriples", "nquads", "rdfxml", "jsonld")

#: Formats read by the `prov` package: name → its deserializer's format name.
PROV_FORMATS = {"provjson": "json", "provn": "provn", "provxml": "xml", "provjsonld": "jsonld"}

#: Every format name an import accepts.
ALL_FORMATS = (*RDF_FORMATS, *PROV_FORMATS)

#: The family of each format: what its bytes look like.
FAMILY = {
    "turtle": "text", "trig": "text", "ntriples": "text", "nquads": "text",
    "rdfxml": "xml", "provxml": "xml",
    "jsonld": "json", "provjson": "json", "provjsonld": "json",
    "provn": "provn",
}

#: File extension (lower case, no dot) → the format it suggests (the content may refine it within its family).
EXTENSION_FORMATS = {
    "ttl": "turtle", "turtle": "turtle", "trig": "trig", "nt": "ntriples", "nq": "nquads",
    "rdf": "rdfxml", "owl": "rdfxml", "xml": "provxml", "provx": "provxml",
    "jsonld": "jsonld", "json": "provjson", "provn": "provn",
}

PROV_NS = "http://www.w3.org/ns/prov#"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#: The context PROV-JSON-LD documents name (the `prov` package ships it; nothing is fetched).
PROV_JSONLD_CONTEXT = "https://openprovenance.org/prov-jsonld/context.jsonld"
#: The top-level keys a PROV-JSON document may have (PROV-JSON's record kinds, `prefix` and `bundle`).
PROV_JSON_KEYS = frozenset({
    "prefix", "entity", "activity", "agent", "wasGeneratedBy", "used", "wasInformedBy", "wasStartedBy",
    "wasEndedBy", "wasInvalidatedBy", "wasDerivedFrom", "wasAttributedTo", "wasAssociatedWith", "actedOnBehalfOf",
    "wasInfluencedBy", "alternateOf", "specializationOf", "mentionOf", "hadMember", "bundle",
})

_XML_ROOT = re.compile(rb"<(?!\?|!)([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_XMLNS = re.compile(rb"xmlns(?::([\w.-]+))?\s*=\s*[\"']([^\"']*)[\"']")
_PROVN_START = re.compile(r"\A(?:\s|//[^\n]*\n|/\*.*?\*/)*document\b", re.S)


def _first_byte(content: bytes) -> bytes:
    stripped = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    return stripped[:1]


def _xml_format(content: bytes) -> str | None:
    """`provxml` or `rdfxml` by the root element's namespace; None if the root is neither."""
    head = re.sub(rb"<!--.*?-->", b"", content[:65536], flags=re.S)
    head = re.sub(rb"<\?.*?\?>|<!DOCTYPE[^>]*>", b"", head, flags=re.S)
    root = _XML_ROOT.search(head)
    if root is None:
        return None
    prefix = (root.group(1) or b"").rstrip(b":").decode()
    namespaces = {(m.group(1) or b"").decode(): m.group(2).decode() for m in _XMLNS.finditer(head)}
    namespace, local = namespaces.get(prefix), root.group(2).decode()
    if namespace == PROV_NS and local == "document":
        return "provxml"
    if namespace == RDF_NS and local == "RDF":
        return "rdfxml"
    return None


def _names_prov_context(context: object) -> bool:
    if isinstance(context, str):
        return context.rstrip("#") == PROV_JSONLD_CONTEXT
    if isinstance(context, list):
        return any(_names_prov_context(item) for item in context)
    return False


def _json_format(data: object) -> str | None:
    """`provjsonld`, `jsonld` or `provjson` by the document's keys; None if it is none of them."""
    if isinstance(data, list):
        return "jsonld" if all(isinstance(item, dict) for item in data) else None
    if not isinstance(data, dict):
        return None
    if "@context" in data and _names_prov_context(data["@context"]):
        return "provjsonld"
    if any(key.startswith("@") for key in data):
        return "jsonld"
    if data and set(data) <= PROV_JSON_KEYS:
        return "provjson"
    return None


def sniff(content: bytes, file: str | os.PathLike[str]) -> tuple[str, str | None]:
    """(family, format or None) of a document's bytes: what the content itself says."""
    first = _first_byte(content)
    if first == b"<":
        fmt = _xml_format(content)
        if fmt is not None or content.lstrip().startswith(b"<?xml"):
            return "xml", fmt
        return "text", None  # an N-Triples line starts with `<` too
    if first in (b"{", b"["):
        try:
            data = json.loads(content.decode("utf-8-sig"))
        except UnicodeDecodeError as error:
            raise ProvImportError(f"{file}: JSON must be UTF-8 text ({error})") from error
        except json.JSONDecodeError as error:
            raise ProvImportError(f"{file}, line {error.lineno} column {error.colno}: malformed JSON: {error.msg}") \
                from error
        return "json", _json_format(data)
    try:
        text = content[:65536].decode("utf-8-sig", errors="replace")
    except UnicodeDecodeError:  # pragma: no cover - errors="replace" never raises
        text = ""
    if _PROVN_START.match(text):
        return "provn", "provn"
    return "text", None


def detect_format(file: str | os.PathLike[str], content: bytes, fmt: str | None = None) -> str:
    """The format to read `content` with: `fmt` when given (checked against the content's family), else the
    content's own, checked against the extension's family. Raises `ProvImportError` on any mismatch."""
    family, found = sniff(content, file)
    if fmt is not None:
        if fmt not in ALL_FORMATS:
            raise ProvImportError(f"{file}: unknown import format {fmt!r}; choose one of {', '.join(ALL_FORMATS)}")
        if FAMILY[fmt] != family:
            raise ProvImportError(
                f"{file}: --format {fmt} was asked for, but the content is {_describe(family, found)}"
            )
        return fmt
    extension = Path(file).suffix.lower().lstrip(".")
    expected = EXTENSION_FORMATS.get(extension)
    if expected is None:
        if found is not None:
            return found
        raise ProvImportError(
            f"{file}: cannot tell the format from the extension {Path(file).suffix!r} or the content; give one of "
            f"{', '.join(ALL_FORMATS)}"
        )
    if FAMILY[expected] != family:
        raise ProvImportError(
            f"{file}: the extension .{extension} says {_describe(FAMILY[expected], expected)}, but the content is "
            f"{_describe(family, found)}; give --format if the extension is wrong"
        )
    if family in ("xml", "json") and found is None:
        kinds = "PROV-XML (root prov:document) or RDF/XML (root rdf:RDF)" if family == "xml" else \
            "PROV-JSON, PROV-JSON-LD or JSON-LD"
        raise ProvImportError(f"{file}: this {family.upper()} document is not {kinds}")
    return found or expected


_NAMES = {"xml": "XML", "json": "JSON", "provn": "PROV-N", "text": "a text RDF syntax (Turtle, TriG, N-Triples)"}


def _describe(family: str, fmt: str | None) -> str:
    return f"{_NAMES[family]}" + (f" ({fmt})" if fmt and family in ("xml", "json") else "")
