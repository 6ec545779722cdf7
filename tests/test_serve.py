"""`cnnprov serve` runs the real Oxigraph server: read-only and loopback by default, query page at /."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.parse
import urllib.request

import pytest
from _serve import serve

COUNT_RUNS = "SELECT (COUNT(?r) AS ?n) WHERE { ?r a <https://w3id.org/cnnprov/ontology#Training> }"




def post_update(url: str, update: str) -> int:
    request = urllib.request.Request(url + "/update", data=urllib.parse.urlencode({"update": update}).encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def count_runs(url: str) -> int:
    query = urllib.parse.urlencode({"query": COUNT_RUNS})
    request = urllib.request.Request(f"{url}/query?{query}", headers={"Accept": "text/csv"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.read().decode().splitlines()[1])


@pytest.fixture
def store_copy(captured, tmp_path):
    copy = tmp_path / "store"
    shutil.copytree(captured.store, copy)
    return copy


def test_read_only_server_answers_queries_over_named_graphs_serves_its_page_and_rejects_updates(store_copy):
    server = serve(store_copy)
    try:
        assert count_runs(server.url) == 1  # runs live in named graphs: served as the union default graph
        with urllib.request.urlopen(server.url + "/", timeout=10) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
        assert post_update(server.url, "INSERT DATA { <urn:a> <urn:b> <urn:c> }") == 403
    finally:
        server.stop()
    assert server.process.returncode is not None


def test_read_write_server_accepts_updates_only_when_asked(store_copy):
    server = serve(store_copy, "--read-write", "--token", "t0ken")
    try:
        insert = "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } }"
        assert post_update(server.url, insert) == 401  # form-encoded, no token: what a cross-site form sends
        request = urllib.request.Request(server.url + "/update", data=insert.encode(), method="POST", headers={
            "Content-Type": "application/sparql-update", "Authorization": "Bearer t0ken"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status in (200, 204)
    finally:
        server.stop()
