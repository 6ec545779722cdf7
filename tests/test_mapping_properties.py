"""Property tests of the pure mapping `to_quads(event, base)`: graph, determinism, typing, literals and IRIs.

Every event type in `events.py` has a Hypothesis strategy; the properties are checked per event and, where they
concern the graph as a whole (typing, Activity/Entity disjointness), over a whole run's worth of events.
"""

from __future__ import annotations

import dataclasses
import math
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, parse, serialize

from cnnprov_rdf.capture import events as ev  # TestingDone via `ev.`: pytest would try to collect it
from cnnprov_rdf.capture.events import (
    Agents,
    ArchitectureRecorded,
    DatasetRecorded,
    EpochEnded,
    HyperparametersRecorded,
    LayerInfo,
    LearningRateChanged,
    ModelFileSaved,
    RunEnded,
    RunFailed,
    RunStarted,
    RunSummary,
    ScheduleRecorded,
)
from cnnprov_rdf.graph.iris import RunIris, base_of, graph_of, index_graph, is_index_graph, is_write_once, shared_graph
from cnnprov_rdf.graph.literals import date_time
from cnnprov_rdf.graph.mapping import to_quads
from cnnprov_rdf.graph.metrics import STANDARD_METRICS
from cnnprov_rdf.graph.vocabulary import (
    CLASS_BASE_TYPES,
    CNN_NS,
    DATATYPE_PROPERTIES,
    DEFAULT_BASE,
    IDX_NS,
    MLS_NS,
    OBJECT_PROPERTIES,
    PROV_NS,
    RDF_NS,
    RDFS_NS,
    ROLES,
    XSD_NS,
)

MAPPING = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VOCABULARIES = (PROV_NS, MLS_NS, CNN_NS, RDF_NS, RDFS_NS, XSD_NS, IDX_NS)
OTHER_BASE = "http://lab.example/prov/"

RDF_TYPE = NamedNode(RDF_NS + "type")
PROV_ACTIVITY = NamedNode(PROV_NS + "Activity")
PROV_ENTITY = NamedNode(PROV_NS + "Entity")
PROV_ASSOCIATION = NamedNode(PROV_NS + "Association")
XSD_DOUBLE = NamedNode(XSD_NS + "double")
XSD_INTEGER = NamedNode(XSD_NS + "integer")
XSD_BOOLEAN = NamedNode(XSD_NS + "boolean")
XSD_STRING = NamedNode(XSD_NS + "string")
XSD_DATETIME = NamedNode(XSD_NS + "dateTime")

#: `Z` or an offset of at most 14:00, as XSD allows.
XSD_TIMEZONE = re.compile(r"(Z|[+-](0\d|1[0-3]):[0-5]\d|[+-]14:00)$")


# --- strategies -------------------------------------------------------------------------------------

run_ids = st.uuids(version=4).map(str)
epochs = st.integers(min_value=1, max_value=100_000)
counts = st.integers(min_value=0, max_value=10**12)

SPECIAL_FLOATS = [
    math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 1.7976931348623157e308,
    5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, 1e16, 0.1, 0.5, 1.0 / 3.0,
]
floats = st.one_of(st.sampled_from(SPECIAL_FLOATS), st.floats(allow_nan=True, allow_infinity=True))
finite_floats = st.floats(allow_nan=False, allow_infinity=False)

QUOTED_STRINGS = ['"', "'", '\\"', 'say "hi"', "it's", "ünïcødé ✓ 🚀", "tab\tnew\nline\r", "a\\b", "<>&", ""]
texts = st.one_of(st.sampled_from(QUOTED_STRINGS), st.text(max_size=30))

sha256s = st.binary(min_size=32, max_size=32).map(bytes.hex)
identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
metric_names = st.one_of(st.sampled_from(sorted(STANDARD_METRICS)), identifiers)
metric_dicts = st.dictionaries(metric_names, floats, max_size=6)

