"""The graph's rules, one module each: IRIs and graph names (`graph.iris`), literals (`graph.literals`) and the
known metrics (`graph.metrics`). Each rule round-trips, and the metric table agrees with the ontology, the
canned queries and the mapping."""

from __future__ import annotations

import ast
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pyoxigraph import DefaultGraph, Literal, NamedNode, Quad, RdfFormat, Store, serialize
from rdflib import Graph, URIRef
from rdflib import Literal as RdflibLiteral
from rdflib.namespace import OWL, RDF, RDFS

from cnnprov_rdf.capture.events import (
    ArchitectureRecorded,
    EpochEnded,
    HyperparametersRecorded,
    LayerInfo,
    RunEnded,
    RunSummary,
)
from cnnprov_rdf.graph import iris, metrics
from cnnprov_rdf.graph.iris import (
    DEFAULT_BASE,
    IMPORT_GRAPH_BASE,
    ONTOLOGY_GRAPH,
    SHARED_KINDS,
    RunIris,
    architecture_key,
    base_of,
    default_import_graph,
    graph_of,
    index_graph,
    inferred_graph_of,
    is_inferred_graph,
    is_write_once,
    layer_node,
    metric_node,
    run_id_of,
    shared_graph,
    shared_graph_of,
    shared_node,
)
from cnnprov_rdf.graph.literals import boolean, date_time, double, integer, python_value, string, typed
from cnnprov_rdf.graph.mapping import to_quads
from cnnprov_rdf.graph.metrics import (
    BEST_PROPERTIES,
    COMPARE_FIELDS,
    EPOCH_FIELDS,
    FINAL_PROPERTIES,
    METRIC_PROPERTIES,
    METRICS,
    STANDARD_METRICS,
    TRAINING_METRICS,
    best_tracked,
    higher_is_better,
    label,
)
from cnnprov_rdf.graph.vocabulary import CNN, CNN_NS, XSD_NS
from cnnprov_rdf.query.library import find_query
from cnnprov_rdf.resources import ontology_file

RUN = "5f0c7a52-3f4e-4b8e-9d1a-2b6c8e4f1a77"
BASES = [DEFAULT_BASE, "http://lab.example/prov/", "urn:x-lab:graph/nested/"]
AT = datetime(2024, 1, 1, 9, 30, tzinfo=UTC)
GRAPH_PACKAGE = Path(iris.__file__).parent


@pytest.fixture(scope="module")
def ontology() -> Graph:
    graph = Graph()
    graph.parse(ontology_file(), format="turtle")
    return graph


# --- IRIs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", BASES)
def test_run_iris_and_graph_round_trip(base: str) -> None:
    names = RunIris(RUN, base)
    assert names.run.value == f"{base}run/{RUN}"
    assert graph_of(RUN, base) == names.graph == NamedNode(f"{base}graph/{RUN}")
    assert base_of(graph_of(RUN, base)) == base
    assert run_id_of(names.run) == RUN
    assert names.node("epoch", 3, "batch", 7).value == f"{base}run/{RUN}/epoch/3/batch/7"
    assert names.node("hyperparameter", "a b/c").value == f"{base}run/{RUN}/hyperparameter/a%20b%2Fc"


def test_run_nodes_minted_from_content_are_stable() -> None:
    names = RunIris(RUN)
    assert names.dataset("mnist", None) == RunIris("another-run").dataset("mnist", None)
    assert names.dataset("mnist", None) != names.dataset("mnist", "/data")
    assert names.model_file("m.keras", "ab" * 32) == names.model_file("m.keras", "ab" * 32)
    assert names.model_file("m.keras", "ab" * 32) != names.model_file("m.keras", "cd" * 32)
    assert names.model_file("m.keras", "ab" * 32).value.startswith(names.node("model-file").value + "/")


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("kind", SHARED_KINDS)
def test_shared_node_graphs_round_trip(base: str, kind: str) -> None:
    key = "learning_rate" if kind != "architecture" else architecture_key("m", 10, (LayerInfo(1, "d", "Dense", 10),))
    node, graph = shared_node(kind, key, base), shared_graph_of(kind, key, base)
    assert node.value == f"{base}{kind}/{key}" and graph.value == f"{base}graph/{kind}/{key}"
    assert shared_graph(node, base) == graph
    assert is_write_once(graph)
    assert not is_write_once(node)
    assert shared_graph(node, "http://elsewhere.example/") is None


