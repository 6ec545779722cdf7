"""Reading a one-run store in tests without the package's own `run_quads` (so that tests check it)."""

from __future__ import annotations

from pyoxigraph import NamedNode, Quad, Store

SHARED_GRAPH_PARTS = ("/graph/hyperparameter/", "/graph/measure/", "/graph/architecture/")


def shared_graphs(store: Store) -> list[NamedNode]:
    """The graphs of shared nodes (hyperparameters, measures, architectures) in the store."""
    return sorted((g for g in store.named_graphs() if isinstance(g, NamedNode)
                   and any(part in g.value for part in SHARED_GRAPH_PARTS)), key=str)


def one_run_quads(store: Store, run_graph: NamedNode) -> list[Quad]:
    """The run's graph and every shared node's graph: all that a store holding one run says about it."""
    return [quad for graph in (run_graph, *shared_graphs(store))
            for quad in store.quads_for_pattern(None, None, None, graph)]