#: Whole-minute UTC offsets within ±14:00 (offsets with seconds or beyond 14:00: see the last test).
fixed_offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
naive_datetimes = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
aware_datetimes = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.one_of(st.just(UTC), fixed_offsets)
)
datetimes = st.one_of(naive_datetimes, aware_datetimes)

hyperparameter_values = st.one_of(
    st.booleans(), st.integers(min_value=-(10**30), max_value=10**30), floats, texts
)
hyperparameter_dicts = st.dictionaries(
    st.one_of(identifiers, st.text(min_size=1, max_size=20)), hyperparameter_values, max_size=6
)

optional_text = st.none() | texts
agents = st.builds(
    Agents,
    software_version=texts,
    python_version=texts,
    framework_name=optional_text,
    framework_version=optional_text,
    keras_version=optional_text,
    device_kind=st.sampled_from(["CPU", "GPU", "TPU"]),
    device_name=texts,
    host_name=texts,
    user_name=texts,
)
shapes = st.none() | st.lists(st.integers(1, 11), max_size=3).map(tuple)
layers = st.builds(
    LayerInfo,
    index=st.integers(0, 50),
    name=texts,
    kind=st.sampled_from(["Conv2D", "MaxPooling2D", "Dense", "Dropout", "Flatten", "BatchNormalization"]),
    parameter_count=counts,
    filters=st.none() | st.integers(1, 1024),
    kernel_size=shapes,
    strides=shapes,
    units=st.none() | st.integers(1, 4096),
    activation=st.none() | st.sampled_from(["relu", "softmax", "linear"]),
    dropout_rate=st.none() | st.floats(0.0, 1.0),
)


def _unique_layers(items: list[LayerInfo]) -> tuple[LayerInfo, ...]:
    return tuple(dataclasses.replace(layer, index=i) for i, layer in enumerate(items))


def other_events_for(run_id: st.SearchStrategy[str]) -> st.SearchStrategy:
    """A strategy per event type other than RunStarted (all sharing the run id strategy), combined."""
    return st.one_of(
        st.builds(HyperparametersRecorded, run_id, hyperparameter_dicts),
        st.builds(
            DatasetRecorded, run_id, texts, optional_text, st.none() | st.floats(0, 1),
            st.none() | counts, st.none() | counts, st.none() | st.floats(0, 1),
        ),
        st.builds(
            ArchitectureRecorded, run_id, texts, counts, st.lists(layers, max_size=6).map(_unique_layers)
        ),
        st.builds(
            ScheduleRecorded, run_id, st.sampled_from(["constant", "step", "exponential"]),
            st.none() | finite_floats, st.none() | finite_floats, st.none() | epochs,
        ),
        st.builds(EpochEnded, run_id, epochs, metric_dicts, floats, datetimes, st.none() | floats),
        st.builds(LearningRateChanged, run_id, epochs, epochs, floats, floats, datetimes, st.booleans()),
        st.builds(
            ev.TestingDone, run_id, epochs, metric_dicts, datetimes, datetimes, st.none() | counts, st.booleans()
        ),
        st.builds(ModelFileSaved, run_id, texts, counts, sha256s, datetimes, st.none() | epochs),
        st.builds(RunFailed, run_id, identifiers, texts, datetimes),
        st.builds(
            RunEnded, run_id, datetimes, st.sampled_from(["finished", "failed"]),
            st.builds(RunSummary, st.integers(0, 1000), floats, metric_dicts, metric_dicts),
        ),
    )


def run_started_for(run_id: st.SearchStrategy[str]) -> st.SearchStrategy[RunStarted]:
    return st.builds(RunStarted, run_id, datetimes, agents, optional_text, st.none() | epochs)


#: Any single event, of any type.
events = st.one_of(run_started_for(run_ids), other_events_for(run_ids))


@st.composite
def runs(draw: st.DrawFn) -> list:
    """The events of one run, as a tracker would submit them: RunStarted first, then others."""
    run_id = st.just(draw(run_ids))
    return [draw(run_started_for(run_id)), *draw(st.lists(other_events_for(run_id), max_size=8))]


# --- helpers ----------------------------------------------------------------------------------------


