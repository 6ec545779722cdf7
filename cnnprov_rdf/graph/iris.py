"""The IRI and named-graph scheme: every rule that mints or reads an IRI of the data lives here.

Under a base (`DEFAULT_BASE` unless a tracker is given another):

| what                                                  | IRI                                                   |
|-------------------------------------------------------|-------------------------------------------------------|
| a run                                                 | `{base}run/{run id}`                                  |
| a node of a run                                       | `{base}run/{run id}/{part}/…` (parts percent-encoded) |
| a run's named graph                                   | `{base}graph/{run id}`                                |
| the inferences about a run                            | `{base}graph/{run id}/inferred`                       |
| a shared node (hyperparameter, measure, architecture) | `{base}{kind}/{key}`                                  |
| a shared node's graph (write-once)                    | `{base}graph/{kind}/{key}`                            |
| a metric value of an epoch, batch or test result      | `{result}/metric/{metric name}`                       |
| a layer of an architecture                            | `{architecture}/layer/{index}`                        |
| a dataset                                             | `{base}dataset/{uuid5 of its name and location}`      |
| a hyperparameter search                               | `{base}search/{search id}`                            |
| a search's space and objective                        | `{search}/space`, `{search}/objective`                |
| a dimension of a search's space                       | `{search}/space/{hyperparameter name}`                |
| a search's named graph                                | `{base}graph/search/{search id}`                      |
| an imported document without a graph name             | `{DEFAULT_BASE}import/{sha256[:32] of its content}`   |
| the PROV-O shortcuts implied by an imported document  | `{its graph}/shortcuts`                               |
| a run imported from another tool                      | `{DEFAULT_BASE}run/{tool}-{its id there}`             |
| the ontology                                          | `ONTOLOGY_GRAPH`, the ontology's own IRI              |
| the run index (one small node set per run)            | `{base}graph/index`                                   |

A shared node is the same for every run that uses it; its graph's name fixes its content (an architecture's
key is a hash of its description), so writing it once is enough. A run's graph only refers to it.
The run index (`graph.run_index`) holds a few `idx:` facts per run, keyed by the run's IRI: what resolving a
run reference and the cross-run queries need, so that neither scans every run's graph.
"""

from __future__ import annotations

import hashlib
import uuid
from urllib.parse import quote

from pyoxigraph import NamedNode

from ..capture.events import LayerInfo
from .vocabulary import DEFAULT_BASE, ONTOLOGY_GRAPH

__all__ = [
    "DEFAULT_BASE",
    "ID_PREFIX_LENGTH",
    "IMPORT_GRAPH_BASE",
    "INFERRED_SUFFIX",
    "ONTOLOGY_GRAPH",
    "SHARED_KINDS",
    "RunIris",
    "SearchIris",
    "architecture_key",
    "base_of",
    "default_import_graph",
    "definition_key",
    "graph_of",
    "id_prefix",
    "import_graph_for_hash",
    "index_graph",
    "inferred_graph_of",
    "is_index_graph",
    "is_inferred_graph",
    "is_write_once",
    "layer_node",
    "metric_node",
    "run_id_of",
    "shared_graph",
    "shared_graph_of",
    "shared_node",
    "shortcuts_graph_of",
]

#: The kinds of shared nodes, each described in a graph of its own.
SHARED_KINDS = ("hyperparameter", "measure", "architecture")
_SHARED_GRAPHS = tuple(f"/graph/{kind}/" for kind in SHARED_KINDS)

#: Appended to a run's graph IRI to name the graph of its inferred triples.
INFERRED_SUFFIX = "/inferred"

#: How many leading characters of a run id the index keeps as a literal of its own, for prefix look-ups.
ID_PREFIX_LENGTH = 4

#: Appended to a base to name the run index's graph.
_INDEX_GRAPH = "graph/index"

#: Named graphs of imported documents without an explicit graph IRI: this prefix + the content's SHA-256[:32].
IMPORT_GRAPH_BASE = f"{DEFAULT_BASE}import/"


