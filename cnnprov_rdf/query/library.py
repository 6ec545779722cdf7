"""The canned query library: `.rq` files found by name, each with a header of title, parameters and columns.

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
`binding` turns parameter values into RDF terms; `execute` runs a query and gives its rows.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import QueryError
from ..resources import queries_dir

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
    """The query called `name`; an unknown name is a QueryError suggesting close ones."""
    queries = load_queries(extra_dir)
    if name in queries:
        return queries[name]
    close = difflib.get_close_matches(name, queries, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise QueryError(f"unknown query {name!r}{hint} (`cnnprov queries` lists them)")