def types_of(quads: list[Quad]) -> dict[NamedNode, set[NamedNode]]:
    types: dict[NamedNode, set[NamedNode]] = {}
    for quad in quads:
        if quad.predicate == RDF_TYPE:
            types.setdefault(quad.subject, set()).add(quad.object)
    return types


def named_nodes(quads: list[Quad]) -> list[NamedNode]:
    nodes: list[NamedNode] = []
    for quad in quads:
        nodes += [quad.subject, quad.predicate, quad.graph_name]
        if isinstance(quad.object, NamedNode):
            nodes.append(quad.object)
        else:
            nodes.append(quad.object.datatype)
    return nodes


def objects(quads: list[Quad], subject: NamedNode, predicate: NamedNode) -> list:
    return [q.object for q in quads if q.subject == subject and q.predicate == predicate]


def the_object(quads: list[Quad], subject: NamedNode, predicate: NamedNode) -> Literal | NamedNode:
    found = objects(quads, subject, predicate)
    assert len(found) == 1, (subject, predicate, found)
    return found[0]


def as_float(literal: Literal) -> float:
    return float(literal.value.replace("INF", "inf"))


def assert_double(literal: Literal, expected: float) -> None:
    """The literal is an `xsd:double` whose value is exactly `expected` (NaN, ±INF and -0.0 included)."""
    assert isinstance(literal, Literal)
    assert literal.datatype == XSD_DOUBLE
    if math.isnan(expected):
        assert literal.value == "NaN"
        return
    if math.isinf(expected):
        assert literal.value == ("INF" if expected > 0 else "-INF")
    value = as_float(literal)
    assert value == expected
    assert math.copysign(1.0, value) == math.copysign(1.0, expected)


def run_node(run_id: str, base: str = DEFAULT_BASE) -> NamedNode:
    return NamedNode(f"{base}run/{run_id}")


def cnn(name: str) -> NamedNode:
    return NamedNode(CNN_NS + name)


def prov(name: str) -> NamedNode:
    return NamedNode(PROV_NS + name)


# --- properties -------------------------------------------------------------------------------------


@MAPPING
@given(events)
def test_every_quad_is_in_the_runs_graph_or_describes_a_shared_node_in_its_graph(event) -> None:
    quads = to_quads(event)
    assert quads or (isinstance(event, HyperparametersRecorded) and not event.values)
    run_graph = graph_of(event.run_id)
    assert run_graph == NamedNode(f"{DEFAULT_BASE}graph/{event.run_id}")
    assert base_of(run_graph) == DEFAULT_BASE
    for quad in quads:
        if is_index_graph(quad.graph_name):
            # a run-index fact: about the run, one of its nodes, its dataset, a key or the index itself, in its
            # base's index graph, in idx:
            assert quad.graph_name == index_graph(), quad
            assert quad.subject.value.startswith((RunIris(event.run_id).prefix, f"{DEFAULT_BASE}dataset/", IDX_NS)) or (
                quad.subject == index_graph()), quad
            assert quad.predicate.value.startswith(IDX_NS), quad
        elif quad.graph_name != run_graph:
            # a hyperparameter's, a measure's or an architecture's graph, named after the node it describes
            assert is_write_once(quad.graph_name), quad
            subject = quad.subject.value
            node = quad.subject if shared_graph(quad.subject) else NamedNode(subject.rpartition("/layer/")[0])
            assert shared_graph(node) == quad.graph_name, quad
            # ... and the run's graph refers to that node
            assert any(q.object == node and q.graph_name == run_graph for q in quads), quad
    assert not is_write_once(run_graph)


@MAPPING
@given(events)
def test_mapping_is_deterministic(event) -> None:
    first = to_quads(event)
    assert to_quads(event) == first
    # An equal but distinct event object maps to the same quads too: nothing depends on identity or a clock.
    assert to_quads(dataclasses.replace(event)) == first