class RunIris:
    """The IRIs of one run's nodes, minted from its UUID under `base`."""

    def __init__(self, run_id: str, base: str = DEFAULT_BASE) -> None:
        self.base = base
        self.run_id = run_id
        self.prefix = f"{base}run/{run_id}"
        self.run = NamedNode(self.prefix)
        self.graph = NamedNode(f"{base}graph/{run_id}")

    def node(self, *parts: str | int) -> NamedNode:
        """A node of the run: `{run}/{part}/…`, each part percent-encoded."""
        return NamedNode(self.prefix + "".join(f"/{quote(str(p), safe='')}" for p in parts))

    def dataset(self, name: str, location: str | None) -> NamedNode:
        """A dataset, the same for every run that names it at the same location."""
        key = uuid.uuid5(uuid.NAMESPACE_URL, f"{name}|{location or ''}")
        return NamedNode(f"{self.base}dataset/{key}")

    def model_file(self, path: str, sha256: str) -> NamedNode:
        """A saved model file of the run, named by its path and content."""
        return self.node("model-file", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{path}|{sha256}")))


class SearchIris:
    """The IRIs of one hyperparameter search: the activity, its space and objective, and its named graph."""

    def __init__(self, search_id: str, base: str = DEFAULT_BASE) -> None:
        self.base = base
        self.search_id = search_id
        self.search = NamedNode(f"{base}search/{search_id}")
        self.graph = NamedNode(f"{base}graph/search/{search_id}")
        self.space = NamedNode(f"{self.search.value}/space")
        self.objective = NamedNode(f"{self.search.value}/objective")

    def dimension(self, name: str) -> NamedNode:
        """The dimension of the space that a hyperparameter named `name` is sampled from."""
        return NamedNode(f"{self.space.value}/{quote(name, safe='')}")


def graph_of(run_id: str, base: str = DEFAULT_BASE) -> NamedNode:
    """The named graph that holds a run."""
    return RunIris(run_id, base).graph


def index_graph(base: str = DEFAULT_BASE) -> NamedNode:
    """The run index's graph under `base`: `{base}graph/index` (no run id is `index`: ids are UUIDs)."""
    return NamedNode(base + _INDEX_GRAPH)


def is_index_graph(graph: object) -> bool:
    """Whether a graph is a run index (under any base)."""
    return isinstance(graph, NamedNode) and graph.value.endswith("/" + _INDEX_GRAPH)


def id_prefix(run_id: str) -> str:
    """The leading characters of a run id that the index keeps for prefix look-ups (all of a shorter id)."""
    return run_id[:ID_PREFIX_LENGTH]


def base_of(run_graph: NamedNode) -> str:
    """The base under which a run's graph (`{base}graph/{run id}`) was minted: `base_of(graph_of(i, b)) == b`."""
    return run_graph.value.rpartition("graph/")[0]


def run_id_of(run: NamedNode) -> str:
    """The run id in a run's IRI (`{base}run/{run id}`)."""
    return run.value.rsplit("/", 1)[-1]


# --- shared nodes -----------------------------------------------------------------------------------


def shared_node(kind: str, key: str, base: str = DEFAULT_BASE) -> NamedNode:
    """A shared node: `{base}{kind}/{key}`."""
    return NamedNode(f"{base}{kind}/{key}")


def shared_graph_of(kind: str, key: str, base: str = DEFAULT_BASE) -> NamedNode:
    """The graph that describes the shared node `{base}{kind}/{key}`: `{base}graph/{kind}/{key}`."""
    return NamedNode(f"{base}graph/{kind}/{key}")


def shared_graph(node: NamedNode, base: str = DEFAULT_BASE) -> NamedNode | None:
    """The graph that describes `node` if it is a shared node under `base`; None otherwise."""
    for kind in SHARED_KINDS:
        key = node.value.removeprefix(f"{base}{kind}/")
        if key != node.value and key and "/" not in key:
            return shared_graph_of(kind, key, base)
    return None


def is_write_once(graph: object) -> bool:
    """Whether a graph describes a shared node: its name fixes its content, so writing it once is enough."""
    return isinstance(graph, NamedNode) and any(part in graph.value for part in _SHARED_GRAPHS)


def definition_key(name: str) -> str:
    """The key of a hyperparameter or measure named `name`: the name, percent-encoded."""
    return quote(name, safe="")


def architecture_key(model_name: str, parameter_count: int, layers: tuple[LayerInfo, ...]) -> str:
    """An architecture's key: a hash of its name, parameter count and layers, so equal descriptions share it."""
    description = repr((model_name, parameter_count, layers)).encode("utf-8", "backslashreplace")
    return hashlib.sha256(description).hexdigest()[:32]


def layer_node(architecture: NamedNode, index: int) -> NamedNode:
    """A layer of an architecture: `{architecture}/layer/{index}`."""
    return NamedNode(f"{architecture.value}/layer/{index}")


def metric_node(owner: NamedNode, name: str) -> NamedNode:
    """The `cnn:MetricValue` node of metric `name` on an epoch, batch or test result."""
    return NamedNode(f"{owner.value}/metric/{quote(name, safe='')}")


# --- other graphs -----------------------------------------------------------------------------------


def inferred_graph_of(run_graph: NamedNode) -> NamedNode:
    """The named graph that holds the inferences about the run stored in `run_graph`."""
    return NamedNode(run_graph.value + INFERRED_SUFFIX)


def is_inferred_graph(graph: object) -> bool:
    """Whether a graph holds the inferences about a run."""
    return isinstance(graph, NamedNode) and graph.value.endswith(INFERRED_SUFFIX)


#: Appended to an imported document's graph IRI to name the graph of the PROV-O shortcuts it implies.
SHORTCUTS_SUFFIX = "/shortcuts"


def shortcuts_graph_of(graph: NamedNode) -> NamedNode:
    """The graph holding the unqualified shortcuts of the qualified relations of the document in `graph`."""
    return NamedNode(graph.value + SHORTCUTS_SUFFIX)


def default_import_graph(content: bytes) -> NamedNode:
    """The named graph a document goes into when none is given: the same content always gets the same graph."""
    return import_graph_for_hash(hashlib.sha256(content).hexdigest())


def import_graph_for_hash(sha256_hex: str) -> NamedNode:
    """`default_import_graph` from the content's SHA-256 (hex), for a file hashed as a stream."""
    return NamedNode(IMPORT_GRAPH_BASE + sha256_hex[:32])
