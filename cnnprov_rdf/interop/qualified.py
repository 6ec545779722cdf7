"""PROV-O's qualification pattern, both ways: the unqualified shortcut each qualified relation implies.

PROV-O (§3.3) writes a relation with attributes as `?a prov:qualifiedX ?q . ?q prov:<influencer> ?b`, and says
that it implies the shortcut `?a prov:x ?b`. Tools such as `prov` write only the qualified form; every canned
query matches the shortcuts. `shortcuts` derives them, for a graph of their own beside the document's.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyoxigraph import NamedNode, Triple

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
