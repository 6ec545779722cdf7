"""Pure mapping from training events to PROV-O + `cnn:` quads.

No store, no I/O, no clock: the same event always gives the same quads, in the run's named graph.
IRIs are derived from the run's UUID under a configurable base, so re-mapping an event is idempotent.
Nodes that runs share (a hyperparameter, an evaluation measure, an architecture) are described in a graph of
their own that the run's graph refers to; a grid search stores each of them once.

The rules this applies live beside it: IRIs and graph names in `iris`, literals in `literals`, the known
metrics in `metrics`.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from functools import singledispatch

from pyoxigraph import Literal, NamedNode, Quad

from ..capture.events import (
    Agents,
    ArchitectureRecorded,
    BatchEnded,
    DatasetRecorded,
    EpochEnded,
    Event,
    HyperparametersRecorded,
    LayerInfo,
    LearningRateChanged,
    ModelFileSaved,
    RunEnded,
    RunFailed,
    RunStarted,
    ScheduleRecorded,
    SearchEnded,
    SearchStarted,
    TestingDone,
    TrialEnded,
    TrialStarted,
)
from .iris import (
    RunIris,
    architecture_key,
    definition_key,
    index_graph,
    layer_node,
    metric_node,
    shared_graph_of,
    shared_node,
)
from .literals import date_time, double, integer, string, typed
from .metrics import STANDARD_METRICS, summary_properties
from .run_index import index_triples
from .search_mapping import search_quads, trial_statements
from .vocabulary import CNN, DEFAULT_BASE, MLS, PROV, RDF_TYPE, RDFS

Triple = tuple[NamedNode, NamedNode, NamedNode | Literal]
#: What an event's mapping yields: a triple of the run's graph, or a quad of a shared node's graph.
Statement = Triple | Quad


# --- shared nodes -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _architecture(
    model_name: str, parameter_count: int, layers: tuple[LayerInfo, ...], base: str
) -> tuple[NamedNode, tuple[Quad, ...]]:
    """An architecture's IRI and the quads of its graph (cached, as are `_definition`'s: a grid search maps
    the same ones for every run)."""
    key = architecture_key(model_name, parameter_count, layers)
    architecture, graph = shared_node("architecture", key, base), shared_graph_of("architecture", key, base)
    return architecture, tuple(Quad(s, p, o, graph) for s, p, o in _layers(layers, architecture))


@functools.lru_cache(maxsize=1024)
def _definition(base: str, kind: str, name: str, cnn_class: str) -> tuple[NamedNode, tuple[Quad, ...]]:
    """A hyperparameter's or a measure's IRI and the quads of its graph: its types and its name as label."""
    key = definition_key(name)
    node, graph = shared_node(kind, key, base), shared_graph_of(kind, key, base)
    types = (CNN.term(cnn_class), PROV.Entity)
    return node, (*(Quad(node, RDF_TYPE, t, graph) for t in types), Quad(node, RDFS.label, string(name), graph))


# --- mapping ----------------------------------------------------------------------------------------


def to_quads(event: Event, base: str = DEFAULT_BASE) -> list[Quad]:
    """All quads for one event: in the run's named graph, in the graphs of the shared nodes it uses, and its
    facts for the run index (`run_index`, in `{base}graph/index`); an event about a search as a whole: in the
    search's graph."""
    if isinstance(event, SearchStarted | SearchEnded):
        return search_quads(event, base)
    iris = RunIris(event.run_id, base)
    graph = iris.graph
    quads = [item if isinstance(item, Quad) else Quad(*item, graph) for item in _triples(event, iris)]
    index = index_graph(base)
    quads += (Quad(*triple, index) for triple in index_triples(event, iris))
    return quads


def _typed_node(node: NamedNode, cnn_class: str, prov_class: str) -> Iterator[Triple]:
    yield node, RDF_TYPE, CNN.term(cnn_class)
    yield node, RDF_TYPE, PROV.term(prov_class)


def _optional(node: NamedNode, values: dict[NamedNode, Literal | None]) -> Iterator[Triple]:
    for predicate, value in values.items():
        if value is not None:
            yield node, predicate, value


def _maybe(convert, value):  # type: ignore[no-untyped-def]
    return None if value is None else convert(value)