@MAPPING
@given(runs())
def test_cnn_classes_carry_their_prov_base_type(run) -> None:
    quads = [q for event in run for q in to_quads(event)]
    for node, classes in types_of(quads).items():
        for cls in classes:
            if cls.value.startswith(CNN_NS):
                name = cls.value.removeprefix(CNN_NS)
                assert name in CLASS_BASE_TYPES, f"cnn:{name} is not in CLASS_BASE_TYPES"
                assert prov(CLASS_BASE_TYPES[name]) in classes, (node, name)


@MAPPING
@given(runs())
def test_no_node_is_both_activity_and_entity(run) -> None:
    quads = [q for event in run for q in to_quads(event)]
    for node, classes in types_of(quads).items():
        assert not {PROV_ACTIVITY, PROV_ENTITY} <= classes, node


@MAPPING
@given(runs())
def test_every_association_is_typed_and_complete(run) -> None:
    quads = [q for event in run for q in to_quads(event)]
    types = types_of(quads)
    associations = {q.object for q in quads if q.predicate == prov("qualifiedAssociation")}
    assert len(associations) == len(ROLES)
    associations |= {q.subject for q in quads if q.predicate in (prov("agent"), prov("hadRole"))}
    for association in associations:
        assert PROV_ASSOCIATION in types.get(association, set()), association
        agent = the_object(quads, association, prov("agent"))
        assert prov("Agent") in types[agent]
        role = the_object(quads, association, prov("hadRole"))
        assert role.value.removeprefix(CNN_NS) in ROLES


@MAPPING
@given(events)
def test_cnn_properties_are_declared_with_their_datatypes(event) -> None:
    for quad in to_quads(event):
        if not quad.predicate.value.startswith(CNN_NS):
            continue
        name = quad.predicate.value.removeprefix(CNN_NS)
        if isinstance(quad.object, Literal):
            assert name in DATATYPE_PROPERTIES, name
            assert quad.object.datatype == NamedNode(XSD_NS + DATATYPE_PROPERTIES[name]), (name, quad.object)
        else:
            assert name in OBJECT_PROPERTIES, name


@MAPPING
@given(run_ids, epochs, metric_dicts, floats, datetimes, st.none() | floats)
def test_epoch_metric_values_round_trip_exactly(run_id, epoch, metrics, elapsed, ended_at, rate) -> None:
    quads = to_quads(EpochEnded(run_id, epoch, metrics, elapsed, ended_at, rate))
    result = NamedNode(f"{DEFAULT_BASE}run/{run_id}/epoch/{epoch}")
    for name, value in metrics.items():
        if name in STANDARD_METRICS:
            assert_double(the_object(quads, result, cnn(STANDARD_METRICS[name])), value)
        else:
            metric = NamedNode(f"{result.value}/metric/{quote(name, safe='')}")
            assert metric in objects(quads, result, cnn("hasMetric"))
            assert the_object(quads, metric, cnn("metricName")) == Literal(name)
            assert_double(the_object(quads, metric, NamedNode(MLS_NS + "hasValue")), value)
    assert_double(the_object(quads, result, cnn("elapsedSeconds")), elapsed)
    if rate is None:
        assert not objects(quads, result, cnn("learningRate"))
    else:
        assert_double(the_object(quads, result, cnn("learningRate")), rate)
    assert the_object(quads, result, cnn("epoch")) == Literal(str(epoch), datatype=XSD_INTEGER)


@MAPPING
@given(run_ids, hyperparameter_dicts)
def test_hyperparameter_values_keep_their_type(run_id, values) -> None:
    quads = to_quads(HyperparametersRecorded(run_id, values))
    for name, value in values.items():
        setting = NamedNode(f"{DEFAULT_BASE}run/{run_id}/hyperparameter/{quote(name, safe='')}")
        assert setting in objects(quads, run_node(run_id), prov("used"))
        assert the_object(quads, setting, cnn("hyperparameterName")) == Literal(name)
        literal = the_object(quads, setting, NamedNode(MLS_NS + "hasValue"))
        if isinstance(value, bool):
            assert literal == Literal("true" if value else "false", datatype=XSD_BOOLEAN)
        elif isinstance(value, int):
            assert literal.datatype == XSD_INTEGER
            assert int(literal.value) == value
        elif isinstance(value, float):
            assert_double(literal, value)
        else:
            assert literal.datatype == XSD_STRING
            assert literal.value == value


