"""The app's SPARQL box: a user's own read-only query, checked, then run in a child process with a timeout.

Only SELECT, ASK, CONSTRUCT and DESCRIBE are accepted, and no SERVICE (which would make the app fetch from
elsewhere). The check reads the query's keywords outside IRIs, strings and comments; besides, the query runs on
a read-only snapshot through `Store.query`, which parses queries only (an update is a syntax error there). A
pyoxigraph query cannot be interrupted, so it runs in a child process (`python -m cnnprov_rdf.ui.sparql`) that
is killed when the timeout passes; the app itself never waits longer than that.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from typing import Any

from ..errors import QueryError
from ..graph.literals import python_value

#: Seconds a user's query may run.
DEFAULT_TIMEOUT = 10.0
#: Rows returned at most (the rest are counted, not sent).
MAX_ROWS = 5000
FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
_UPDATES = ("INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH")

# IRIs, strings (long forms first) and comments: what a keyword check must not look into.
_OPAQUE = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'|<[^<>\"{}|^`\\\s]*>|#[^\n]*"
)
_WORD = re.compile(r"[A-Za-z_]\w*")


def keywords(text: str) -> list[str]:
    """The query's words outside IRIs, strings and comments, upper-cased (variables and prefixed names
    excluded: `?service`, `ex:select`)."""
    bare = _OPAQUE.sub(" ", text)
    words = []
    for match in _WORD.finditer(bare):
        before = bare[match.start() - 1] if match.start() else " "
        after = bare[match.end()] if match.end() < len(bare) else " "
        if before in "?$:" or after == ":":
            continue
        words.append(match.group().upper())
    return words


def check(text: str) -> str:
    """The query's form (SELECT, ASK, CONSTRUCT, DESCRIBE); a QueryError for anything else or for SERVICE."""
    if not text.strip():
        raise QueryError("the query is empty")
    words = keywords(text)
    if "SERVICE" in words:
        raise QueryError("SERVICE is refused: the app only reads its own store")
    first = next((w for w in words if w in FORMS or w in _UPDATES), None)
    if first is None:
        raise QueryError("a query must be a SELECT, ASK, CONSTRUCT or DESCRIBE")
    if first not in FORMS:
        raise QueryError(f"{first} is refused: the app is read-only (SELECT, ASK, CONSTRUCT or DESCRIBE only)")
    return first


def run_user_query(location: str, text: str, *, endpoint: bool = False,
                   timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Check and run a user's query in a child process; {form, columns, rows, truncated} or a QueryError."""
    form = check(text)
    request = json.dumps({"location": location, "endpoint": endpoint, "query": text})
    try:
        done = subprocess.run([sys.executable, "-m", "cnnprov_rdf.ui.sparql"], input=request, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise QueryError(f"the query ran longer than {timeout:g} s and was stopped") from None
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise QueryError(f"the query could not be run: {last}") from None
    if "error" in answer:
        raise QueryError(answer["error"])
    return {"form": form, **answer}


# --- in the child process ---------------------------------------------------------------------------


def _local(location: str, text: str) -> dict[str, Any]:
    from pyoxigraph import QueryBoolean, QuerySolutions

    from ..storage.store import open_for_reading

    try:
        result = open_for_reading(location).query(text, use_default_graph_as_union=True)
    except SyntaxError as error:
        return {"error": f"syntax error: {error}"}
    if isinstance(result, QueryBoolean):
        return {"columns": ["result"], "rows": [{"result": bool(result)}], "truncated": False}
    if isinstance(result, QuerySolutions):
        columns = [v.value for v in result.variables]
        rows = [{c: python_value(solution[i]) for i, c in enumerate(columns)} for solution in _limit(result)]
    else:
        columns = ["subject", "predicate", "object"]
        rows = [{"subject": t.subject.value, "predicate": t.predicate.value, "object": python_value(t.object)}
                for t in _limit(result)]
    return {"columns": columns, "rows": rows[:MAX_ROWS], "truncated": len(rows) > MAX_ROWS}


def _limit(items: Any) -> list[Any]:
    taken = []
    for item in items:
        taken.append(item)
        if len(taken) > MAX_ROWS:
            break
    return taken


def _endpoint(url: str, text: str) -> dict[str, Any]:
    """SELECT and ASK as SPARQL JSON results; CONSTRUCT and DESCRIBE as N-Triples."""
    from pyoxigraph import RdfFormat, parse

    graph = check(text) in ("CONSTRUCT", "DESCRIBE")
    accept = "application/n-triples" if graph else "application/sparql-results+json"
    request = urllib.request.Request(url, data=urllib.parse.urlencode({"query": text}).encode(),
                                     headers={"Accept": accept,
                                              "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=DEFAULT_TIMEOUT) as response:
            body = response.read()
    except OSError as error:
        return {"error": f"the endpoint {url} failed: {error}"}
    if graph:
        triples = _limit(parse(body, format=RdfFormat.N_TRIPLES))
        rows = [{"subject": t.subject.value, "predicate": t.predicate.value, "object": python_value(t.object)}
                for t in triples]
        return {"columns": ["subject", "predicate", "object"], "rows": rows[:MAX_ROWS],
                "truncated": len(rows) > MAX_ROWS}
    data = json.loads(body)
    if "boolean" in data:
        return {"columns": ["result"], "rows": [{"result": bool(data["boolean"])}], "truncated": False}
    columns = data["head"]["vars"]
    rows = [{c: _json_term(b.get(c)) for c in columns} for b in data["results"]["bindings"]]
    return {"columns": columns, "rows": rows[:MAX_ROWS], "truncated": len(rows) > MAX_ROWS}


def _json_term(term: dict[str, str] | None) -> Any:
    if term is None:
        return None
    from pyoxigraph import Literal, NamedNode

    if term.get("type") == "literal" and "datatype" in term:
        return python_value(Literal(term["value"], datatype=NamedNode(term["datatype"])))
    return term["value"]


def main() -> None:
    request = json.loads(sys.stdin.read())
    try:
        answer = (_endpoint if request["endpoint"] else _local)(request["location"], request["query"])
    except Exception as error:  # reported to the page as one line
        answer = {"error": f"{type(error).__name__}: {error}"}
    for row in answer.get("rows", []):  # JSON has no NaN or infinity
        for key, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                row[key] = None
    json.dump(answer, sys.stdout, allow_nan=False, default=str)


if __name__ == "__main__":
    main()