@pytest.mark.parametrize(
    "value",
    [f"{DEFAULT_BASE}hyperparameter/", f"{DEFAULT_BASE}hyperparameter/a/b", f"{DEFAULT_BASE}run/{RUN}",
     f"{DEFAULT_BASE}dataset/x", "http://elsewhere.example/measure/loss"],
)
def test_other_nodes_are_not_shared(value: str) -> None:
    assert shared_graph(NamedNode(value)) is None


def test_architecture_key_depends_on_the_whole_description() -> None:
    layers = (LayerInfo(1, "conv", "Conv2D", 100, filters=4, kernel_size=(3, 3)), LayerInfo(2, "fc", "Dense", 20))
    key = architecture_key("net", 120, layers)
    assert key == architecture_key("net", 120, layers) and len(key) == 32
    assert key != architecture_key("net", 121, layers)
    assert key != architecture_key("other", 120, layers)
    assert key != architecture_key("net", 120, layers[:1])


@pytest.mark.parametrize(
    "graph",
    [graph_of(RUN), inferred_graph_of(graph_of(RUN)), ONTOLOGY_GRAPH, default_import_graph(b"x"), DefaultGraph(),
     None, f"{DEFAULT_BASE}graph/hyperparameter/lr"],
)
def test_other_graphs_are_not_write_once(graph: object) -> None:
    assert not is_write_once(graph)


def test_every_graph_the_mapping_writes_is_the_runs_or_a_shared_one() -> None:
    layers = (LayerInfo(1, "fc", "Dense", 20),)
    events = [
        HyperparametersRecorded(RUN, {"lr": 0.1, "epochs": 3}),
        ArchitectureRecorded(RUN, "net", 20, layers),
        EpochEnded(RUN, 1, {"loss": 0.5, "top5": 0.9}, 1.0, AT, 0.1),
    ]
    graphs = {quad.graph_name for event in events for quad in to_quads(event)}
    assert graph_of(RUN) in graphs and index_graph() in graphs  # the hyperparameters are index facts too
    assert all(is_write_once(g) for g in graphs - {graph_of(RUN), index_graph()})
    assert len(graphs) == 6  # the run's, the index; lr, epochs, top5 and the architecture


def test_inferred_graphs_follow_their_run_graph() -> None:
    run_graph = graph_of(RUN)
    inferred = inferred_graph_of(run_graph)
    assert inferred.value == f"{run_graph.value}/inferred"
    assert is_inferred_graph(inferred)
    assert not is_inferred_graph(run_graph) and not is_inferred_graph(None)


def test_default_import_graph_is_named_by_content() -> None:
    assert default_import_graph(b"<a> <b> <c> .") == default_import_graph(b"<a> <b> <c> .")
    assert default_import_graph(b"<a> <b> <c> .") != default_import_graph(b"<a> <b> <d> .")
    assert default_import_graph(b"").value.startswith(IMPORT_GRAPH_BASE)
    assert IMPORT_GRAPH_BASE.startswith(DEFAULT_BASE)


def test_metric_and_layer_nodes_hang_off_their_owner() -> None:
    owner = RunIris(RUN).node("epoch", 2)
    assert metric_node(owner, "top/5").value == f"{owner.value}/metric/top%2F5"
    architecture = shared_node("architecture", "k")
    assert layer_node(architecture, 4).value == f"{architecture.value}/layer/4"


def test_ontology_graph_is_the_ontologys_iri(ontology: Graph) -> None:
    assert (URIRef(ONTOLOGY_GRAPH.value), RDF.type, OWL.Ontology) in ontology


def test_graph_depends_only_on_capture_events() -> None:
    """graph/ is pure: it imports nothing from storage, query, interop, visual or the rest of capture."""
    for path in GRAPH_PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1 or node.module == "capture.events", (path.name, node.module)
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any((n or "").startswith("cnnprov_rdf") for n in names), (path.name, names)