@MAPPING
@given(events)
def test_date_times_carry_a_time_zone_and_keep_their_instant(event) -> None:
    for quad in to_quads(event):
        if isinstance(quad.object, Literal) and quad.object.datatype == XSD_DATETIME:
            assert XSD_TIMEZONE.search(quad.object.value), quad.object.value


@MAPPING
@given(datetimes)
def test_date_time_literal_round_trips(value) -> None:
    literal = date_time(value)
    assert literal.datatype == XSD_DATETIME
    assert XSD_TIMEZONE.search(literal.value), literal.value
    parsed = datetime.fromisoformat(literal.value)
    assert parsed == (value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    assert parsed.utcoffset() == timedelta(0)  # always written in UTC


@MAPPING
@given(events)
def test_iris_are_under_the_base_or_a_known_vocabulary(event) -> None:
    for node in named_nodes(to_quads(event)):
        assert node.value.startswith((DEFAULT_BASE, *VOCABULARIES)), node.value


@MAPPING
@given(events)
def test_n_quads_round_trip(event) -> None:
    quads = to_quads(event)
    data = serialize(quads, format=RdfFormat.N_QUADS)
    assert set(parse(data, format=RdfFormat.N_QUADS)) == set(quads)


@MAPPING
@given(events)
def test_a_non_default_base_is_honoured(event) -> None:
    quads = to_quads(event, OTHER_BASE)
    assert {q.graph_name for q in quads if not is_write_once(q.graph_name)} <= {graph_of(event.run_id, OTHER_BASE),
                                                                               index_graph(OTHER_BASE)}
    assert all(q.graph_name.value.startswith(f"{OTHER_BASE}graph/") for q in quads)
    assert graph_of(event.run_id, OTHER_BASE) == NamedNode(f"{OTHER_BASE}graph/{event.run_id}")
    for node in named_nodes(quads):
        assert node.value.startswith((OTHER_BASE, *VOCABULARIES)), node.value
        assert not node.value.startswith(DEFAULT_BASE), node.value
    # Same shape as under the default base: only the base of the minted IRIs differs.
    default = to_quads(event)
    assert len(quads) == len(default)
    assert [str(q).replace(OTHER_BASE, DEFAULT_BASE) for q in quads] == [str(q) for q in default]


# --- examples ---------------------------------------------------------------------------------------

RUN_ID = "5f0c7a52-3f4e-4b8e-9d1a-2b6c8e4f1a77"
AT = datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)


def test_epoch_ended_example_gives_exactly_these_quads() -> None:
    event = EpochEnded(RUN_ID, 2, {"loss": 0.5, "top5": 0.9}, 1.25, AT)
    base = "https://w3id.org/cnnprov/id/"
    graph = NamedNode(f"{base}graph/{RUN_ID}")
    run = NamedNode(f"{base}run/{RUN_ID}")
    result = NamedNode(f"{base}run/{RUN_ID}/epoch/2")
    metric = NamedNode(f"{base}run/{RUN_ID}/epoch/2/metric/top5")
    measure = NamedNode(f"{base}measure/top5")
    c, p = "https://w3id.org/cnnprov/ontology#", "http://www.w3.org/ns/prov#"
    m, x = "http://www.w3.org/ns/mls#", "http://www.w3.org/2001/XMLSchema#"
    a = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    label = NamedNode("http://www.w3.org/2000/01/rdf-schema#label")

    def n(iri: str) -> NamedNode:
        return NamedNode(iri)

    expected = {
        (result, a, n(c + "EpochResult")),
        (result, a, n(p + "Entity")),
        (result, n(p + "wasGeneratedBy"), run),
        (result, n(c + "epoch"), Literal("2", datatype=n(x + "integer"))),
        (result, n(p + "generatedAtTime"), Literal("2024-05-01T12:30:15Z", datatype=n(x + "dateTime"))),
        (result, n(c + "elapsedSeconds"), Literal("1.25", datatype=n(x + "double"))),
        (result, n(c + "loss"), Literal("0.5", datatype=n(x + "double"))),
        (result, n(c + "hasMetric"), metric),
        (metric, a, n(c + "MetricValue")),
        (metric, a, n(p + "Entity")),
        (metric, n(c + "metricName"), Literal("top5")),
        (metric, n(m + "hasValue"), Literal("0.9", datatype=n(x + "double"))),
        (metric, n(m + "specifiedBy"), measure),
    }
    measure_graph = NamedNode(f"{base}graph/measure/top5")  # the measure is described in its own graph
    measure_description = {
        (measure, a, n(c + "EvaluationMeasure")),
        (measure, a, n(p + "Entity")),
        (measure, label, Literal("top5")),
    }
    quads = to_quads(event)
    assert len(quads) == len(expected) + len(measure_description)  # no duplicates either
    assert set(quads) == {Quad(s, pr, o, graph) for s, pr, o in expected} | {
        Quad(s, pr, o, measure_graph) for s, pr, o in measure_description}


