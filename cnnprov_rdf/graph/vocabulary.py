"""IRIs of the vocabularies the graph uses: PROV-O, ML Schema, XSD and our own `cnn:` ontology.

Every `cnn:` term used here is declared, labelled and aligned in `ontology/cnnprov.ttl`.
"""

from __future__ import annotations

from pyoxigraph import NamedNode

from .metrics import METRIC_PROPERTIES

PROV_NS = "http://www.w3.org/ns/prov#"
MLS_NS = "http://www.w3.org/ns/mls#"
XSD_NS = "http://www.w3.org/2001/XMLSchema#"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS_NS = "http://www.w3.org/2000/01/rdf-schema#"
OWL_NS = "http://www.w3.org/2002/07/owl#"
CNN_NS = "https://w3id.org/cnnprov/ontology#"
#: The run index's own terms (`graph.run_index`): a store-internal lookup table, not part of the ontology.
IDX_NS = "https://w3id.org/cnnprov/index#"

#: Named graph that holds the ontology inside a store.
ONTOLOGY_GRAPH = NamedNode("https://w3id.org/cnnprov/ontology")

#: Default base under which run-specific IRIs are minted (configurable per tracker).
DEFAULT_BASE = "https://w3id.org/cnnprov/id/"

PREFIXES: dict[str, str] = {
    "prov": PROV_NS,
    "mls": MLS_NS,
    "cnn": CNN_NS,
    "xsd": XSD_NS,
    "rdf": RDF_NS,
    "rdfs": RDFS_NS,
    "owl": OWL_NS,
}


class _Namespace:
    """Attribute access to the terms of one namespace: `PROV.Activity`."""

    def __init__(self, iri: str) -> None:
        self._iri = iri

    def __getattr__(self, name: str) -> NamedNode:
        """Called only on a term's first use: it is then kept as an attribute (the mapping is hot)."""
        if name.startswith("_"):
            raise AttributeError(name)
        node = NamedNode(self._iri + name)
        setattr(self, name, node)
        return node

    def term(self, name: str) -> NamedNode:
        return getattr(self, name)


PROV = _Namespace(PROV_NS)
MLS = _Namespace(MLS_NS)
XSD = _Namespace(XSD_NS)
RDFS = _Namespace(RDFS_NS)
CNN = _Namespace(CNN_NS)
IDX = _Namespace(IDX_NS)
RDF_TYPE = NamedNode(RDF_NS + "type")

#: The `cnn:` classes the mapping emits, with the PROV base type each one also carries explicitly.
CLASS_BASE_TYPES: dict[str, str] = {
    "Training": "Activity",
    "Adaptation": "Activity",
    "Testing": "Activity",
    "EpochResult": "Entity",
    "BatchResult": "Entity",
    "TestResult": "Entity",
    "MetricValue": "Entity",
    "Hyperparameter": "Entity",
    "HyperparameterSetting": "Entity",
    "EvaluationMeasure": "Entity",
    "LearningRateSetting": "Entity",
    "LearningRateSchedule": "Entity",
    "Dataset": "Entity",
    "DataSplit": "Entity",
    "ModelArchitecture": "Entity",
    "Layer": "Entity",
    "TrainedModel": "Entity",
    "ModelFile": "Entity",
    "TrainingError": "Entity",
    "HyperparameterSearch": "Activity",
    "SearchSpace": "Entity",
    "SearchDimension": "Entity",
    "SearchObjective": "Entity",
    "TrainingSoftware": "Agent",
    "ComputeDevice": "Agent",
    "User": "Agent",
}

#: `cnn:` datatype properties and the XSD datatype of their values (the metric table's are all doubles).
DATATYPE_PROPERTIES: dict[str, str] = {
    **dict.fromkeys(METRIC_PROPERTIES, "double"),
    "runId": "string",
    "runName": "string",
    "status": "string",
    "plannedEpochs": "integer",
    "epoch": "integer",
    "batch": "integer",
    "metricName": "string",
    "hyperparameterName": "string",
    "adaptationId": "string",
    "oldLearningRate": "double",
    "newLearningRate": "double",
    "scheduleKind": "string",
    "initialLearningRate": "double",
    "decayFactor": "double",
    "decayEvery": "integer",
    "datasetName": "string",
    "location": "string",
    "trainFraction": "double",
    "trainExamples": "integer",
    "testExamples": "integer",
    "validationFraction": "double",
    "modelName": "string",
    "parameterCount": "integer",
    "layerCount": "integer",
    "layerIndex": "integer",
    "layerName": "string",
    "layerKind": "string",
    "filters": "integer",
    "kernelSize": "string",
    "strides": "string",
    "units": "integer",
    "activation": "string",
    "dropoutRate": "double",
    "filePath": "string",
    "byteSize": "integer",
    "sha256": "string",
    "errorType": "string",
    "errorMessage": "string",
    "softwareName": "string",
    "softwareVersion": "string",
    "pythonVersion": "string",
    "frameworkName": "string",
    "frameworkVersion": "string",
    "kerasVersion": "string",
    "deviceKind": "string",
    "deviceName": "string",
    "hostName": "string",
    "userName": "string",
    "epochsCompleted": "integer",
    "totalTrainingSeconds": "double",
    "searchId": "string",
    "searchName": "string",
    "tunerName": "string",
    "dimensionName": "string",
    "dimensionSpec": "string",
    "objectiveName": "string",
    "objectiveDirection": "string",
    "trialId": "string",
    "trialStatus": "string",
    "objectiveValue": "double",
}

OBJECT_PROPERTIES: tuple[str, ...] = (
    "hasMetric", "hasLayer", "searchSpace", "searchObjective", "hasDimension", "sampledFrom",
)

#: `prov:Role` individuals used in qualified associations.
ROLES: tuple[str, ...] = ("TrainerRole", "ExecutorRole", "OperatorRole")