# --- literals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "lexical"), [(math.inf, "INF"), (-math.inf, "-INF"), (math.nan, "NaN")])
def test_special_doubles_use_xsd_forms_and_round_trip(value: float, lexical: str) -> None:
    literal = double(value)
    assert literal.value == lexical and literal.datatype == NamedNode(XSD_NS + "double")
    back = python_value(literal)
    assert math.isnan(back) if math.isnan(value) else back == value


@pytest.mark.parametrize("value", [0.0, -0.0, 0.1, 1.0 / 3.0, 1e308, 5e-324, -2.5, 1e16])
def test_finite_doubles_round_trip_exactly(value: float) -> None:
    back = python_value(double(value))
    assert back == value and math.copysign(1, back) == math.copysign(1, value)


@pytest.mark.parametrize("value", [0, -1, 2**63, -(10**40), 10**100])
def test_integers_of_any_size_round_trip(value: int) -> None:
    assert integer(value).datatype == NamedNode(XSD_NS + "integer")
    assert python_value(integer(value)) == value
    assert type(python_value(integer(value))) is int


@pytest.mark.parametrize("value", [True, False])
def test_booleans_round_trip(value: bool) -> None:
    assert python_value(boolean(value)) is value
    assert python_value(Literal("1" if value else "0", datatype=NamedNode(XSD_NS + "boolean"))) is value


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        datetime(2024, 5, 1, 0, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
        datetime(2024, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=14))),
        datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    ],
)
def test_date_times_are_written_in_utc_and_keep_their_instant(value: datetime) -> None:
    literal = date_time(value)
    assert literal.datatype == NamedNode(XSD_NS + "dateTime") and literal.value.endswith("Z")
    back = datetime.fromisoformat(python_value(literal))
    assert back == value and back.utcoffset() == timedelta(0)


def test_naive_date_times_are_taken_as_utc() -> None:
    assert date_time(datetime(2024, 5, 1, 12, 0)).value == "2024-05-01T12:00:00Z"


def test_surrogate_strings_become_escapes_and_stay_serializable() -> None:
    odd = b"bad\xff.jpg".decode("utf-8", "surrogateescape")
    literal = string(odd)
    assert literal.value == "bad\\udcff.jpg" and python_value(literal) == "bad\\udcff.jpg"
    serialize([Quad(NamedNode("urn:s"), NamedNode("urn:p"), literal, DefaultGraph())], format=RdfFormat.N_QUADS)


@pytest.mark.parametrize("value", ["", "ünïcødé ✓ 🚀", 'say "hi"\n', "a\\b"])
def test_ordinary_strings_round_trip(value: str) -> None:
    assert python_value(string(value)) == value


@pytest.mark.parametrize(
    ("value", "datatype"), [(True, "boolean"), (3, "integer"), (0.5, "double"), ("adam", "string")]
)
def test_hyperparameter_values_keep_their_type(value: object, datatype: str) -> None:
    literal = typed(value)  # type: ignore[arg-type]
    assert literal.datatype == NamedNode(XSD_NS + datatype)
    assert python_value(literal) == value and type(python_value(literal)) is type(value)


def test_other_terms_become_strings_or_none() -> None:
    assert python_value(None) is None
    assert python_value(NamedNode("urn:x")) == "urn:x"
    assert python_value(Literal("hallo", language="de")) == "hallo"
    assert python_value(Literal("P1D", datatype=NamedNode(XSD_NS + "duration"))) == "P1D"


def test_literals_round_trip_through_a_store() -> None:
    values = [math.nan, math.inf, -math.inf, 10**30, True, "bad\udcff", 0.1]
    literals = [typed(v) for v in values]  # type: ignore[arg-type]
    store = Store()
    store.extend(Quad(NamedNode(f"urn:s{i}"), NamedNode("urn:p"), o, DefaultGraph()) for i, o in enumerate(literals))
    found = {row["s"].value: python_value(row["o"]) for row in store.query("SELECT ?s ?o { ?s <urn:p> ?o }")}
    for i, value in enumerate(values):
        back = found[f"urn:s{i}"]
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(back)
        elif isinstance(value, str):
            assert back == value.encode("utf-8", "backslashreplace").decode()
        else:
            assert back == value


