"""Which SPARQL operations a served endpoint refuses: those that make the server send requests (SSRF).

`SERVICE <url>` (in a query or in an update's WHERE) and `LOAD <url>` make Oxigraph fetch a URL of the query's
choosing. `outbound_keyword` finds them lexically: strings, IRIs and comments are blanked first (scanned left
to right, so a `#` inside a string or a quote inside a comment is handled as SPARQL does), `\\u` escapes are
checked both raw and decoded, and any SERVICE or LOAD keyword that remains is reported. It errs on the side of
refusing: a local name such as `ex:a.service` is refused too, with a message that says why.
"""

from __future__ import annotations

import re

_SKIPPED = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n\r]|\\.)*"'
    r"|'(?:[^'\\\n\r]|\\.)*'"
    r'|<[^<>"{}|^`\\\x00-\x20]*>'
    r"|#[^\n\r]*",
    re.DOTALL,
)
#: A keyword, not a variable (`?service`), a prefix (`service:`) or a local name after a prefix (`ex:service`).
_OUTBOUND = re.compile(r"(?<![?$:\w])(SERVICE|LOAD)(?![\w:])", re.IGNORECASE)
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


def _decoded(text: str) -> str:
    def char(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code < 0x110000 else "\ufffd"

    return _ESCAPE.sub(char, text)


def outbound_keyword(operation: str) -> str | None:
    """`SERVICE` or `LOAD` if the query or update would make the server send a request, else None."""
    for text in {operation, _decoded(operation)}:
        found = _OUTBOUND.search(_SKIPPED.sub(" ", text))
        if found:
            return found.group(1).upper()
    return None


def refusal(operation: str) -> str | None:
    """The one-line reason a served endpoint refuses `operation`, or None when it may run."""
    keyword = outbound_keyword(operation)
    if keyword is None:
        return None
    return (f"{keyword} is refused: it would make this server send requests to other addresses "
            f"(query those endpoints directly, or federate with `cnnprov query --source`)")