@pytest.mark.parametrize("number", [1, 2])
@pytest.mark.parametrize("schedule_known", [False, True])
def test_learning_rate_changed_example(number: int, schedule_known: bool) -> None:
    quads = to_quads(LearningRateChanged(RUN_ID, number, 3, 0.01, 0.001, AT, schedule_known))
    run = run_node(RUN_ID)
    adaptation = NamedNode(f"{run.value}/adaptation/{number}")
    setting = NamedNode(f"{run.value}/learning-rate/{number}")
    types = types_of(quads)
    assert types[adaptation] == {cnn("Adaptation"), PROV_ACTIVITY}
    assert types[setting] == {cnn("LearningRateSetting"), PROV_ENTITY}
    assert the_object(quads, adaptation, cnn("oldLearningRate")) == Literal("0.01", datatype=XSD_DOUBLE)
    assert the_object(quads, adaptation, cnn("newLearningRate")) == Literal("0.001", datatype=XSD_DOUBLE)
    assert the_object(quads, adaptation, cnn("epoch")) == Literal("3", datatype=XSD_INTEGER)
    assert the_object(quads, adaptation, prov("wasInformedBy")) == run
    used = set(objects(quads, adaptation, prov("used")))
    epoch_result = NamedNode(f"{run.value}/epoch/3")
    assert used == ({epoch_result, NamedNode(f"{run.value}/schedule")} if schedule_known else {epoch_result})
    assert the_object(quads, adaptation, cnn("adaptationId")) == Literal(
        str(uuid.uuid5(uuid.NAMESPACE_URL, adaptation.value.split("/run/", 1)[1]))  # "<run id>/adaptation/<n>"
    )
    assert the_object(quads, setting, cnn("learningRate")) == Literal("0.001", datatype=XSD_DOUBLE)
    assert the_object(quads, setting, cnn("epoch")) == Literal("4", datatype=XSD_INTEGER)
    assert the_object(quads, setting, prov("wasGeneratedBy")) == adaptation
    derived = objects(quads, setting, prov("wasDerivedFrom"))
    assert derived == ([NamedNode(f"{run.value}/learning-rate/1")] if number == 2 else [])


# --- offsets XSD cannot express (fixed in c8561e8: written in UTC) -----------------------------------


@pytest.mark.parametrize(
    "offset", [timedelta(minutes=19, seconds=32), timedelta(hours=15)], ids=["seconds", "beyond-14h"]
)
def test_date_time_with_any_offset_is_written_as_valid_utc(offset: timedelta) -> None:
    value = datetime(1900, 1, 1, 12, 0, tzinfo=timezone(offset))
    literal = date_time(value)
    assert XSD_TIMEZONE.search(literal.value), literal.value
    assert datetime.fromisoformat(literal.value) == value