def _metrics(owner: NamedNode, metrics: dict[str, float], iris: RunIris, *, all_as_nodes: bool) -> Iterator[Statement]:
    """Standard metrics as direct properties; others (or all, for test results) as ML Schema evaluations."""
    for name, value in metrics.items():
        if name in STANDARD_METRICS:
            yield owner, CNN.term(STANDARD_METRICS[name]), double(value)
        if all_as_nodes or name not in STANDARD_METRICS:
            metric = metric_node(owner, name)
            measure, definition = _definition(iris.base, "measure", name, "EvaluationMeasure")
            yield owner, CNN.hasMetric, metric
            yield from _typed_node(metric, "MetricValue", "Entity")
            yield metric, CNN.metricName, string(name)
            yield metric, MLS.hasValue, double(value)
            yield metric, MLS.specifiedBy, measure
            yield from definition


def _model(iris: RunIris) -> Iterator[Triple]:
    model = iris.node("model")
    yield from _typed_node(model, "TrainedModel", "Entity")
    yield model, PROV.wasGeneratedBy, iris.run


@singledispatch
def _triples(event: Event, iris: RunIris) -> Iterator[Statement]:
    raise TypeError(f"no mapping for event type {type(event).__name__}")


@_triples.register
def _(event: RunStarted, iris: RunIris) -> Iterator[Statement]:
    run = iris.run
    yield from _typed_node(run, "Training", "Activity")
    yield run, CNN.runId, string(event.run_id)
    yield run, PROV.startedAtTime, date_time(event.started_at)
    yield from _optional(
        run,
        {CNN.runName: _maybe(string, event.name), CNN.plannedEpochs: _maybe(integer, event.planned_epochs)},
    )
    yield from _agents(event.agents, iris)


def _agents(agents: Agents, iris: RunIris) -> Iterator[Triple]:
    software, device, user = iris.node("agent", "software"), iris.node("agent", "device"), iris.node("agent", "user")
    yield from _typed_node(software, "TrainingSoftware", "Agent")
    yield software, RDF_TYPE, PROV.SoftwareAgent
    yield software, CNN.softwareName, string("cnnprov-rdf")
    yield software, CNN.softwareVersion, string(agents.software_version)
    yield software, CNN.pythonVersion, string(agents.python_version)
    yield from _optional(
        software,
        {
            CNN.frameworkName: _maybe(string, agents.framework_name),
            CNN.frameworkVersion: _maybe(string, agents.framework_version),
            CNN.kerasVersion: _maybe(string, agents.keras_version),
        },
    )
    yield software, PROV.actedOnBehalfOf, user
    yield from _typed_node(device, "ComputeDevice", "Agent")
    yield device, CNN.deviceKind, string(agents.device_kind)
    yield device, CNN.deviceName, string(agents.device_name)
    yield device, CNN.hostName, string(agents.host_name)
    yield from _typed_node(user, "User", "Agent")
    yield user, RDF_TYPE, PROV.Person
    yield user, CNN.userName, string(agents.user_name)
    for agent, role in ((software, "TrainerRole"), (device, "ExecutorRole"), (user, "OperatorRole")):
        association = iris.node("association", role)
        yield iris.run, PROV.wasAssociatedWith, agent
        yield iris.run, PROV.qualifiedAssociation, association
        yield association, RDF_TYPE, PROV.Association
        yield association, PROV.agent, agent
        yield association, PROV.hadRole, CNN.term(role)


@_triples.register
def _(event: HyperparametersRecorded, iris: RunIris) -> Iterator[Statement]:
    for name, value in event.values.items():
        setting = iris.node("hyperparameter", name)
        hyperparameter, definition = _definition(iris.base, "hyperparameter", name, "Hyperparameter")
        yield iris.run, PROV.used, setting
        yield from _typed_node(setting, "HyperparameterSetting", "Entity")
        yield setting, CNN.hyperparameterName, string(name)
        yield setting, MLS.hasValue, typed(value)
        yield setting, MLS.specifiedBy, hyperparameter
        yield from definition


@_triples.register
def _(event: DatasetRecorded, iris: RunIris) -> Iterator[Statement]:
    dataset, split = iris.dataset(event.name, event.location), iris.node("split")
    yield iris.run, PROV.used, dataset
    yield iris.run, PROV.used, split
    yield from _typed_node(dataset, "Dataset", "Entity")
    yield dataset, CNN.datasetName, string(event.name)
    yield from _optional(dataset, {CNN.location: _maybe(string, event.location)})
    yield from _typed_node(split, "DataSplit", "Entity")
    yield split, PROV.wasDerivedFrom, dataset
    yield from _optional(
        split,
        {
            CNN.trainFraction: _maybe(double, event.train_fraction),
            CNN.trainExamples: _maybe(integer, event.train_examples),
            CNN.testExamples: _maybe(integer, event.test_examples),
            CNN.validationFraction: _maybe(double, event.validation_fraction),
        },
    )


