"""Remote capture into real Oxigraph servers: SPARQL Update, concurrent processes, outages, spool replay."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import keras
import pytest
from pyoxigraph import Store

from cnnprov_rdf.storage.endpoint import EndpointSink, default_spool_path, replay_spool, spool_status
from cnnprov_rdf.storage.server import free_port, start_server

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _remote_trainer import train_tiny_endpoint

TRAINER = Path(__file__).with_name("_remote_trainer.py")
CNN = "https://w3id.org/cnnprov/ontology#"
PROV = "http://www.w3.org/ns/prov#"


@pytest.fixture(autouse=True)
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "spool"
    monkeypatch.setenv("CNNPROV_SPOOL_DIR", str(directory))
    return directory


def select(url: str, query: str) -> list[dict[str, str]]:
    request = urllib.request.Request(
        url + "/query?" + urllib.parse.urlencode({"query": f"PREFIX cnn: <{CNN}>\nPREFIX prov: <{PROV}>\n{query}"}),
        headers={"Accept": "application/sparql-results+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        rows = json.load(response)["results"]["bindings"]
    return [{k: v["value"] for k, v in row.items()} for row in rows]


def epochs_of(url: str, run_id: str) -> dict[int, list[tuple[float, float]]]:
    """Epoch number -> every (loss, elapsedSeconds) pair recorded for it: one pair when nothing is duplicated."""
    rows = select(url, f"""
        SELECT ?epoch ?loss ?elapsed WHERE {{
            ?run cnn:runId "{run_id}" . ?result prov:wasGeneratedBy ?run ; cnn:epoch ?epoch ;
            cnn:loss ?loss ; cnn:elapsedSeconds ?elapsed .
        }}""")
    found: dict[int, list[tuple[float, float]]] = {}
    for row in rows:
        found.setdefault(int(row["epoch"]), []).append((float(row["loss"]), float(row["elapsed"])))
    return found


def run_end(url: str, run_id: str) -> list[tuple[str, str]]:
    rows = select(url, f"""SELECT ?status ?completed WHERE {{
        ?run cnn:runId "{run_id}" ; cnn:status ?status ; cnn:epochsCompleted ?completed }}""")
    return [(row["status"], row["completed"]) for row in rows]


def assert_captured_once(url: str, run_id: str, history: dict[str, list[float]]) -> None:
    epochs = epochs_of(url, run_id)
    assert sorted(epochs) == list(range(1, len(history["loss"]) + 1))
    for number, pairs in epochs.items():
        assert len(pairs) == 1, f"epoch {number} recorded {len(pairs)} times: {pairs}"
        assert pairs[0][0] == float(history["loss"][number - 1])
    assert run_end(url, run_id) == [("finished", str(len(history["loss"])))]


def test_training_captured_to_an_endpoint(tmp_path: Path) -> None:
    server = start_server(tmp_path / "srv", read_write=True)
    try:
        run_id, history = train_tiny_endpoint(server.url, epochs=3)
        assert_captured_once(server.url, run_id, history)
        assert select(server.url, f'SELECT ?t WHERE {{ ?t a cnn:TestResult ; prov:wasGeneratedBy ?x . '
                                   f'?x prov:wasInformedBy ?r . ?r cnn:runId "{run_id}" }}')
    finally:
        server.stop()
    assert not default_spool_path(server.url).exists()


def test_four_processes_capture_concurrently(tmp_path: Path) -> None:
    server = start_server(tmp_path / "srv", read_write=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    try:
        processes = [
            subprocess.Popen([sys.executable, str(TRAINER), server.url, "3", str(seed)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
            for seed in range(1, 5)
        ]
        results = []
        for process in processes:
            out, _ = process.communicate(timeout=300)
            assert process.returncode == 0
            results.append(json.loads(out.strip().splitlines()[-1]))
        assert len({result["run_id"] for result in results}) == 4
        for result in results:
            assert_captured_once(server.url, result["run_id"], result["history"])
        assert len(select(server.url, "SELECT ?e WHERE { ?e a cnn:EpochResult }")) == 12
    finally:
        server.stop()


class Outage(keras.callbacks.Callback):
    """Stops the server after epoch 1 and restarts it (same port, same store) after epoch 3."""

    def __init__(self, server, location: Path) -> None:
        super().__init__()
        self.server, self.location = server, location

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if epoch == 0:
            self.server.stop()
        elif epoch == 2:
            from cnnprov_rdf.capture.registry import TRACKERS
            from cnnprov_rdf.graph.vocabulary import DEFAULT_BASE
            from cnnprov_rdf.storage.destination import Endpoint

            tracker = TRACKERS.find(Endpoint(self.server.url), DEFAULT_BASE)
            assert tracker is not None
            writer = tracker.writer
            assert writer.flush(timeout=30)  # epochs 2 and 3 are tried now, not after the writer's linger
            self.sink = writer._sink
            self.spooled_during_outage = self.sink.spooled
            port = int(self.server.url.rsplit(":", 1)[1])
            self.server = start_server(self.location, read_write=True, port=port)


def test_outage_mid_training_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    server = start_server(tmp_path / "srv", read_write=True)
    outage = Outage(server, tmp_path / "srv")
    try:
        started = time.monotonic()
        run_id, history = train_tiny_endpoint(server.url, epochs=5, extra_callbacks=[outage])
        took = time.monotonic() - started
        assert_captured_once(outage.server.url, run_id, history)
        epochs = epochs_of(outage.server.url, run_id)
        assert max(pairs[0][1] for pairs in epochs.values()) < 5.0  # no epoch waited on the dead endpoint
        assert took < 120
        assert outage.spooled_during_outage > 0  # epochs 2 and 3 went to the spool ...
        assert outage.sink.stats.replayed_quads >= outage.spooled_during_outage  # ... and were replayed
        assert outage.sink.stats.max_write_seconds < 2.5  # no batch waited more than about one HTTP timeout
    finally:
        outage.server.stop()
    assert not default_spool_path(server.url).exists() or default_spool_path(server.url).stat().st_size == 0


def test_endpoint_down_for_the_whole_training_then_flushed(tmp_path: Path, spool_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    run_id, history = train_tiny_endpoint(url, epochs=2)
    status = spool_status()
    assert len(status) == 1
    spooled_url, spool, quads = status[0]
    assert spooled_url == url + "/update" and spool == default_spool_path(url) and quads > 50
    server = start_server(tmp_path / "srv", read_write=True, port=int(url.rsplit(":", 1)[1]))
    try:
        assert replay_spool(spool) == quads
        assert spool_status() == []
        assert replay_spool(url) == 0
        assert_captured_once(server.url, run_id, history)
    finally:
        server.stop()


def test_read_only_endpoint_is_reported_and_spooled(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    Store(str(tmp_path / "ro")).flush()
    server = start_server(tmp_path / "ro")
    try:
        with caplog.at_level(logging.WARNING, logger="cnnprov_rdf.storage.endpoint"):
            _, history = train_tiny_endpoint(server.url, epochs=2)
        assert len(history["loss"]) == 2
        assert any(server.update_endpoint in record.getMessage() and "refused" in record.getMessage()
                   for record in caplog.records)
        assert spool_status()[0][2] > 0
        assert select(server.url, "SELECT ?r WHERE { ?r cnn:runId ?id }") == []
    finally:
        server.stop()


def test_sink_backs_off_without_waiting(tmp_path: Path) -> None:
    from pyoxigraph import Literal, NamedNode, Quad

    quad = Quad(NamedNode("http://ex/s"), NamedNode("http://ex/p"), Literal('a "b"\n\\'), NamedNode("http://ex/g"))
    url = f"http://127.0.0.1:{free_port()}"
    sink = EndpointSink(url, tmp_path / "s.nq", close_timeout=0.0)
    started = time.monotonic()
    for _ in range(20):
        sink.write([quad])
    assert time.monotonic() - started < 2.0
    assert sink.stats.failures == 1 and sink.spooled == 20
    sink.close()
    server = start_server(tmp_path / "srv", read_write=True, port=int(url.rsplit(":", 1)[1]))
    try:
        assert replay_spool(tmp_path / "s.nq") == 20
        rows = select(server.url, "SELECT ?o WHERE { GRAPH <http://ex/g> { ?s ?p ?o } }")
        assert [row["o"] for row in rows] == ['a "b"\n\\']
    finally:
        server.stop()
