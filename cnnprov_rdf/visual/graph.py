"""A run's provenance as a PROV diagram (Graphviz DOT), in the usual PROV conventions.

Entities are yellow ovals, activities blue rectangles and agents orange houses; edges carry the PROV relation
(used, wasGeneratedBy, wasDerivedFrom, wasAssociatedWith, wasInformedBy, actedOnBehalfOf) and point from the
dependent node to the one it depends on. Nodes and edges come from the `run-graph` canned query.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyoxigraph import Store

from ..errors import RenderError
from ._store import open_store, query

#: Fill colour and shape of each PROV kind (the PROV-O diagram conventions).
STYLE: dict[str, dict[str, str]] = {
    "Entity": {"shape": "ellipse", "fillcolor": "#FFFC87", "color": "#808080"},
    "Activity": {"shape": "box", "fillcolor": "#9FB1FC", "color": "#0000FF"},
    "Agent": {"shape": "house", "fillcolor": "#FED37F", "color": "#000000"},
}

#: Classes whose nodes are collapsed into one node each unless asked otherwise.
EPOCH_CLASS = "EpochResult"
SETTING_CLASS = "HyperparameterSetting"
#: Repeated saves of one model file (a checkpoint each epoch) are drawn as one node per file path.
FILE_CLASS = "ModelFile"

_LONG_NUMBER = re.compile(r"-?\d+\.\d{5,}(?:e-?\d+)?")


def _short_numbers(text: str) -> str:
    """Long floats (0.009999999776482582) as four significant digits (0.01)."""
    return _LONG_NUMBER.sub(lambda m: format(float(m.group()), ".4g"), text)


def _words(name: str) -> str:
    """`ModelArchitecture` as `Model architecture`."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
    return spaced[:1] + spaced[1:].lower()


@dataclass
class _Node:
    kind: str
    cls: str
    label: str
    members: list[str] = field(default_factory=list)


def _graph_rows(store: Store, run: str) -> list[dict[str, Any]]:
    return query(store, "run-graph", run=run).rows


def run_graph_dot(
    store: Store | str | os.PathLike[str],
    run: str = "latest",
    all_epochs: bool = False,
    all_hyperparameters: bool = False,
) -> str:
    """DOT source of a run's PROV graph. Epoch results are collapsed into one "N epoch results" node unless
    `all_epochs`; hyperparameter settings are listed (`name = value`) in one node, or drawn one node each
    with `all_hyperparameters`."""
    import graphviz

    rows = _graph_rows(open_store(store), run)
    nodes: dict[str, _Node] = {}
    edges: dict[tuple[str, str, str], None] = {}

    def key_of(iri: str, cls: str, label: str) -> str:
        if cls == FILE_CLASS:
            return f"file:{label}"
        if cls == EPOCH_CLASS and not all_epochs:
            return "collapsed:epochs"
        if cls == SETTING_CLASS and not all_hyperparameters:
            return "collapsed:hyperparameters"
        return iri

    for row in rows:
        ends = []
        for side in ("subject", "object"):
            iri, cls = row[side], row[f"{side}_class"]
            key = key_of(iri, cls, row[f"{side}_label"] or iri)
            node = nodes.setdefault(key, _Node(row[f"{side}_kind"], cls, _short_numbers(row[f"{side}_label"] or "")))
            if iri not in node.members:
                node.members.append(iri)
            ends.append(key)
        if ends[0] != ends[1]:
            edges[(ends[0], ends[1], row["predicate"])] = None

    title = next((n.label for n in nodes.values() if n.cls == "Training"), run)
    dot = graphviz.Digraph("prov", graph_attr={
        "rankdir": "BT", "label": f"Provenance of run {title}", "labelloc": "t", "fontname": "Helvetica",
        "fontsize": "16", "nodesep": "0.25", "ranksep": "0.5",
    }, node_attr={"style": "filled", "fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9", "color": "#555555"})
    ids = {key: f"n{index}" for index, key in enumerate(sorted(nodes, key=lambda k: (nodes[k].kind, nodes[k].cls, k)))}
    settings = sorted(
        (_short_numbers(r["subject_label"] if r["subject_class"] == SETTING_CLASS else r["object_label"]))
        for r in rows if SETTING_CLASS in (r["subject_class"], r["object_class"])
    )
    for key, node in nodes.items():
        if key == "collapsed:epochs":
            count = len(node.members)
            label = f"{count} epoch result{'s' if count != 1 else ''}"
        elif key == "collapsed:hyperparameters":
            label = "Hyperparameters\\l" + "".join(f"{s}\\l" for s in dict.fromkeys(settings))
        else:
            label = _words(node.cls) + (f"\n{node.label}" if node.label else "")
            if node.cls == FILE_CLASS and len(node.members) > 1:
                label += f"\n({len(node.members)} saves)"
        tooltip = node.members[0] if len(node.members) == 1 else f"{len(node.members)} nodes"
        dot.node(ids[key], label, tooltip=tooltip, **STYLE.get(node.kind, {}))
    for tail, head, relation in edges:
        dot.edge(ids[tail], ids[head], label=relation)
    return dot.source


def render(dot: str, path: str | os.PathLike[str]) -> Path:
    """Write DOT source as `.svg` or `.png` (drawn by Graphviz's `dot`), or as the `.dot` text itself."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("dot", "gv"):
        path.write_text(dot, encoding="utf-8")
        return path
    if suffix not in ("svg", "png", "pdf"):
        raise RenderError(f"cannot render a graph as {path.name}: use .svg, .png, .pdf or .dot")
    path.write_bytes(_pipe(dot, suffix))
    return path


def _pipe(dot: str, fmt: str) -> bytes:
    """DOT drawn by Graphviz's `dot` program; its absence is one RenderError saying what to install."""
    import graphviz

    try:
        return bytes(graphviz.Source(dot).pipe(format=fmt))
    except graphviz.ExecutableNotFound:
        raise RenderError(
            "Graphviz's `dot` program was not found: install Graphviz (apt install graphviz, brew install "
            "graphviz, conda install graphviz) or write the diagram as .dot"
        ) from None


def run_graph_svg(store: Store | str | os.PathLike[str], run: str = "latest", all_epochs: bool = False) -> str:
    """A run's PROV graph as SVG text without the XML prolog, to inline in HTML."""
    return dot_to_svg(run_graph_dot(store, run, all_epochs))


def dot_to_svg(dot: str) -> str:
    """DOT source drawn as SVG text without the XML prolog and doctype."""
    svg = _pipe(dot, "svg").decode("utf-8")
    return svg[svg.index("<svg"):]
