"""A real `cnnprov serve` is safe by default: no outbound requests from a served query (SERVICE, LOAD), queries
cancelled after a timeout, updates only with the token, as application/sparql-update, from no foreign origin;
and a read-only server started before a training shows its epochs within seconds."""

from __future__ import annotations

import select
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from _serve import serve
from pyoxigraph import Store

from cnnprov_rdf import Tracker
from cnnprov_rdf.interop.interchange import import_file
from cnnprov_rdf.storage.guard import outbound_keyword

TOKEN = "s3cret-token"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s <http://example.org/p> ?o }"




def request(url: str, path: str, body: str | None = None, headers: dict[str, str] | None = None,
            timeout: float = 20) -> tuple[int, str]:
    data = body.encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def ask(url: str, query: str) -> tuple[int, str]:
    return request(url, "/query", query, {"Content-Type": "application/sparql-query", "Accept": "text/csv"})


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path, seed = tmp_path / "store", tmp_path / "seed.nt"
    seed.write_text("".join(f"<http://example.org/s{i}> <http://example.org/p> \"{i}\" .\n" for i in range(300)))
    import_file(path, seed)
    return path


@pytest.fixture
def listener():
    """A local socket standing for an address the server must not reach."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock


def oxigraph_children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def connected(sock: socket.socket, wait: float = 1.0) -> bool:
    return bool(select.select([sock], [], [], wait)[0])


def test_the_guard_finds_outbound_keywords_but_not_in_strings_iris_comments_or_names():
    assert outbound_keyword("SELECT * { SERVICE <http://x/> { ?s ?p ?o } }") == "SERVICE"
    assert outbound_keyword("select * { service silent ?u { ?s ?p ?o } }") == "SERVICE"
    assert outbound_keyword("SELECT * { \\u0053ERVICE <http://x/> { ?s ?p ?o } }") == "SERVICE"
    assert outbound_keyword("LOAD <http://x/data.ttl>") == "LOAD"
    assert outbound_keyword('SELECT * { ?s ?p "#" } # "\nLOAD <http://x/>') == "LOAD"
    assert outbound_keyword('SELECT ?service { ?service ex:load "SERVICE LOAD" } # SERVICE') is None
    assert outbound_keyword("PREFIX service: <http://x/service/> SELECT * { ?s service:p <http://x/LOAD> }") is None


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { SERVICE <http://127.0.0.1:{port}/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { sErViCe SILENT <http://127.0.0.1:{port}/> { ?s ?p ?o } }",
    "SELECT * WHERE { \\u0053ERVICE <http://127.0.0.1:{port}/> { ?s ?p ?o } }",
])
def test_a_served_query_with_service_is_refused_and_sends_nothing(store, listener, query):
    port = listener.getsockname()[1]
    server = serve(store)
    try:
        status, text = ask(server.url, query.replace("{port}", str(port)))
        assert status == 403 and "SERVICE is refused" in text
        assert not connected(listener)
        status, text = ask(server.url, COUNT.replace("?o }", '?o FILTER(?o != "SERVICE") }'))
        assert status == 200 and text.splitlines()[1] == "300"
    finally:
        server.stop()


def test_a_long_query_is_cancelled_and_the_server_answers_on(store):
    server = serve(store, "--timeout", "1")
    try:
        started = time.monotonic()
        status, text = ask(server.url, "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }")
        assert status == 503 and "limit of 1 s" in text
        assert time.monotonic() - started < 15
        assert len(oxigraph_children(server.process.pid)) == 1  # the one that ran it was killed, a fresh one serves
        assert ask(server.url, COUNT)[1].splitlines()[1] == "300"
    finally:
        server.stop()


def test_cross_site_and_tokenless_updates_are_refused_and_change_nothing(store, listener):
    before = set(Store.read_only(str(store)))
    server = serve(store, "--read-write", "--token", TOKEN)
    form = urllib.parse.urlencode({"update": "DROP ALL"})
    evil = {"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"}
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    try:
        assert request(server.url, "/update", form, evil)[0] == 401  # a web page's form: no token
        assert request(server.url, "/update", "DROP ALL", {"Content-Type": "application/sparql-update"})[0] == 401
        assert request(server.url, "/update", "DROP ALL", {"Content-Type": "application/sparql-update",
                                                          "Authorization": "Bearer wrong"})[0] == 401
        assert request(server.url, "/update", form, {**evil, **bearer})[0] == 403  # foreign origin
        assert request(server.url, "/update", form, {"Content-Type": evil["Content-Type"], **bearer})[0] == 415
        load = f"LOAD <http://127.0.0.1:{listener.getsockname()[1]}/data.ttl>"
        assert request(server.url, "/update", load, {"Content-Type": "application/sparql-update", **bearer})[0] == 403
        assert not connected(listener)
        assert request(server.url, "/store?default", "")[0] in (404, 405)  # no graph store protocol
        assert request(server.url, "/query", None, {"Host": "evil.example"})[0] == 403  # DNS rebinding
        assert ask(server.url, COUNT)[1].splitlines()[1] == "300"
    finally:
        server.stop()
    assert set(Store.read_only(str(store))) == before


def test_an_update_with_the_token_is_applied(store):
    server = serve(store, "--read-write", "--token", TOKEN)
    try:
        insert = "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } }"
        headers = {"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}",
                   "Origin": server.url}
        assert request(server.url, "/update", insert, headers)[0] in (200, 204)
        status, text = ask(server.url, "SELECT ?o WHERE { GRAPH <urn:g> { <urn:a> <urn:b> ?o } }")
        assert (status, text.splitlines()[1:]) == (200, ["urn:c"])
    finally:
        server.stop()


def epochs_served(url: str) -> int:
    status, text = ask(url, "PREFIX cnn: <https://w3id.org/cnnprov/ontology#> "
                            "SELECT (COUNT(DISTINCT ?e) AS ?n) WHERE { ?e cnn:epoch ?k }")
    return int(text.splitlines()[1]) if status == 200 else -1


def test_a_server_started_before_a_training_shows_its_epochs_within_seconds(store):
    server = serve(store)
    try:
        assert epochs_served(server.url) == 0
        with Tracker(store) as tracker, tracker.start_run(name="live", planned_epochs=20) as run:
            for epoch in range(1, 21):
                run.log_epoch(epoch, {"loss": 1.0 / epoch}, elapsed_seconds=0.01)
            assert tracker.flush(10)
            written = time.monotonic()
            while epochs_served(server.url) < 20 and time.monotonic() - written < 5:
                time.sleep(0.2)
            assert epochs_served(server.url) == 20
            assert time.monotonic() - written < 5
    finally:
        server.stop()