def _shape(values: tuple[int, ...] | None) -> Literal | None:
    return None if values is None else string("x".join(str(v) for v in values))


@_triples.register
def _(event: ArchitectureRecorded, iris: RunIris) -> Iterator[Statement]:
    """In the run's graph: the architecture's types, name and counts; its layers in its own graph."""
    architecture, layers = _architecture(event.model_name, event.parameter_count, event.layers, iris.base)
    yield iris.run, PROV.used, architecture
    yield from _typed_node(architecture, "ModelArchitecture", "Entity")
    yield architecture, RDF_TYPE, PROV.Collection
    yield architecture, CNN.modelName, string(event.model_name)
    yield architecture, CNN.parameterCount, integer(event.parameter_count)
    yield architecture, CNN.layerCount, integer(len(event.layers))
    yield from layers


def _layers(layers: tuple[LayerInfo, ...], architecture: NamedNode) -> Iterator[Triple]:
    """The architecture's layers, for its own graph."""
    for layer in layers:
        node = layer_node(architecture, layer.index)
        yield architecture, CNN.hasLayer, node
        yield architecture, PROV.hadMember, node  # what PROV tools read a collection by (cnn:hasLayer ⊑ it)
        yield from _typed_node(node, "Layer", "Entity")
        yield node, CNN.layerIndex, integer(layer.index)
        yield node, CNN.layerName, string(layer.name)
        yield node, CNN.layerKind, string(layer.kind)
        yield node, CNN.parameterCount, integer(layer.parameter_count)
        yield from _optional(
            node,
            {
                CNN.filters: _maybe(integer, layer.filters),
                CNN.kernelSize: _shape(layer.kernel_size),
                CNN.strides: _shape(layer.strides),
                CNN.units: _maybe(integer, layer.units),
                CNN.activation: _maybe(string, layer.activation),
                CNN.dropoutRate: _maybe(double, layer.dropout_rate),
            },
        )


@_triples.register
def _(event: ScheduleRecorded, iris: RunIris) -> Iterator[Statement]:
    schedule = iris.node("schedule")
    yield iris.run, PROV.used, schedule
    yield from _typed_node(schedule, "LearningRateSchedule", "Entity")
    yield schedule, CNN.scheduleKind, string(event.kind)
    yield from _optional(
        schedule,
        {
            CNN.initialLearningRate: _maybe(double, event.initial_rate),
            CNN.decayFactor: _maybe(double, event.factor),
            CNN.decayEvery: _maybe(integer, event.every),
        },
    )


@_triples.register
def _(event: EpochEnded, iris: RunIris) -> Iterator[Statement]:
    result = iris.node("epoch", event.epoch)
    yield from _typed_node(result, "EpochResult", "Entity")
    yield result, PROV.wasGeneratedBy, iris.run
    yield result, CNN.epoch, integer(event.epoch)
    yield result, PROV.generatedAtTime, date_time(event.ended_at)
    yield result, CNN.elapsedSeconds, double(event.elapsed_seconds)
    yield from _optional(result, {CNN.learningRate: _maybe(double, event.learning_rate)})
    yield from _metrics(result, event.metrics, iris, all_as_nodes=False)


@_triples.register
def _(event: BatchEnded, iris: RunIris) -> Iterator[Statement]:
    """A batch result: the standard metrics only (`cnn:hasMetric` nodes are for epoch and test results)."""
    result = iris.node("epoch", event.epoch, "batch", event.batch)
    yield from _typed_node(result, "BatchResult", "Entity")
    yield result, PROV.wasGeneratedBy, iris.run
    yield result, CNN.epoch, integer(event.epoch)
    yield result, CNN.batch, integer(event.batch)
    yield result, PROV.generatedAtTime, date_time(event.ended_at)
    standard = {name: value for name, value in event.metrics.items() if name in STANDARD_METRICS}
    yield from _metrics(result, standard, iris, all_as_nodes=False)


