"""Hostile and oversize imports end in a real `cnnprov import` process with exit 2, one line, within seconds and
under a memory cap, and leave the store's quads exactly as they were."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode, Quad, Store

from cnnprov_rdf.interop.interchange import import_file
from cnnprov_rdf.interop.limits import ImportLimits
from cnnprov_rdf.interop.streaming import CHUNK, remove_graph_in_chunks, write_new_graph
from cnnprov_rdf.storage.store import open_for_writing

REPO = Path(__file__).resolve().parents[1]
MEMORY_CAP = 3 << 30  # address space, not resident memory: pyoxigraph and RocksDB reserve some up front
TIME_CAP = 30.0

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">
  <rdf:Description rdf:about="http://example.org/a"><ex:p>&f;&f;&f;&f;&f;&f;&f;&f;</ex:p></rdf:Description>
</rdf:RDF>
"""


def nested_turtle(depth: int) -> bytes:
    return ("@prefix ex: <http://example.org/> .\nex:a ex:p " + "[ ex:p " * depth + "ex:b" + " ]" * depth
            + " .\n").encode()


def nested_prov_json(depth: int) -> bytes:
    value = '{"$": 1, "type": "xsd:int"}'
    return ('{"prefix": {"ex": "http://example.org/"}, "entity": {"ex:e": {"ex:attr": '
            + "[" * depth + value + "]" * depth + "}}}").encode()


def quads(store: Path) -> set:
    return set(Store.read_only(str(store)))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store holding one small imported document."""
    path, seed = tmp_path / "store", tmp_path / "seed.ttl"
    seed.write_text("@prefix ex: <http://example.org/> .\nex:a ex:p [ ex:q 1 ] ; ex:r \"two\" .\n")
    import_file(path, seed)
    return path


def cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def cnnprov_import(store: Path, file: Path, *flags: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "cnnprov_rdf.cli", "import", str(file), "--store", str(store),
                           *flags], capture_output=True, text=True, env=env, preexec_fn=cap_memory, timeout=TIME_CAP)
    return done, time.monotonic() - started


@pytest.mark.parametrize(("name", "content", "flags", "named_limit"), [
    ("laughs.rdf", BILLION_LAUGHS, (), "<!ENTITY"),
    ("deep2000.ttl", nested_turtle(2_000), (), "64 levels (raise it with --max-depth)"),
    ("deep100k.ttl", nested_turtle(100_000), (), "64 levels (raise it with --max-depth)"),
    ("deep.json", nested_prov_json(100_000), (), "64 levels (raise it with --max-depth)"),
    ("deep-past-python.json", nested_prov_json(100_000), ("--max-depth", "1000000"), "--max-depth"),
    ("big.nt", b"<http://example.org/a> <http://example.org/p> <http://example.org/b> .\n" * 40_000,
     ("--max-bytes", "1M"), "over the import limit of 1048576 bytes (raise it with --max-bytes)"),
], ids=["billion-laughs", "turtle-2000-deep", "turtle-100k-deep", "prov-json-deep", "prov-json-past-recursion",
        "oversize"])
def test_hostile_file_ends_with_exit_2_in_seconds_and_changes_nothing(store, tmp_path, name, content, flags,
                                                                       named_limit):
    file = tmp_path / name
    file.write_bytes(content)
    before = quads(store)
    done, seconds = cnnprov_import(store, file, *flags)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"cnnprov: error: {file}")
    assert named_limit in done.stderr and "Traceback" not in done.stderr
    assert seconds < 15
    assert quads(store) == before


def test_an_import_past_its_time_limit_ends_with_exit_2_and_changes_nothing(store, tmp_path):
    file = tmp_path / "slow.ttl"
    file.write_text("@prefix ex: <http://example.org/> .\n"
                    + "".join(f"ex:s{i} ex:p [ ex:q {i} ; ex:r \"v{i}\" ] .\n" for i in range(300_000)))
    before = quads(store)
    done, _ = cnnprov_import(store, file, "--timeout", "0.2")
    assert done.returncode == 2 and "longer than its limit of 0.2 s (raise it with --timeout)" in done.stderr
    assert quads(store) == before


def test_a_valid_streamed_import_keeps_blank_nodes_apart_and_is_idempotent(store, tmp_path):
    file = tmp_path / "many.ttl"
    file.write_text("@prefix ex: <http://example.org/> .\n"
                    + "".join(f"ex:s{i} ex:p [ ex:q {i} ] .\n" for i in range(120_000)))  # over two chunks
    first = import_file(store, file, limits=ImportLimits(max_depth=2))
    assert first.quads_added == 240_000 and not first.already_present
    again = import_file(store, file, graph=first.graph)
    assert again.quads_added == 0 and again.already_present
    found = Store.read_only(str(store)).query(
        f"SELECT (COUNT(DISTINCT ?b) AS ?n) WHERE {{ GRAPH <{first.graph}> {{ ?s <http://example.org/p> ?b }} }}")
    assert int(next(iter(found))[0].value) == 120_000


def test_an_import_failing_midway_removes_what_it_wrote_in_chunks(store, tmp_path):
    before = quads(store)
    graph = NamedNode("http://example.org/graph/partial")

    def failing():
        for i in range(CHUNK * 2 + 10):
            yield Quad(NamedNode(f"http://example.org/s{i}"), NamedNode("http://example.org/p"), Literal(i), graph)
        raise ValueError("the disk is full")

    writable = open_for_writing(store)
    with pytest.raises(ValueError, match="disk is full"):
        write_new_graph(writable, graph, failing())
    remove_graph_in_chunks(writable, graph, size=1000)  # again: a no-op on a graph already gone
    del writable
    assert quads(store) == before


def test_the_limits_come_from_the_flags(store, tmp_path):
    file = tmp_path / "deep3.ttl"
    file.write_bytes(nested_turtle(3))
    done, _ = cnnprov_import(store, file, "--max-depth", "2")
    assert done.returncode == 2 and "limit of 2 levels" in done.stderr
    done, _ = cnnprov_import(store, file, "--max-depth", "3")
    assert done.returncode == 0 and "4 quads added" in done.stdout, done.stderr
