"""PROV-O's qualification pattern, both ways: the unqualified shortcut each qualified relation implies.

PROV-O (§3.3) writes a relation with attributes as `?a prov:qualifiedX ?q . ?q prov:<influencer> ?b`, and says
that it implies the shortcut `?a prov:x ?b`. Tools such as `prov` write only the qualified form; every canned
query matches the shortcuts. `shortcuts` derives them, for a graph of their own beside the document's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pyoxigraph import NamedNode, Quad, Triple

from ..graph.vocabulary import PROV_NS

#: Qualified property → (the property naming the influencer on the qualified node, the unqualified shortcut).
QUALIFIED: dict[str, tuple[str, str]] = {
    "qualifiedUsage": ("entity", "used"),
    "qualifiedGeneration": ("activity", "wasGeneratedBy"),
    "qualifiedInvalidation": ("activity", "wasInvalidatedBy"),
    "qualifiedStart": ("entity", "wasStartedBy"),
    "qualifiedEnd": ("entity", "wasEndedBy"),
    "qualifiedCommunication": ("activity", "wasInformedBy"),
    "qualifiedAssociation": ("agent", "wasAssociatedWith"),
    "qualifiedAttribution": ("agent", "wasAttributedTo"),
    "qualifiedDelegation": ("agent", "actedOnBehalfOf"),
    "qualifiedDerivation": ("entity", "wasDerivedFrom"),
    "qualifiedRevision": ("entity", "wasRevisionOf"),
    "qualifiedQuotation": ("entity", "wasQuotedFrom"),
    "qualifiedPrimarySource": ("entity", "hadPrimarySource"),
    "qualifiedInfluence": ("influencer", "wasInfluencedBy"),
}

_TABLE = {NamedNode(PROV_NS + name): (NamedNode(PROV_NS + by), NamedNode(PROV_NS + short))
          for name, (by, short) in QUALIFIED.items()}


def shortcuts(triples: Iterable[Triple]) -> list[Triple]:
    """The unqualified triples the qualified relations among `triples` imply, whose both ends are known,
    and that `triples` do not already hold."""
    triples = list(triples)
    present = set(triples)
    influencers: dict[tuple[object, object], list[object]] = {}
    for t in triples:
        influencers.setdefault((t.subject, t.predicate), []).append(t.object)
    found: dict[Triple, None] = {}
    for t in triples:
        if t.predicate in _TABLE and not isinstance(t.object, Triple):
            by, short = _TABLE[t.predicate]
            for influencer in influencers.get((t.object, by), []):
                triple = Triple(t.subject, short, influencer)  # type: ignore[arg-type]
                if triple not in present:
                    found[triple] = None
    return list(found)


#: The predicates `shortcuts` reads: the qualified ones, their influencer properties and the shortcuts themselves.
_WATCHED = frozenset(
    {*_TABLE, *(by for by, _ in _TABLE.values()), *(short for _, short in _TABLE.values())})


class ShortcutCollector:
    """Keeps, from a stream of quads, the few triples `shortcuts` needs, so that a streamed import adds them."""

    def __init__(self) -> None:
        self._triples: list[Triple] = []

    def watch(self, quads: Iterable[Quad]) -> Iterator[Quad]:
        """`quads`, unchanged; the ones `shortcuts` reads are kept."""
        for quad in quads:
            if quad.predicate in _WATCHED:
                self._triples.append(quad.triple)
            yield quad

    def shortcuts(self) -> list[Triple]:
        """The shortcuts the watched quads imply (see `shortcuts`)."""
        return shortcuts(self._triples)