@_triples.register
def _(event: LearningRateChanged, iris: RunIris) -> Iterator[Statement]:
    adaptation, setting = iris.node("adaptation", event.number), iris.node("learning-rate", event.number)
    yield from _typed_node(adaptation, "Adaptation", "Activity")
    adaptation_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{event.run_id}/adaptation/{event.number}")
    yield adaptation, CNN.adaptationId, string(str(adaptation_id))
    yield adaptation, CNN.epoch, integer(event.after_epoch)
    yield adaptation, CNN.oldLearningRate, double(event.old_rate)
    yield adaptation, CNN.newLearningRate, double(event.new_rate)
    yield adaptation, PROV.startedAtTime, date_time(event.at)
    yield adaptation, PROV.endedAtTime, date_time(event.at)
    yield adaptation, PROV.wasInformedBy, iris.run
    yield adaptation, PROV.used, iris.node("epoch", event.after_epoch)
    if event.schedule_known:
        yield adaptation, PROV.used, iris.node("schedule")
    yield from _typed_node(setting, "LearningRateSetting", "Entity")
    yield setting, CNN.learningRate, double(event.new_rate)
    yield setting, CNN.epoch, integer(event.after_epoch + 1)
    yield setting, PROV.wasGeneratedBy, adaptation
    yield setting, PROV.generatedAtTime, date_time(event.at)
    if event.number > 1:
        yield setting, PROV.wasDerivedFrom, iris.node("learning-rate", event.number - 1)


@_triples.register
def _(event: TestingDone, iris: RunIris) -> Iterator[Statement]:
    testing, result = iris.node("testing", event.number), iris.node("test-result", event.number)
    yield from _typed_node(testing, "Testing", "Activity")
    yield testing, PROV.startedAtTime, date_time(event.started_at)
    yield testing, PROV.endedAtTime, date_time(event.ended_at)
    yield testing, PROV.wasInformedBy, iris.run
    yield testing, PROV.used, iris.node("model")
    yield from _model(iris)
    if event.used_split:
        yield testing, PROV.used, iris.node("split")
    yield from _typed_node(result, "TestResult", "Entity")
    yield result, PROV.wasGeneratedBy, testing
    yield result, PROV.generatedAtTime, date_time(event.ended_at)
    yield from _optional(result, {CNN.testExamples: _maybe(integer, event.test_examples)})
    yield from _metrics(result, event.metrics, iris, all_as_nodes=True)


@_triples.register
def _(event: ModelFileSaved, iris: RunIris) -> Iterator[Statement]:
    file = iris.model_file(event.path, event.sha256)
    yield from _typed_node(file, "ModelFile", "Entity")
    yield file, PROV.wasGeneratedBy, iris.run
    yield file, PROV.generatedAtTime, date_time(event.saved_at)
    yield file, CNN.filePath, string(event.path)
    yield file, CNN.byteSize, integer(event.byte_size)
    yield file, CNN.sha256, string(event.sha256)
    yield from _optional(file, {CNN.epoch: _maybe(integer, event.epoch)})


@_triples.register
def _(event: RunFailed, iris: RunIris) -> Iterator[Statement]:
    error = iris.node("error")
    yield from _typed_node(error, "TrainingError", "Entity")
    yield error, PROV.wasGeneratedBy, iris.run
    yield error, PROV.generatedAtTime, date_time(event.at)
    yield error, CNN.errorType, string(event.error_type)
    yield error, CNN.errorMessage, string(event.message)


@_triples.register
def _(event: RunEnded, iris: RunIris) -> Iterator[Statement]:
    run, summary = iris.run, event.summary
    yield run, PROV.endedAtTime, date_time(event.ended_at)
    yield run, CNN.status, string(event.status)
    yield run, CNN.epochsCompleted, integer(summary.epochs_completed)
    yield run, CNN.totalTrainingSeconds, double(summary.total_training_seconds)
    for name, value in summary_properties(summary.final_metrics, summary.best_metrics):
        yield run, CNN.term(name), double(value)
    if event.status == "finished":
        yield from _model(iris)
        yield iris.node("model"), PROV.generatedAtTime, date_time(event.ended_at)


@_triples.register(TrialStarted)
@_triples.register(TrialEnded)
def _(event: TrialStarted | TrialEnded, iris: RunIris) -> Iterator[Statement]:
    return trial_statements(event, iris)