# --- metrics ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("accuracy", True), ("val_accuracy", True), ("loss", False), ("val_loss", False), ("learning_rate", None),
     ("elapsed_seconds", None), ("top_5", None)],
)
def test_higher_is_better(name: str, expected: bool | None) -> None:
    assert higher_is_better(name) is expected


def test_best_values_tracked() -> None:
    assert best_tracked(higher=True) == ("accuracy", "val_accuracy")
    assert best_tracked(higher=False) == ("val_loss",)
    assert set(BEST_PROPERTIES) == {*best_tracked(higher=True), *best_tracked(higher=False)}


def test_derived_lists() -> None:
    assert EPOCH_FIELDS == ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "elapsed_seconds")
    assert STANDARD_METRICS == {"loss": "loss", "accuracy": "accuracy", "val_loss": "valLoss",
                                "val_accuracy": "valAccuracy"}
    assert TRAINING_METRICS == ("loss", "accuracy")
    assert set(FINAL_PROPERTIES) == set(STANDARD_METRICS)
    assert label("val_loss") == "Validation loss" and label("top_5") == "top_5"
    assert len(set(METRIC_PROPERTIES)) == len(METRIC_PROPERTIES)


@pytest.mark.parametrize("name", METRIC_PROPERTIES)
def test_every_metric_property_is_a_declared_double(ontology: Graph, name: str) -> None:
    prop = CNN.term(name)
    subject = URIRef(prop.value)
    assert subject.startswith(CNN_NS)
    assert (subject, RDF.type, OWL.DatatypeProperty) in ontology
    assert list(ontology.objects(subject, RDFS.range)) == [URIRef(XSD_NS + "double")]


@pytest.mark.parametrize("name", sorted(BEST_PROPERTIES))
def test_best_property_comments_agree_with_the_direction(ontology: Graph, name: str) -> None:
    comments = [str(c) for c in ontology.objects(URIRef(CNN_NS + BEST_PROPERTIES[name]), RDFS.comment)
                if isinstance(c, RdflibLiteral)]
    assert comments and ("highest" if higher_is_better(name) else "lowest") in comments[0]


def test_epoch_fields_are_the_query_columns() -> None:
    epoch_columns = find_query("epoch-metrics").columns
    assert [c for c in epoch_columns if c in METRICS] == list(EPOCH_FIELDS)
    compare = find_query("compare-runs").columns
    assert list(compare) == ["epoch", *(f"{field}_{side}" for field in COMPARE_FIELDS for side in "ab")]


def test_the_mapping_uses_the_table() -> None:
    values = {name: 0.25 for name in STANDARD_METRICS}
    epoch = to_quads(EpochEnded(RUN, 1, values, 1.5, AT, 0.01))
    result = RunIris(RUN).node("epoch", 1)
    predicates = {q.predicate for q in epoch if q.subject == result}
    assert {CNN.term(METRICS[name].epoch_property) for name in EPOCH_FIELDS} <= predicates
    summary = RunSummary(1, 1.5, final_metrics=values, best_metrics=values)
    ended = to_quads(RunEnded(RUN, AT, "finished", summary))
    run_predicates = {q.predicate for q in ended if q.subject == RunIris(RUN).run}
    expected = {*FINAL_PROPERTIES.values(), *BEST_PROPERTIES.values()}
    assert {CNN.term(name) for name in expected} <= run_predicates
    assert not {CNN.term(name) for name in METRIC_PROPERTIES} - {*predicates, *run_predicates}


def test_metrics_module_has_no_dependencies() -> None:
    tree = ast.parse(Path(metrics.__file__).read_text())
    imported = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    allowed = ("__future__", "collections.abc", "dataclasses")
    assert all(isinstance(n, ast.ImportFrom) and n.module in allowed for n in imported)
