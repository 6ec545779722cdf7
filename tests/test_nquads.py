"""The writer's N-Quads fast path (`graph.nquads.Encoder`) gives exactly the quads of `to_quads`, for any event.

Epoch and batch results with standard metrics take the string templates; everything else the mapping. For
arbitrary events (odd floats: NaN, ±INF, -0.0, subnormals; naive, offset and far-off times; big and negative
epochs; custom metric names; other bases) the parsed text plus the returned quads equal `to_quads` exactly,
and a store loaded from the text holds the same quads as one extended with `to_quads`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyoxigraph import RdfFormat, Store, parse

from cnnprov_rdf.capture.events import BatchEnded, EpochEnded, HyperparametersRecorded
from cnnprov_rdf.graph.mapping import to_quads
from cnnprov_rdf.graph.metrics import STANDARD_METRICS
from cnnprov_rdf.graph.nquads import Encoder
from cnnprov_rdf.graph.vocabulary import DEFAULT_BASE

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

run_ids = st.uuids().map(str)
bases = st.sampled_from([DEFAULT_BASE, "http://lab.example/prov/", "urn:x-lab:"])
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 5e-324, 1e300, 0.1])
metric_names = st.sampled_from(sorted(STANDARD_METRICS)) | st.text(min_size=1, max_size=12)
metrics = st.dictionaries(metric_names, floats, max_size=6)
times = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9000, 1, 1)).flatmap(
    lambda t: st.sampled_from([t, t.replace(tzinfo=UTC), t.replace(tzinfo=timezone(timedelta(hours=-7)))]))
epochs = st.integers(min_value=-5, max_value=10**12)

epoch_events = st.builds(EpochEnded, run_ids, epochs, metrics, floats, times, st.none() | floats)
batch_events = st.builds(BatchEnded, run_ids, epochs, st.integers(min_value=0, max_value=10**6), metrics, times)
other_events = st.builds(HyperparametersRecorded, run_ids, st.dictionaries(st.text(min_size=1, max_size=8),
                                                                             st.integers() | floats, max_size=3))


@SETTINGS
@given(st.lists(epoch_events | batch_events | other_events, min_size=1, max_size=8), bases)
def test_the_fast_path_gives_the_mappings_quads(events, base) -> None:
    encoded = Encoder(base).encode(events)
    from_text = list(parse(encoded.data(), RdfFormat.N_QUADS))
    assert len(from_text) == encoded.text_quads
    expected = [quad for event in events for quad in to_quads(event, base)]
    assert sorted(map(str, from_text + encoded.quads)) == sorted(map(str, expected))
    loaded, extended = Store(), Store()
    loaded.load(encoded.data(), format=RdfFormat.N_QUADS)
    loaded.extend(encoded.quads)
    extended.extend(expected)
    assert set(loaded) == set(extended)


def test_standard_epochs_take_the_fast_path_and_custom_metrics_the_mapping() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    standard = EpochEnded("r", 1, {"loss": 0.5, "accuracy": 0.25}, 1.0, at, 0.01)
    custom = EpochEnded("r", 2, {"loss": 0.5, "top5": 0.75}, 1.0, at, None)
    encoded = Encoder().encode([standard, custom])
    assert encoded.text_quads == len(to_quads(standard)) == 9
    assert encoded.quads == to_quads(custom)
