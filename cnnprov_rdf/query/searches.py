"""Finding hyperparameter searches in a store: the latest one, or one named by IRI, id, unique id prefix or name."""

from __future__ import annotations

from typing import Any

from pyoxigraph import NamedNode

from ..errors import SearchNotFoundError
from ..graph.vocabulary import CNN_NS, PROV_NS

_SEARCHES = f"""
SELECT ?search ?id ?name ?started WHERE {{
  ?search a <{CNN_NS}HyperparameterSearch> ; <{CNN_NS}searchId> ?id ; <{PROV_NS}startedAtTime> ?started .
  OPTIONAL {{ ?search <{CNN_NS}searchName> ?name }}
}} ORDER BY DESC(?started)
"""


def list_searches(store: Any) -> list[tuple[NamedNode, str, str, str]]:
    """(search IRI, id, name, start time) of every recorded search, newest first."""
    rows = []
    for row in store.query(_SEARCHES, use_default_graph_as_union=True):
        name = row["name"]
        rows.append((row["search"], row["id"].value, name.value if name is not None else "", row["started"].value))
    return rows


def resolve_search(store: Any, reference: str | None) -> NamedNode:
    """The search that `reference` names: None or "latest" for the newest, else its IRI, id, name (if only one
    search has it) or a unique prefix of its id."""
    searches = list_searches(store)
    if not searches:
        raise SearchNotFoundError("the store holds no hyperparameter searches yet")
    if reference is None or reference == "latest":
        return searches[0][0]
    exact = [s for s in searches if reference in (s[0].value, s[1])]
    named = [s for s in searches if s[2] == reference]
    prefixed = [s for s in searches if s[1].startswith(reference)]
    for matches in (exact, named, prefixed):
        if len(matches) == 1:
            return matches[0][0]
        if len(matches) > 1:
            candidates = "; ".join(f"{s[1]} (started {s[3]})" for s in matches)
            raise SearchNotFoundError(f"{reference!r} names {len(matches)} searches: {candidates}")
    known = ", ".join(f"{s[2] or '?'} ({s[1][:8]})" for s in searches[:5])
    raise SearchNotFoundError(f"no search {reference!r} in the store (newest: {known})")
