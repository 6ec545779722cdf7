"""The canned query library: `.rq` files found by name, parameters bound as typed RDF terms, rows out.

Each file starts with a comment header:

    # title: Loss and elapsed time per epoch
    # description: What were the loss and the elapsed training time of each epoch of a run?
    # param: run run default=latest  The run (IRI, run id or unique prefix of it).
    # columns: elapsed_seconds, epoch, loss

Types: run, iri, string, integer, double, boolean, choice[a,b,c], search, and the lists runs and strings
(comma-separated, or a Python list; each bound as a VALUES block of several rows). A `# shape: NAME` header
line names a Python step (`query.shaping`) that turns the query's rows into the result's rows and columns.
`default=all` leaves the parameter unbound, so the query covers everything (a `run` parameter also accepts
`all`, `latest` and `previous`, and a run's name).
Parameter values never enter the query text as text: each is resolved and checked, made an RDF term, and
joined in as a `VALUES` block at the start of the query's outer WHERE group, written out by pyoxigraph's
term serializer (so a value can only ever be one IRI or one escaped literal), and again wherever the
query has a `#@values` comment line (OPTIONAL and UNION groups are evaluated on their own). A VALUES block at the start,
rather than pyoxigraph's substitutions, lets the engine use the bound value to pick its indexes (measured
about 250 times faster on a 1,000-run store). The rows hold the header's columns only.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyoxigraph import Literal, NamedNode, Store, Variable

from ..errors import QueryError, RunNotFoundError, RunParameterError, SearchNotFoundError
from ..graph.literals import boolean, double, integer, python_value
from ..resources import queries_dir
from ..storage.store import open_for_reading
from .runs import resolve_run
from .searches import resolve_search

#: Parameter types: `run` and `iri` are bound as IRIs, `choice` as one of its listed strings, others as
#: literals of that XSD datatype.
PARAMETER_TYPES = ("run", "iri", "string", "integer", "double", "boolean", "choice", "search", "runs", "strings")

#: List types: several values, bound as a VALUES block of one row each.
LIST_TYPES = {"runs": "run", "strings": "string"}


class TermList(tuple[Any, ...]):
    """The terms of a list parameter."""

#: A default that leaves the parameter unbound, so that the query covers everything.
UNBOUND_DEFAULT = "all"


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    required: bool
    default: str | None
    description: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class CannedQuery:
    name: str
    title: str
    description: str
    parameters: tuple[Parameter, ...]
    columns: tuple[str, ...]
    text: str
    path: Path
    shape: str | None = None

    def describe(self) -> dict[str, Any]:
        """The listing shown by `cnnprov queries --format json`."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "parameters": [
                {"name": p.name, "type": p.type, "required": p.required, "default": p.default}
                | ({"choices": list(p.choices)} if p.choices else {})
                for p in self.parameters
            ],
            "columns": list(self.columns),
        }


_PARAM = re.compile(
    r"^(?P<name>[A-Za-z_]\w*)\s+(?P<type>\w+)(?:\[(?P<choices>[\w,.-]+)\])?\s+(?P<mode>required|default=\S+)\s*(?P<doc>.*)$"
)


def parse_query_file(path: Path) -> CannedQuery:
    """Read one `.rq` file and its header; a malformed header is a QueryError naming the file."""
    text = path.read_text(encoding="utf-8")
    header: dict[str, str] = {}
    parameters: list[Parameter] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        key, _, value = line.lstrip("# ").partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "param":
            match = _PARAM.match(value)
            if not match or match["type"] not in PARAMETER_TYPES or (match["type"] == "choice") != bool(
                match["choices"]
            ):
                raise QueryError(f"{path}: bad parameter line {value!r}; expected 'NAME TYPE required|default=V'")
            mode = match["mode"]
            parameters.append(Parameter(
                match["name"], match["type"], mode == "required",
                None if mode == "required" else mode.removeprefix("default="), match["doc"],
                tuple(match["choices"].split(",")) if match["choices"] else (),
            ))
        elif key:
            header[key] = value
    for key in ("title", "description", "columns"):
        if key not in header:
            raise QueryError(f"{path}: the header lacks a '# {key}:' line")
    columns = tuple(c.strip() for c in header["columns"].split(",") if c.strip())
    return CannedQuery(path.stem, header["title"], header["description"], tuple(parameters), columns, text, path,
                       header.get("shape"))


