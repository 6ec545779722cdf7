"""The hand-written OWL ontology `ontology/cnnprov.ttl`: declarations, alignments and OWL RL conformance.

The conformance tests merge it with the official PROV-O and ML Schema files from the shared reference folder
(skipped where that folder is absent) and run the owlrl OWL RL closure over the result.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import owlrl
import pytest
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS

from cnnprov_rdf.graph.vocabulary import (
    CLASS_BASE_TYPES,
    CNN_NS,
    DATATYPE_PROPERTIES,
    MLS_NS,
    OBJECT_PROPERTIES,
    PROV_NS,
    ROLES,
    XSD_NS,
)

ONTOLOGY_FILE = Path(__file__).resolve().parents[1] / "ontology" / "cnnprov.ttl"
ONTOLOGY_IRI = URIRef("https://w3id.org/cnnprov/ontology")
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ontologies"
PROV_O_FILE = REFERENCE_DIR / "prov-o.ttl"
MLS_FILE = REFERENCE_DIR / "mls.ttl"

CNN = Namespace(CNN_NS)
PROV = Namespace(PROV_NS)
MLS = Namespace(MLS_NS)
DCTERMS = Namespace("http://purl.org/dc/terms/")
#: A plain Namespace: rdflib's own XSD object warns when pytest inspects the module's globals.
XSD = Namespace(XSD_NS)
#: Where owlrl records the inconsistencies it finds.
OWLRL_ERRORS = Namespace("http://www.daml.org/2002/03/agents/agent-ont#")

#: The ML Schema class each `cnn:` class must be a direct subclass of.
MLS_ALIGNMENTS: dict[str, str] = {
    "Training": "Run",
    "Hyperparameter": "HyperParameter",
    "HyperparameterSetting": "HyperParameterSetting",
    "LearningRateSetting": "HyperParameterSetting",
    "TrainedModel": "Model",
    "MetricValue": "ModelEvaluation",
    "EvaluationMeasure": "EvaluationMeasure",
    "Dataset": "Dataset",
    "HyperparameterSearch": "Experiment",
}

#: Further PROV classes some `cnn:` classes refine, besides their base type.
PROV_ALIGNMENTS: dict[str, str] = {
    "TrainingSoftware": "SoftwareAgent",
    "User": "Person",
    "ModelArchitecture": "Collection",
}

#: The object properties the mapping emits, with the class(es) of their domain and their range.
EMITTED_OBJECT_PROPERTIES: dict[str, tuple[frozenset[str], str]] = {
    "hasMetric": (frozenset({"EpochResult", "TestResult"}), "MetricValue"),
    "hasLayer": (frozenset({"ModelArchitecture"}), "Layer"),
    "searchSpace": (frozenset({"HyperparameterSearch"}), "SearchSpace"),
    "searchObjective": (frozenset({"HyperparameterSearch"}), "SearchObjective"),
    "hasDimension": (frozenset({"SearchSpace"}), "SearchDimension"),
    "sampledFrom": (frozenset({"HyperparameterSetting"}), "SearchDimension"),
}

DECLARATION_TYPES = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.NamedIndividual)


# --- helpers ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return Graph().parse(ONTOLOGY_FILE, format="turtle")


def _reference_graph() -> Graph:
    """PROV-O and ML Schema, or a skip where the shared reference copies are not there."""
    for path in (PROV_O_FILE, MLS_FILE):
        if not path.is_file():
            pytest.skip(f"reference ontology {path} is absent (it is read from the shared reference folder)")
    graph = Graph()
    graph.parse(PROV_O_FILE, format="turtle")
    graph.parse(MLS_FILE, format="turtle")
    return graph


def _closure(*graphs: Graph) -> Graph:
    merged = Graph()
    for graph in graphs:
        for triple in graph:
            merged.add(triple)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(merged)
    return merged


def _cnn_terms(graph: Graph) -> set[URIRef]:
    return {term for triple in graph for term in triple if isinstance(term, URIRef) and str(term).startswith(CNN_NS)}


def _undeclared(ontology: Graph, graph: Graph) -> list[str]:
    """The `cnn:` terms used in `graph` that `ontology` does not declare."""
    return sorted(
        str(term)
        for term in _cnn_terms(graph)
        if not any((term, RDF.type, kind) in ontology for kind in DECLARATION_TYPES)
    )


def _declared(graph: Graph, kind: URIRef) -> set[str]:
    return {str(s)[len(CNN_NS) :] for s in graph.subjects(RDF.type, kind) if str(s).startswith(CNN_NS)}


def _english(graph: Graph, subject: URIRef, predicate: URIRef) -> list[Literal]:
    return [
        o for o in graph.objects(subject, predicate) if isinstance(o, Literal) and o.language == "en" and str(o).strip()
    ]


def _assert_documented(graph: Graph, subject: URIRef) -> None:
    assert len(_english(graph, subject, RDFS.label)) == 1, f"{subject} needs exactly one rdfs:label @en"
    assert len(_english(graph, subject, RDFS.comment)) == 1, f"{subject} needs exactly one rdfs:comment @en"


def _superclasses(graph: Graph, cls: URIRef) -> set[URIRef]:
    """rdfs:subClassOf*, as stated in `graph` (no reasoning)."""
    return set(graph.transitive_objects(cls, RDFS.subClassOf))


def _domain_classes(graph: Graph, prop: URIRef) -> set[str]:
    """The `cnn:` class names of a property's domain: one named class, or the members of an owl:unionOf."""
    names: set[str] = set()
    for domain in graph.objects(prop, RDFS.domain):
        members = list(Collection(graph, graph.value(domain, OWL.unionOf))) if isinstance(domain, BNode) else [domain]
        names.update(str(m)[len(CNN_NS) :] for m in members if str(m).startswith(CNN_NS))
    return names


