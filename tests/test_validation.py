"""SHACL validation of captured run graphs against `ontology/shapes.ttl`."""

from __future__ import annotations

import pytest
import rdflib
from pyoxigraph import Literal, Quad, Store
from rdflib.namespace import RDF, RDFS, SH

from cnnprov_rdf.graph.mapping import RunIris
from cnnprov_rdf.graph.vocabulary import CNN, PROV, RDF_TYPE
from cnnprov_rdf.interop.validation import SHAPES_NS, ValidationReport, load_shapes, shapes_file, validate
from cnnprov_rdf.query.runs import RunNotFoundError, resolve_run
from cnnprov_rdf.storage.store import open_for_reading

EPOCH_SHAPE = SHAPES_NS + "EpochResultShape"
ADAPTATION_SHAPE = SHAPES_NS + "AdaptationShape"
DISJOINT_SHAPE = SHAPES_NS + "ActivityEntityDisjointShape"
TRAINING_SHAPE = SHAPES_NS + "TrainingShape"
MODEL_FILE_SHAPE = SHAPES_NS + "ModelFileShape"


def _copy(captured) -> tuple[Store, RunIris]:
    """The captured run's graph, copied into a fresh in-memory store."""
    source = open_for_reading(captured.store)
    _, graph = resolve_run(source, captured.run_id)
    copy = Store()
    copy.extend(list(source.quads_for_pattern(None, None, None, graph)))
    return copy, RunIris(captured.run_id)


def _violations(report: ValidationReport, shape: str) -> list:
    return [v for run in report.runs for v in run.violations if v.shape == shape]


# --- the shapes file ---------------------------------------------------------------------------------


def test_shapes_parse_and_every_shape_is_labelled_and_commented():
    shapes = load_shapes()
    node_shapes = set(shapes.subjects(RDF.type, SH.NodeShape))
    assert len(node_shapes) >= 10
    for shape in node_shapes:
        assert isinstance(shape, rdflib.URIRef) and str(shape).startswith(SHAPES_NS)
        assert shapes.value(shape, RDFS.label) is not None, shape
        assert shapes.value(shape, RDFS.comment) is not None, shape
    for owner, prop in shapes.subject_objects(SH.property):
        assert shapes.value(prop, SH.message) is not None, (owner, shapes.value(prop, SH.path))
    for owner, constraint in shapes.subject_objects(SH.sparql):
        assert shapes.value(constraint, SH.message) is not None, owner
    assert shapes_file().name == "shapes.ttl" and shapes_file().is_file()


# --- real captures conform ---------------------------------------------------------------------------


def test_captured_run_conforms(captured):
    report = validate(open_for_reading(captured.store))
    assert report.conforms, report.text()
    assert [run.run_id for run in report.runs] == [captured.run_id]
    assert "Conforms" in report.text()


def test_every_grid_run_conforms(grid):
    store = open_for_reading(grid.store)
    report = validate(store)
    assert report.conforms, report.text()
    assert {run.run_id for run in report.runs} == {run.run_id for run in grid.runs.values()}
    # the failed and the early-stopped run, chosen by id
    chosen = validate(store, [grid.runs["raises"].run_id, grid.runs["early-stop"].run_id[:8]])
    assert chosen.conforms and [r.run_id for r in chosen.runs] == [
        grid.runs["raises"].run_id, grid.runs["early-stop"].run_id,
    ]


def test_unknown_run_is_refused(captured):
    with pytest.raises(RunNotFoundError):
        validate(open_for_reading(captured.store), ["no-such-run"])


# --- broken graphs are reported, naming the shape ----------------------------------------------------


def test_broken_copy_names_the_shapes_and_focus_nodes(captured):
    store, iris = _copy(captured)
    epoch2 = iris.node("epoch", 2)
    adaptations = [q.subject for q in store.quads_for_pattern(None, RDF_TYPE, CNN.Adaptation, iris.graph)]
    assert adaptations, "the captured run has a learning-rate adaptation"
    adaptation = adaptations[0]
    for subject, predicate in ((epoch2, CNN.loss), (adaptation, CNN.newLearningRate)):
        removed = list(store.quads_for_pattern(subject, predicate, None, iris.graph))
        assert len(removed) == 1
        store.remove(removed[0])
    store.add(Quad(iris.run, RDF_TYPE, PROV.Entity, iris.graph))

    report = validate(store)
    assert not report.conforms
    [run] = report.runs
    assert not run.conforms and run.run_id == captured.run_id

    [loss] = _violations(report, EPOCH_SHAPE)
    assert loss.focus_node == epoch2.value and loss.path == CNN.loss.value
    assert loss.shape_label.startswith("Epoch result shape") and "cnn:loss" in loss.message
    [rate] = _violations(report, ADAPTATION_SHAPE)
    assert rate.focus_node == adaptation.value and rate.path == CNN.newLearningRate.value
    [disjoint] = _violations(report, DISJOINT_SHAPE)
    assert disjoint.focus_node == iris.run.value and disjoint.path is None
    assert {v.shape for v in run.violations} == {EPOCH_SHAPE, ADAPTATION_SHAPE, DISJOINT_SHAPE}
    assert all(v.severity == "Violation" for v in run.violations)

    text = report.text()
    assert "Does not conform" in text
    for label, node in (
        ("Epoch result shape", epoch2),
        ("Adaptation shape", adaptation),
        ("Activity/Entity disjointness shape", iris.run),
    ):
        assert any(label in line and node.value in line for line in text.splitlines()), (label, text)


def test_ended_run_needs_end_time_and_failed_run_needs_error(captured):
    store, iris = _copy(captured)
    [status] = store.quads_for_pattern(iris.run, CNN.status, None, iris.graph)
    [ended] = store.quads_for_pattern(iris.run, PROV.endedAtTime, None, iris.graph)
    store.remove(status)
    store.remove(ended)
    store.add(Quad(iris.run, CNN.status, Literal("failed"), iris.graph))
    messages = {v.message for v in _violations(validate(store), TRAINING_SHAPE)}
    assert any("prov:endedAtTime" in m for m in messages), messages
    assert any("cnn:TrainingError" in m for m in messages), messages

    store.add(ended)
    store.remove(Quad(iris.run, CNN.status, Literal("failed"), iris.graph))
    store.add(Quad(iris.run, CNN.status, Literal("crashed"), iris.graph))
    [bad] = _violations(validate(store), TRAINING_SHAPE)
    assert bad.path == CNN.status.value and bad.value == "crashed"

    # a run still in progress (no status, no end time) conforms
    store.remove(Quad(iris.run, CNN.status, Literal("crashed"), iris.graph))
    store.remove(ended)
    assert validate(store).conforms


def test_model_file_digest_must_be_hex(captured):
    store, iris = _copy(captured)
    files = [q.subject for q in store.quads_for_pattern(None, RDF_TYPE, CNN.ModelFile, iris.graph)]
    assert files
    for quad in list(store.quads_for_pattern(files[0], CNN.sha256, None, iris.graph)):
        store.remove(quad)
    store.add(Quad(files[0], CNN.sha256, Literal("not-a-digest"), iris.graph))
    [bad] = _violations(validate(store), MODEL_FILE_SHAPE)
    assert bad.focus_node == files[0].value and bad.path == CNN.sha256.value


def test_empty_store_validates_nothing():
    report = validate(Store())
    assert report.conforms and report.runs == []
