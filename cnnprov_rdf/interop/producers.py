"""Tolerating what real PROV producers write: non-IRI prefixes, the old XSD namespace, times as plain strings.

* A PROV-JSON prefix that is not an absolute IRI (yProv4ML writes `"default": "<experiment name>"` and
  `"provml": "prov-ml"`) is resolved under a base derived from the import's graph, `{graph}/{value}/`, with a
  warning that names it. Prefixes that are IRIs are kept as they are.
* Datatypes in the 2000/10 XML Schema namespace (yProv4ML's `xsd` prefix) are read as XSD 1.1 (2001) ones.
* A PROV time (`prov:startedAtTime`, `endedAtTime`, `generatedAtTime`, `invalidatedAtTime`, `atTime`) written
  as a string is typed `xsd:dateTime` when it parses as an ISO 8601 date-time (also in yProv4ML's forms
  `"<time>^^xsd:dateTime"` and `"{'$': '<time>', 'type': 'xsd:dateTime'}"`); a string that does not parse
  is kept as it is.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pyoxigraph import Literal, NamedNode, Triple

from ..graph.vocabulary import PROV_NS, XSD_NS

OLD_XSD_NS = "http://www.w3.org/2000/10/XMLSchema#"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_TIME_PROPERTIES = frozenset(NamedNode(PROV_NS + name) for name in (
    "startedAtTime", "endedAtTime", "generatedAtTime", "invalidatedAtTime", "atTime"))
_XSD_STRING = NamedNode(XSD_NS + "string")
_XSD_DATETIME = NamedNode(XSD_NS + "dateTime")
_WRAPPED = re.compile(r"""^\{\s*['"]\$['"]\s*:\s*['"]([^'"]+)['"].*\}$""")


def is_iri(value: str) -> bool:
    """Whether a prefix value is an absolute IRI (has a scheme)."""
    return bool(_SCHEME.match(value)) and " " not in value


def fix_prefixes(document: dict[str, Any], graph: str) -> list[str]:
    """Replace, in place, every prefix of a PROV-JSON document (and of its bundles) that is not an IRI by
    `{graph}/{value}/`; returns one warning per replaced prefix."""
    warnings: list[str] = []

    def fix(prefixes: object, where: str) -> None:
        if not isinstance(prefixes, dict):
            return
        for name, value in list(prefixes.items()):
            if isinstance(value, str) and not is_iri(value):
                resolved = f"{graph}/{quote(value, safe='')}/"
                prefixes[name] = resolved
                warnings.append(f"prefix {name!r}{where} is {value!r}, not an IRI: read as <{resolved}>")

    fix(document.get("prefix"), "")
    bundles = document.get("bundle")
    if isinstance(bundles, dict):
        for bundle_id, bundle in bundles.items():
            if isinstance(bundle, dict):
                fix(bundle.get("prefix"), f" (bundle {bundle_id})")
    return warnings


def parse_time(text: str) -> str | None:
    """The ISO 8601 date-time in `text` (as given, `T` separated) if it is one, else None."""
    text = text.strip()
    wrapped = _WRAPPED.match(text)
    if wrapped:
        text = wrapped.group(1)
    text = text.removesuffix("^^xsd:dateTime").strip()
    candidate = text.replace(" ", "T", 1) if re.match(r"^\d{4}-\d\d-\d\d \d", text) else text
    try:
        datetime.fromisoformat(candidate.replace("Z", "+00:00"))
    except ValueError:
        return None
    return candidate if "T" in candidate else None


def tolerate(triples: list[Triple]) -> tuple[list[Triple], int]:
    """`triples` with old-XSD datatypes renamed and string PROV times typed; and how many times were typed."""
    out, typed = [], 0
    for t in triples:
        o = t.object
        if isinstance(o, Literal) and o.datatype.value.startswith(OLD_XSD_NS):
            o = Literal(o.value, datatype=NamedNode(XSD_NS + o.datatype.value.removeprefix(OLD_XSD_NS)))
        if t.predicate in _TIME_PROPERTIES and isinstance(o, Literal) and o.datatype == _XSD_STRING:
            parsed = parse_time(o.value)
            if parsed is not None:
                o, typed = Literal(parsed, datatype=_XSD_DATETIME), typed + 1
        out.append(t if o is t.object else Triple(t.subject, t.predicate, o))
    return out, typed