# --- declarations -----------------------------------------------------------------------------------


def test_header(ontology: Graph) -> None:
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in ontology
    _assert_documented(ontology, ONTOLOGY_IRI)
    assert ontology.value(ONTOLOGY_IRI, OWL.versionInfo) == Literal("0.1.0")
    assert ontology.value(ONTOLOGY_IRI, DCTERMS.license) is not None
    assert not list(ontology.objects(None, OWL.imports)), "PROV-O is loaded separately; owl:imports is not used"


@pytest.mark.parametrize("name", sorted(CLASS_BASE_TYPES))
def test_class_declared_and_based_on_prov(ontology: Graph, name: str) -> None:
    cls = CNN[name]
    assert (cls, RDF.type, OWL.Class) in ontology
    _assert_documented(ontology, cls)
    assert (cls, RDFS.subClassOf, PROV[CLASS_BASE_TYPES[name]]) in ontology
    assert PROV[CLASS_BASE_TYPES[name]] in _superclasses(ontology, cls)
    prov_bases = {PROV.Activity, PROV.Entity, PROV.Agent} & _superclasses(ontology, cls)
    assert prov_bases == {PROV[CLASS_BASE_TYPES[name]]}, f"{name} is under more than one PROV base class"


@pytest.mark.parametrize(("name", "prov_class"), sorted(PROV_ALIGNMENTS.items()))
def test_prov_alignments(ontology: Graph, name: str, prov_class: str) -> None:
    assert (CNN[name], RDFS.subClassOf, PROV[prov_class]) in ontology


@pytest.mark.parametrize(("name", "mls_class"), sorted(MLS_ALIGNMENTS.items()))
def test_ml_schema_alignments(ontology: Graph, name: str, mls_class: str) -> None:
    assert (CNN[name], RDFS.subClassOf, MLS[mls_class]) in ontology


@pytest.mark.parametrize("name", sorted(DATATYPE_PROPERTIES))
def test_datatype_property(ontology: Graph, name: str) -> None:
    prop = CNN[name]
    assert (prop, RDF.type, OWL.DatatypeProperty) in ontology
    assert (prop, RDF.type, OWL.ObjectProperty) not in ontology
    _assert_documented(ontology, prop)
    assert list(ontology.objects(prop, RDFS.range)) == [XSD[DATATYPE_PROPERTIES[name]]]
    domains = _domain_classes(ontology, prop)
    assert domains, f"cnn:{name} has no rdfs:domain"
    assert domains <= set(CLASS_BASE_TYPES), f"cnn:{name} has a domain outside the cnn classes: {domains}"


@pytest.mark.parametrize("name", sorted(EMITTED_OBJECT_PROPERTIES))
def test_object_property(ontology: Graph, name: str) -> None:
    prop, (domain, range_) = CNN[name], EMITTED_OBJECT_PROPERTIES[name]
    assert name in OBJECT_PROPERTIES
    assert (prop, RDF.type, OWL.ObjectProperty) in ontology
    _assert_documented(ontology, prop)
    assert _domain_classes(ontology, prop) == domain
    assert list(ontology.objects(prop, RDFS.range)) == [CNN[range_]]


