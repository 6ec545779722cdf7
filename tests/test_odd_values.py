"""Odd values never raise into training: numbers of any number-like type are stored as numbers, lone
surrogates in names are escaped, a value that is no number is skipped (metrics) or stored as text
(hyperparameters) with one warning, and the rest of the event is kept, exactly."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pyoxigraph import Literal, NamedNode

from cnnprov_rdf import Tracker
from cnnprov_rdf.capture.values import clean_name, clean_text
from cnnprov_rdf.graph.literals import boolean, double, integer, python_value, string
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.storage.store import open_for_reading

PREFIXES = ("PREFIX cnn: <https://w3id.org/cnnprov/ontology#> PREFIX mls: <http://www.w3.org/ns/mls#> "
            "PREFIX prov: <http://www.w3.org/ns/prov#> ")

names = st.text(alphabet=st.one_of(st.characters(exclude_characters="\\"),
                                   st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF)),
                min_size=1, max_size=6).map(lambda text: "m" + text)
good_metrics = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-10**9, 10**9),
    st.floats(width=32, allow_nan=False, allow_infinity=False).map(np.float32),
    st.integers(-10**9, 10**9).map(np.int64),
    st.booleans().map(np.bool_),
)
odd_metrics = st.sampled_from([None, "n/a", {"a": 1}, b"\x00\xff", 1 + 2j, 10**400, [1.0], object()])
good_settings = st.one_of(
    st.integers(-10**500, 10**500), st.floats(allow_nan=False), st.booleans(), st.text(max_size=5),
    st.integers(-10**9, 10**9).map(np.int64), st.floats(width=32, allow_nan=False).map(np.float32),
    st.booleans().map(np.bool_), st.text(alphabet=st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF),
                                         min_size=1, max_size=3),
)
odd_settings = st.sampled_from([None, {"a": 1}, b"\x00\xff", 1 + 2j, (1, 2), object.__new__(type("Odd", (), {}))])


def expected_setting(value: object) -> Literal:
    if isinstance(value, bool | np.bool_):
        return boolean(bool(value))
    if isinstance(value, int | np.integer):
        return integer(int(value))
    if isinstance(value, float | np.floating):
        return double(float(value))
    if isinstance(value, str):
        return string(clean_name(value))
    return string(clean_text(value))


def exact(literal: Literal) -> tuple[str, object]:
    """A literal's datatype and value (the store writes numbers in canonical form: 0.0e0 comes back as 0)."""
    return literal.datatype.value, python_value(literal)


@pytest.fixture(scope="module")
def tracker(tmp_path_factory):
    with Tracker(tmp_path_factory.mktemp("odd") / "store") as tracker:
        yield tracker


def stored(tracker: Tracker, query: str) -> list:
    assert tracker.flush(30)
    return list(open_for_reading(tracker.store_path).query(PREFIXES + query, use_default_graph_as_union=True))


@settings(max_examples=40, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(good=st.dictionaries(names, good_metrics, max_size=4), odd=st.dictionaries(names, odd_metrics, max_size=3),
       settings_good=st.dictionaries(names, good_settings, max_size=4),
       settings_odd=st.dictionaries(names, odd_settings, max_size=3),
       epoch=st.sampled_from([1, np.int64(1), 1.0]))
def test_odd_values_never_raise_and_good_values_are_kept_exactly(tracker, good, odd, settings_good, settings_odd,
                                                                 epoch):
    odd = {name: value for name, value in odd.items() if name not in good}
    settings_odd = {name: value for name, value in settings_odd.items() if name not in settings_good}
    with tracker.start_run(name=clean_name("odd\udcff"), planned_epochs=1) as run:
        run.log_hyperparameters({**settings_good, **settings_odd})
        run.log_epoch(epoch, {**good, **odd, "loss": np.float32(0.25)}, elapsed_seconds=np.float64(0.5))
        run.log_batch(epoch, 1, {**odd, "loss": np.float32(0.5)})
        run.log_test({**good, **odd})
    iri, result = f"<{run.iri}>", f"<{run.iri}/epoch/1>"
    epoch_rows = stored(tracker, f"SELECT ?name ?value ?loss WHERE {{ {result} cnn:loss ?loss . OPTIONAL {{ "
                                 f"{result} cnn:hasMetric ?m . ?m cnn:metricName ?name ; mls:hasValue ?value }} }}")
    assert {exact(row["loss"]) for row in epoch_rows} == {exact(double(0.25))}
    metrics = {row["name"].value: exact(row["value"]) for row in epoch_rows if row["name"] is not None}
    assert metrics == {clean_name(name): exact(double(float(value))) for name, value in good.items()}
    setting_rows = stored(tracker, f"SELECT ?name ?value WHERE {{ {iri} prov:used ?s . "
                                   f"?s cnn:hyperparameterName ?name ; mls:hasValue ?value }}")
    assert {row["name"].value: exact(row["value"]) for row in setting_rows} == {
        clean_name(name): exact(expected_setting(value)) for name, value in {**settings_good, **settings_odd}.items()}
    batch = stored(tracker, f"SELECT ?loss WHERE {{ <{run.iri}/epoch/1/batch/1> cnn:loss ?loss }}")
    assert [exact(row["loss"]) for row in batch] == [exact(double(0.5))]


def test_the_summary_counts_what_was_stored_and_a_bad_name_warns_once(tracker, caplog):
    caplog.set_level(logging.WARNING, logger="cnnprov_rdf")
    with tracker.start_run(name="summary", planned_epochs=3) as run:
        for epoch in (1, 2, 3):
            run.log_epoch(np.int64(epoch), {"loss": np.float32(0.5) / epoch, "accuracy": "n/a"})
        run.log_epoch("three", {"loss": 0.1})  # no epoch number: the event cannot be stored, and is not counted
        run.log_batch(None, 1, {"loss": 0.1})  # type: ignore[arg-type]
        run.log_hyperparameters(None, **{"x\udcff": np.int64(3)})
    assert tracker.flush(30)
    rows = {row["name"]: row for row in run_query(tracker.store_path, "runs").rows}
    assert rows["summary"]["epochs"] == 3 and rows["summary"]["status"] == "finished"
    assert rows["summary"]["final_loss"] == float(np.float32(0.5) / 3) and rows["summary"]["final_accuracy"] is None
    skipped = [r for r in caplog.records if "'accuracy'" in r.getMessage()]
    assert len(skipped) == 1 and "not a number; skipped" in skipped[0].getMessage()
    settings = stored(tracker, f"SELECT ?name ?v WHERE {{ <{run.iri}> prov:used ?s . ?s cnn:hyperparameterName "
                               f"?name ; mls:hasValue ?v }}")
    assert [(row["name"].value, exact(row["v"])) for row in settings] == [("x\\udcff", exact(integer(3)))]
    types = stored(tracker, f"SELECT ?v WHERE {{ <{run.iri}/epoch/1> cnn:loss ?v }}")
    assert [row["v"].datatype for row in types] == [NamedNode("http://www.w3.org/2001/XMLSchema#double")]
