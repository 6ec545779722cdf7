"""JSON-LD without the network: remote contexts replaced by the copies the package ships, or refused.

pyoxigraph's JSON-LD parser loads no remote context. A document naming one that is shipped (the PROV-JSON-LD
context, as the `prov` package ships it) gets it inlined; any other remote context is an error that names it:
nothing is ever fetched.
"""

from __future__ import annotations

import json
import os
from functools import cache
from importlib.resources import files
from typing import Any

from ..errors import ProvImportError

#: Remote context IRIs whose content the package ships.
PROV_JSONLD_CONTEXTS = (
    "https://openprovenance.org/prov-jsonld/context.jsonld",
    "http://openprovenance.org/prov-jsonld/context.jsonld",
)


@cache
def prov_context() -> dict[str, Any]:
    """The PROV-JSON-LD context, the copy shipped with the `prov` package."""
    text = files("prov.serializers").joinpath("prov-jsonld-context.jsonld").read_text(encoding="utf-8")
    data = json.loads(text)
    return data.get("@context", data) if isinstance(data, dict) else data


def _inline(context: Any, file: str | os.PathLike[str]) -> Any:
    if isinstance(context, str):
        if context.rstrip("#") in PROV_JSONLD_CONTEXTS:
            return prov_context()
        raise ProvImportError(f"{file}: the JSON-LD context {context!r} is remote and is not fetched; inline it")
    if isinstance(context, list):
        return [_inline(item, file) for item in context]
    return context


def _walk(node: Any, file: str | os.PathLike[str]) -> Any:
    if isinstance(node, dict):
        return {key: _inline(value, file) if key == "@context" else _walk(value, file) for key, value in node.items()}
    if isinstance(node, list):
        return [_walk(item, file) for item in node]
    return node


def inline_contexts(content: bytes, file: str | os.PathLike[str]) -> bytes:
    """The JSON-LD document with every remote context it names replaced by its shipped copy."""
    try:
        data = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProvImportError(f"{file}: malformed JSON-LD: {error}") from error
    return json.dumps(_walk(data, file)).encode("utf-8")