def test_has_layer_specialises_had_member(ontology: Graph) -> None:
    assert (CNN.hasLayer, RDFS.subPropertyOf, PROV.hadMember) in ontology


@pytest.mark.parametrize("name", ROLES)
def test_role_individual(ontology: Graph, name: str) -> None:
    role = CNN[name]
    assert (role, RDF.type, PROV.Role) in ontology
    assert (role, RDF.type, OWL.NamedIndividual) in ontology
    _assert_documented(ontology, role)


def test_every_cnn_term_is_declared(ontology: Graph) -> None:
    undeclared = _undeclared(ontology, ontology)
    assert not undeclared, f"used but not declared (typo?): {undeclared}"


def test_declarations_match_vocabulary(ontology: Graph) -> None:
    """The ontology declares exactly the vocabulary module's terms, so the two cannot drift apart."""
    assert _declared(ontology, OWL.Class) == set(CLASS_BASE_TYPES)
    assert _declared(ontology, OWL.DatatypeProperty) == set(DATATYPE_PROPERTIES)
    assert _declared(ontology, OWL.ObjectProperty) == set(EMITTED_OBJECT_PROPERTIES)
    assert _declared(ontology, OWL.NamedIndividual) == set(ROLES)


def test_functional_properties_are_datatype_properties(ontology: Graph) -> None:
    for prop in ontology.subjects(RDF.type, OWL.FunctionalProperty):
        assert (prop, RDF.type, OWL.DatatypeProperty) in ontology


# --- OWL RL conformance with PROV-O and ML Schema -------------------------------------------------------


def _assert_no_contradiction(closure: Graph) -> None:
    errors = [str(closure.value(m, OWLRL_ERRORS.error)) for m in closure.subjects(RDF.type, OWLRL_ERRORS.ErrorMessage)]
    assert not errors, f"owlrl reported inconsistencies: {errors}"
    assert not list(closure.subjects(RDF.type, OWL.Nothing)), "something is typed owl:Nothing"
    unsatisfiable = {
        s for p in (RDFS.subClassOf, OWL.equivalentClass) for s in closure.subjects(p, OWL.Nothing) if s != OWL.Nothing
    }
    assert not unsatisfiable, f"classes equivalent to owl:Nothing: {unsatisfiable}"


def test_owl_rl_closure_with_prov_o_and_ml_schema(ontology: Graph) -> None:
    closure = _closure(_reference_graph(), ontology)
    _assert_no_contradiction(closure)
    for name, base in CLASS_BASE_TYPES.items():
        supers = set(closure.objects(CNN[name], RDFS.subClassOf))
        assert PROV[base] in supers
        assert not {PROV.Activity, PROV.Entity} <= supers, f"cnn:{name} is inferred both prov:Activity and prov:Entity"
    for name, mls_class in MLS_ALIGNMENTS.items():
        assert MLS[mls_class] in set(closure.objects(CNN[name], RDFS.subClassOf))


# --- the mapping's output against the ontology --------------------------------------------------------