def load_queries(extra_dir: str | os.PathLike[str] | None = None) -> dict[str, CannedQuery]:
    """The built-in queries, plus (overriding by name) those in `extra_dir`."""
    directories = [queries_dir()] + ([Path(extra_dir)] if extra_dir is not None else [])
    queries: dict[str, CannedQuery] = {}
    for directory in directories:
        if not directory.is_dir():
            raise QueryError(f"query directory {directory} does not exist")
        for path in sorted(directory.glob("*.rq")):
            queries[path.stem] = parse_query_file(path)
    return queries


def find_query(name: str, extra_dir: str | os.PathLike[str] | None = None) -> CannedQuery:
    queries = load_queries(extra_dir)
    if name in queries:
        return queries[name]
    close = difflib.get_close_matches(name, queries, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise QueryError(f"unknown query {name!r}{hint} (`cnnprov queries` lists them)")


# --- binding ----------------------------------------------------------------------------------------


def _literal(parameter: Parameter, raw: Any) -> Literal:
    kind = parameter.type
    try:
        if kind == "integer":
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return integer(int(raw))
        if kind == "double":
            return double(float(raw))
        if kind == "boolean":
            text = str(raw).lower()
            if text not in ("true", "false", "1", "0"):
                raise ValueError
            return boolean(text in ("true", "1"))
    except (TypeError, ValueError):
        raise QueryError(f"parameter {parameter.name!r} must be {kind}, got {raw!r}") from None
    return Literal(str(raw))


def bind_parameters(query: CannedQuery, store: Store, given: Mapping[str, Any]) -> dict[Variable, Any]:
    """Check the given parameters against the header and turn them into RDF terms."""
    known = {p.name: p for p in query.parameters}
    unknown = sorted(set(given) - set(known))
    if unknown:
        expected = ", ".join(known) or "none"
        raise QueryError(f"query {query.name!r} has no parameter {unknown[0]!r} (parameters: {expected})")
    bindings: dict[Variable, Any] = {}
    for parameter in query.parameters:
        raw = given.get(parameter.name, parameter.default)
        if raw == UNBOUND_DEFAULT and (parameter.default == UNBOUND_DEFAULT or parameter.type == "run"):
            continue
        if raw is None:
            if parameter.required:
                raise QueryError(f"query {query.name!r} needs the parameter {parameter.name!r} ({parameter.type})")
            continue
        if parameter.type in LIST_TYPES:
            items = [v.strip() for v in raw.split(",")] if isinstance(raw, str) else [
                v if isinstance(v, NamedNode) else str(v) for v in raw]
            single = Parameter(parameter.name, LIST_TYPES[parameter.type], True, None)
            term: Any = TermList(_term(single, store, item) for item in items if item)
        else:
            term = _term(parameter, store, raw)
        bindings[Variable(parameter.name)] = term
    return bindings


def _term(parameter: Parameter, store: Store, raw: Any) -> Any:
    """One parameter value as an RDF term."""
    if parameter.type == "run" and isinstance(raw, NamedNode):  # already resolved (by a shaping step)
        term: Any = raw
    elif parameter.type == "run":
        try:
            term = resolve_run(store, str(raw))[0]
        except RunNotFoundError as error:
            raise RunParameterError(str(error)) from None
        except LookupError as error:
            raise QueryError(str(error)) from None
    elif parameter.type == "search":
        try:
            term = resolve_search(store, str(raw))
        except SearchNotFoundError as error:
            raise QueryError(str(error)) from None
    elif parameter.type == "iri":
        try:
            term = NamedNode(str(raw))
        except ValueError:
            raise QueryError(f"parameter {parameter.name!r} must be an IRI, got {raw!r}") from None
    elif parameter.type == "choice":
        if str(raw) not in parameter.choices:
            raise QueryError(
                f"parameter {parameter.name!r} must be one of {', '.join(parameter.choices)}; got {raw!r}"
            )
        term = Literal(str(raw))
    else:
        term = _literal(parameter, raw)
    return term


#: An xsd:dateTime's lexical form, as `python_value` leaves it (text, so that rows stay plain JSON values).
_DATE_TIME = re.compile(r"^-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?$")

_OUTER_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


#: A comment line that marks a further place for the VALUES block, e.g. inside an OPTIONAL or UNION branch,
#: which the engine evaluates on its own: binding there too keeps it from scanning every run.
VALUES_MARKER = re.compile(r"(?m)^[ \t]*#@values[ \t]*$")


def with_values(text: str, bindings: Mapping[Variable, Any]) -> str:
    """The query with a one-row `VALUES` block of the bound terms opening its outer WHERE group, and in place
    of every `#@values` line. (A parameter's variable must mean that parameter throughout the query.) A list
    parameter's block (a row per term) goes in place of the `#@values` lines only, where the query has any: it
    multiplies the rows it joins, so it is bound where it is used."""
    if not bindings:
        return text
    single = {variable: term for variable, term in bindings.items() if not isinstance(term, TermList)}
    variables = " ".join(str(variable) for variable in single)
    terms = " ".join(str(term) for term in single.values())
    block = f" VALUES ({variables}) {{ ({terms}) }}" if single else ""
    lists = "".join(f" VALUES {variable} {{ {' '.join(str(term) for term in listed)} }}"  # none: no solution
                    for variable, listed in bindings.items() if isinstance(listed, TermList))
    marked = VALUES_MARKER.search(text) is not None
    text = VALUES_MARKER.sub(lambda _: block + lists, text)
    outer = block if marked else block + lists
    if not outer:
        return text
    uncommented = re.sub(r"(?m)^\s*#.*$", lambda m: " " * len(m.group()), text)
    match = _OUTER_WHERE.search(uncommented)
    if match is None:
        raise QueryError("a query with parameters needs a 'WHERE {' group to bind them in")
    return text[: match.end()] + outer + text[match.end():]


# --- results ----------------------------------------------------------------------------------------


@dataclass
class QueryResult:
    """Rows of a canned query, as dicts of plain values in column order."""

    query: CannedQuery
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def to_dataframe(self) -> Any:
        """A pandas DataFrame (pandas must be installed: it comes with the `demo` extra); a column of
        xsd:dateTime values (ISO 8601 text in the rows) becomes a column of UTC datetimes."""
        try:
            import pandas as pd
        except ImportError:
            raise QueryError("to_dataframe needs pandas: pip install pandas (or cnnprov-rdf[demo])") from None

        frame = pd.DataFrame(self.rows, columns=self.columns)
        for column in self.columns:
            values = [row[column] for row in self.rows if row[column] is not None]
            if values and all(isinstance(v, str) and _DATE_TIME.match(v) for v in values):
                frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        return frame


def run_query(
    store: Any,
    name: str,
    *,
    queries_dir: str | os.PathLike[str] | None = None,
    **params: Any,
) -> QueryResult:
    """Run the canned query `name` on a store (a pyoxigraph Store or a store path, opened read-only) or on a
    `sources.Source` (an `http(s)://` string means a SPARQL endpoint)."""
    query = find_query(name, queries_dir)
    if isinstance(store, (str, os.PathLike)):
        from .sources import EndpointSource, is_endpoint

        store = EndpointSource(str(store)) if is_endpoint(store) else open_for_reading(store)
    shaper = None
    if query.shape is not None:
        from .shaping import shaper_for

        shaper = shaper_for(query)
        params = shaper.prepare(store, dict(params))
    bindings = bind_parameters(query, store, {k: v for k, v in params.items() if not k.startswith("_")})
    solutions = store.query(with_values(query.text, bindings), use_default_graph_as_union=True)
    projected = [v.value for v in solutions.variables]  # type: ignore[union-attr]
    if shaper is not None:
        raw = [{column: python_value(solution[i]) for i, column in enumerate(projected)} for solution in solutions]
        columns, shaped = shaper.shape(raw, params, bindings)
        return QueryResult(query, columns, shaped)
    missing = [column for column in query.columns if column not in projected]
    if missing:
        raise QueryError(f"{query.path}: the header names columns the query does not select: {missing}")
    columns = list(query.columns)
    positions = [(column, projected.index(column)) for column in columns]  # by position: faster than by name
    rows = [{column: python_value(solution[i]) for column, i in positions} for solution in solutions]
    return QueryResult(query, columns, rows)
