"""What a SPARQL endpoint's engine does, told once per source, and how queries are sent so that every canned
query gives the same rows on every SPARQL 1.1 engine.

* **Default graph.** Our runs live in named graphs and the canned queries are written against the union of all
  graphs. An engine whose default graph is that union (Oxigraph with `--union-default-graph`, Virtuoso) gets the
  queries as they are. One that serves named graphs apart from its default graph (the stock Oxigraph server,
  GraphDB, Fuseki by default) gets them with the dataset made explicit, by the SPARQL protocol: every named graph
  as a `default-graph-uri` *and* a `named-graph-uri` (so `GRAPH ?g` patterns still see each graph). The `.rq`
  text is never rewritten. Told by `probe_union`: a quad of some named graph, then asked for in the default graph.
* **Number precision.** Virtuoso 7 writes `xsd:double` values in results with 6 significant digits
  (`0.123457`), though it keeps 15; its `STR()` gives those 15. For it, a SELECT is wrapped so that each variable
  also comes back as `STR(?v)`, and doubles are rebuilt from that text (`nan`/`inf` → `NaN`/`INF`). The wrap
  repeats the query's final `ORDER BY` (and `LIMIT`/`OFFSET`), so rows keep their order.
* **SAMPLE.** Virtuoso 7's `SAMPLE` over a group with unbound values drops an integer 0 (seen: a hyperparameter
  `initial_epoch = 0` came back unbound from the leaderboard's `SAMPLE` of UNION branches). Any value of the
  group is a valid `SAMPLE`; Virtuoso's `MAX` skips unbound values and keeps a 0, so for it `SAMPLE(` is sent as
  `MAX(` (`virtuoso_text`; outside strings, IRIs and comments). Oxigraph's `MAX` would not do: an unbound value
  makes it unbound.
* **Portable text.** Apart from that, the `.rq` files hold no engine-specific text; they avoid what Virtuoso 7 evaluates
  otherwise (README, "Any SPARQL 1.1 store"): an unbound variable inside `CONCAT`/`STR`/`COALESCE` (guard it
  with `BOUND`), `CONCAT`/`REPLACE` of a subquery's string without `STR()`, `MINUS` over a property path, and
  unbound values inside `MIN`/`MAX`/`SAMPLE`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pyoxigraph import Literal, NamedNode

XSD = "http://www.w3.org/2001/XMLSchema#"
_FLOATING = {XSD + "double", XSD + "float", XSD + "decimal"}
LEX_SUFFIX = "__lex"

_SAMPLE = ("SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } FILTER(!isBlank(?s) && !isBlank(?o) && "
           "!isLiteral(?o)) } LIMIT 1")
GRAPHS = "SELECT ?g WHERE { GRAPH ?g { } }"


@dataclass
class EngineProfile:
    """What was told about one endpoint; `union_default` None until a named graph could be sampled."""

    server: str = ""
    union_default: bool | None = None

    @property
    def virtuoso(self) -> bool:
        return "virtuoso" in self.server.lower()


Select = Callable[[str, Sequence[str]], tuple[list[str], list[tuple[Any, ...]]]]
"""select(query, default graphs) → (variables, rows): one request to the endpoint."""

Ask = Callable[[str], bool]


def probe_union(select: Select, ask: Ask) -> bool | None:
    """Whether the default graph is the union of the named graphs; None while there is no named graph."""
    _, rows = select(_SAMPLE, ())
    if not rows:
        return None
    _, s, p, o = rows[0]
    return ask(f"ASK {{ {s} {p} {o} }}")


def named_graphs(select: Select) -> list[str]:
    """Every named graph of the endpoint."""
    _, rows = select(GRAPHS, ())
    return [row[0].value for row in rows if isinstance(row[0], NamedNode)]


_SELECT = re.compile(r"\bSELECT\s+(DISTINCT\s+|REDUCED\s+)?", re.I)
_PROLOGUE = re.compile(r"^((?:\s*(?:#[^\n]*|PREFIX\s+[\w.-]*:\s*<[^>]*>|BASE\s+<[^>]*>))*)", re.I)
_TAIL = re.compile(r"\}\s*((?:ORDER\s+BY\s+[^{}]*?)?(?:\s*(?:LIMIT|OFFSET)\s+\d+)*)\s*$", re.I | re.S)


def lexical_wrap(query: str, variables: Sequence[str]) -> str:
    """`query` as a subquery, each variable also projected as `STR(?v)` (`?v__lex`), its final ORDER BY /
    LIMIT / OFFSET repeated outside."""
    prologue = _PROLOGUE.match(query)
    head = prologue.group(1) if prologue else ""
    body = query[len(head):]
    tail = _TAIL.search(body)
    modifiers = tail.group(1).strip() if tail else ""
    projection = " ".join(f"?{v} (STR(?{v}) AS ?{v}{LEX_SUFFIX})" for v in variables)
    return f"{head}\nSELECT {projection} WHERE {{ {{ {body} }} }} {modifiers}"


#: What a query's text holds that is not SPARQL syntax: IRIs, strings (either quote) and comments.
_TEXT = r'<[^<>\s]*>|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*'
_COMMENT = re.compile(_TEXT)
_PROJECTED = re.compile(r"\(\s*.*?\s+AS\s+\?(\w+)\s*\)|\?(\w+)", re.I | re.S)


_SAMPLE_CALL = re.compile(_TEXT + r"|(\bSAMPLE\s*\()", re.I)


def virtuoso_text(query: str) -> str:
    """The query as Virtuoso 7 evaluates it like other engines: every `SAMPLE(` aggregate as `MAX(`."""
    return _SAMPLE_CALL.sub(lambda m: "MAX(" if m.group(1) else m.group(), query)


def projected_variables(query: str) -> list[str] | None:
    """The variables the top-level SELECT projects (its `?x` and `(… AS ?x)`), or None (`SELECT *`, no SELECT)."""
    uncommented = _COMMENT.sub(lambda m: "" if m.group().startswith("#") else m.group(), query)
    match = _SELECT.search(uncommented)
    if match is None:
        return None
    clause = re.split(r"(?<![?$\w])WHERE\b|\{", uncommented[match.end():], maxsplit=1, flags=re.I)[0]
    if clause.strip().startswith("*"):
        return None
    names = [a or b for a, b in _PROJECTED.findall(clause)]
    return list(dict.fromkeys(names)) or None


def restore_precision(variables: list[str], rows: list[tuple[Any, ...]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Drop the `?v__lex` columns, rebuilding each floating-point literal from its full text."""
    keep = [i for i, v in enumerate(variables) if not v.endswith(LEX_SUFFIX)]
    lexical = {i: variables.index(variables[i] + LEX_SUFFIX) for i in keep if variables[i] + LEX_SUFFIX in variables}
    fixed = []
    for row in rows:
        out = []
        for i in keep:
            term = row[i]
            if i in lexical and isinstance(term, Literal) and term.datatype.value in _FLOATING:
                text = row[lexical[i]]
                if isinstance(text, Literal):
                    value = {"nan": "NaN", "inf": "INF", "-inf": "-INF"}.get(text.value.lower(), text.value)
                    term = Literal(value, datatype=term.datatype)
            out.append(term)
        fixed.append(tuple(out))
    return [variables[i] for i in keep], fixed