def _sample_run() -> Graph:
    """Every event of one run (with a learning-rate change, a test, a checkpoint and an error) as an rdflib graph."""
    from cnnprov_rdf.capture import events as ev
    from cnnprov_rdf.graph.mapping import to_quads

    run, t0 = "00000000-0000-4000-8000-000000000001", datetime(2024, 1, 1, 12, tzinfo=UTC)
    layers = (
        ev.LayerInfo(0, "conv1", "Conv2D", 896, filters=32, kernel_size=(3, 3), strides=(1, 1), activation="relu"),
        ev.LayerInfo(1, "dropout1", "Dropout", 0, dropout_rate=0.5),
        ev.LayerInfo(2, "fc8", "Dense", 330, units=10, activation="softmax"),
    )
    metrics = {"loss": 1.2, "accuracy": 0.6, "val_loss": 1.3, "val_accuracy": 0.55, "top_5": 0.9}
    agents = ev.Agents("0.1.0", "3.11", "tensorflow", "2.16", "3.3", "GPU", "H200", "host", "me")
    sample = [
        ev.RunStarted(run, t0, agents, "r", 2),
        ev.HyperparametersRecorded(run, {"batch_size": 32, "optimizer": "sgd", "momentum": 0.9, "nesterov": True}),
        ev.DatasetRecorded(run, "cifar10", "/data/cifar10", 0.8, 40000, 10000, 0.1),
        ev.ArchitectureRecorded(run, "alexnet", 1226, layers),
        ev.ScheduleRecorded(run, "step_decay", 0.01, 0.5, 1),
        ev.BatchEnded(run, 1, 1, metrics, t0 + timedelta(seconds=5)),
        ev.EpochEnded(run, 1, metrics, 10.0, t0 + timedelta(seconds=10), 0.01),
        ev.LearningRateChanged(run, 1, 1, 0.01, 0.005, t0 + timedelta(seconds=10), schedule_known=True),
        ev.EpochEnded(run, 2, metrics, 10.0, t0 + timedelta(seconds=20), 0.005),
        ev.LearningRateChanged(run, 2, 2, 0.005, 0.0025, t0 + timedelta(seconds=20), schedule_known=True),
        ev.ModelFileSaved(run, "/ckpt/model.keras", 1024, "ab" * 32, t0 + timedelta(seconds=21), 2),
        ev.TestingDone(run, 1, metrics, t0 + timedelta(seconds=22), t0 + timedelta(seconds=23), 10000, used_split=True),
        ev.RunFailed(run, "RuntimeError", "boom", t0 + timedelta(seconds=24)),
        ev.RunEnded(run, t0 + timedelta(seconds=24), "finished", ev.RunSummary(2, 20.0, metrics, metrics)),
        ev.SearchStarted("s", t0, "study", "optuna", "val_accuracy", "maximize", {"batch_size": '[16, 32]'}),
        ev.TrialStarted(run, "s", "0", {"batch_size": '[16, 32]'}),
        ev.TrialEnded(run, "s", "completed", 0.55),
        ev.SearchEnded("s", t0 + timedelta(seconds=30)),
    ]
    graph = Graph()
    for event in sample:
        for quad in to_quads(event):
            graph.add((_term(quad.subject), _term(quad.predicate), _term(quad.object)))
    return graph


def _term(term):  # type: ignore[no-untyped-def]
    """A pyoxigraph IRI or literal as rdflib's."""
    if not hasattr(term, "datatype"):
        return URIRef(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    return Literal(term.value, datatype=None if term.datatype.value == str(XSD.string) else URIRef(term.datatype.value))


@pytest.fixture(scope="module")
def sample_run() -> Graph:
    return _sample_run()


def test_mapping_uses_only_declared_terms(ontology: Graph, sample_run: Graph) -> None:
    undeclared = _undeclared(ontology, sample_run)
    assert not undeclared, f"the mapping emits undeclared cnn terms: {undeclared}"
    for s, p, o in sample_run:
        if str(p).startswith(CNN_NS):
            expected = ontology.value(p, RDFS.range)
            if (p, RDF.type, OWL.DatatypeProperty) in ontology:
                assert isinstance(o, Literal) and (o.datatype or XSD.string) == expected, f"{p} {o!r}"
                assert any((s, RDF.type, CNN[c]) in sample_run for c in _domain_classes(ontology, p)), f"{s} {p}"
            else:
                assert (o, RDF.type, expected) in sample_run, f"{p} points to {o}, not a {expected}"


def test_owl_rl_closure_of_a_mapped_run(ontology: Graph, sample_run: Graph) -> None:
    """No domain or range makes a mapped node both a prov:Activity and a prov:Entity, or anything inconsistent."""
    closure = _closure(_reference_graph(), ontology, sample_run)
    _assert_no_contradiction(closure)
    both = set(closure.subjects(RDF.type, PROV.Activity)) & set(closure.subjects(RDF.type, PROV.Entity))
    assert not both, f"inferred both prov:Activity and prov:Entity: {sorted(both)}"
    for node in set(sample_run.subjects(RDF.type, None)):
        if str(node).startswith(CNN_NS):
            continue
        assert {PROV.Activity, PROV.Entity, PROV.Agent, PROV.Association} & set(closure.objects(node, RDF.type))


def test_sample_run_exercises_every_property(sample_run: Graph) -> None:
    """Keeps the two mapped-run tests above meaningful: the sample uses every declared `cnn:` property."""
    used = {p for p in sample_run.predicates() if str(p).startswith(CNN_NS)}
    assert used == {CNN[name] for name in (*DATATYPE_PROPERTIES, *EMITTED_OBJECT_PROPERTIES)}
