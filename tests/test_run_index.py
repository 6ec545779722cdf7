"""The run index stays right: after many runs, a failed run, a run SIGKILLed mid-training, an import, and on a
store written before the index existed, `latest`, `previous`, names, ids and prefixes name the same run as a
scan of every run; odd names are bound as literals. (Speed is measured in bench/queries.py, not here.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyoxigraph import Literal, NamedNode, Store

from cnnprov_rdf.capture.events import Agents, EpochEnded, RunEnded, RunStarted, RunSummary
from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.errors import QueryError, RunNotFoundError
from cnnprov_rdf.graph.iris import index_graph
from cnnprov_rdf.graph.mapping import to_quads
from cnnprov_rdf.graph.run_index import HYPERPARAMETER_KEY, TEST_METRIC_KEY, hyperparameter_key
from cnnprov_rdf.graph.vocabulary import IDX_NS
from cnnprov_rdf.interop.export import export
from cnnprov_rdf.interop.interchange import import_file
from cnnprov_rdf.query.execute import run_query
from cnnprov_rdf.query.runs import _find, find_run, list_runs
from cnnprov_rdf.storage.run_index import has_unindexed_runs, indexed_runs, reindex
from cnnprov_rdf.storage.store import open_for_reading, open_for_writing

ROOT = Path(__file__).resolve().parent.parent
AGENTS = Agents("0.1.0", "3.11")


def train(tracker: Tracker, name: str, epochs: int = 2, *, fail: bool = False) -> str:
    run = tracker.start_run(name=name, planned_epochs=epochs, agents=AGENTS)
    for epoch in range(1, epochs + 1):
        run.log_epoch(epoch, {"loss": 1.0 / epoch}, elapsed_seconds=0.5)
    if fail:
        run.fail(RuntimeError("boom"))
    run.end()
    time.sleep(0.002)  # distinct start times, as trainings one after another have
    return run.run_id


def scanned(store: Store, reference: str):  # type: ignore[no-untyped-def]
    """What the scan of every run (the resolution of a store without an index) says."""
    return _find(store, list_runs(store), reference)


def assert_resolves_like_a_scan(store: Store, references: list[str]) -> None:
    for reference in references:
        assert find_run(store, reference) == scanned(store, reference), reference


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("many") / "store"
    with Tracker(path) as tracker:
        ids = [train(tracker, f"run-{i}", fail=i == 17) for i in range(40)]
        tracker.flush()
    return path, ids


def test_latest_previous_ids_iris_and_prefixes_after_many_runs(many) -> None:
    path, ids = many
    store = open_for_reading(path)
    assert indexed_runs(store) == 40 and not has_unindexed_runs(store)
    assert find_run(store, "latest").id == ids[-1] and find_run(store, None).id == ids[-1]
    assert find_run(store, "previous").id == ids[-2]
    unique = [next(i[:n] for n in range(1, 37) if sum(o.startswith(i[:n]) for o in ids) == 1) for i in ids]
    iris = [find_run(store, i).iri.value for i in ids]
    assert_resolves_like_a_scan(store, ["latest", "previous", *ids, *unique, *iris])
    assert [find_run(store, p).id for p in unique] == ids


def test_names_resolve_to_their_run_and_a_shared_name_is_ambiguous(many, tmp_path) -> None:
    path, ids = many
    store = open_for_reading(path)
    assert [find_run(store, f"run-{i}").id for i in range(40)] == ids
    failed = run_query(store, "failed-runs").rows
    assert [(row["run_id"], row["name"], row["status"]) for row in failed] == [(ids[17], "run-17", "failed")]
    with pytest.raises(RunNotFoundError, match="no run 'run-40' in the store"):
        find_run(store, "run-40")
    with Tracker(tmp_path / "twice") as tracker:
        train(tracker, "same"), train(tracker, "same")
        tracker.flush()
    with pytest.raises(RunNotFoundError, match="'same' names 2 runs: "):  # the candidates listed (ids, starts)
        find_run(open_for_reading(tmp_path / "twice"), "same")


CHILD = textwrap.dedent("""
    import sys, time
    from cnnprov_rdf.capture.events import Agents
    from cnnprov_rdf.capture.tracker import Tracker
    tracker = Tracker(sys.argv[1])
    run = tracker.start_run(name="killed", planned_epochs=5, agents=Agents("0.1.0", "3.11"))
    run.log_epoch(1, {"loss": 0.9}, elapsed_seconds=0.5)
    run.log_epoch(2, {"loss": 0.8}, elapsed_seconds=0.5)
    tracker.flush()
    print(run.run_id, flush=True)
    time.sleep(3600)
""")


def test_a_run_sigkilled_mid_training_is_latest_then_previous(tmp_path) -> None:
    path = tmp_path / "store"
    with Tracker(path) as tracker:
        first = train(tracker, "before")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        killed = child.stdout.readline().strip()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL and killed
    store = open_for_reading(path)
    assert (find_run(store, "latest").id, find_run(store, "previous").id) == (killed, first)
    assert find_run(store, "killed").id == killed
    [row] = run_query(store, "running-now").rows
    assert (row["run_id"], row["latest_epoch"]) == (killed, 2)
    by_id = {row["run_id"]: row for row in run_query(store, "runs").rows}
    assert (by_id[killed]["status"], by_id[killed]["epochs"]) == ("unfinished", 2)
    with Tracker(path) as tracker:  # the store opens for writing again after the kill
        after = train(tracker, "after")
    store = open_for_reading(path)
    assert [find_run(store, r).id for r in ("latest", "previous", "killed")] == [after, killed, killed]
    assert_resolves_like_a_scan(store, ["latest", "previous", first, killed, after])


def test_imported_runs_join_the_index_and_a_foreign_document_changes_nothing(many, tmp_path) -> None:
    path, ids = many
    exported = tmp_path / "run.ttl"
    export(open_for_reading(path), "turtle", runs=[ids[3]], output=exported)
    target = tmp_path / "other"
    with Tracker(target) as tracker:
        own = train(tracker, "own")
    foreign = tmp_path / "foreign.ttl"
    foreign.write_text('@prefix prov: <http://www.w3.org/ns/prov#> .\n<urn:x:a> a prov:Activity ; '
                       'prov:used <urn:x:e> .\n<urn:x:e> a prov:Entity .\n')
    import_file(target, foreign)
    store = open_for_reading(target)
    assert (find_run(store, "latest").id, indexed_runs(store)) == (own, 1)
    del store
    import_file(target, exported)
    store = open_for_reading(target)
    assert indexed_runs(store) == 2 and not has_unindexed_runs(store)
    assert find_run(store, "run-3").id == ids[3] == find_run(store, ids[3][:8]).id
    assert find_run(store, "latest").id == own  # the imported run started earlier
    assert find_run(store, "previous").id == ids[3]
    assert_resolves_like_a_scan(store, ["latest", "previous", own, ids[3]])


def test_a_store_written_before_the_index_resolves_by_scan_and_is_indexed_by_a_writer(many, tmp_path) -> None:
    path, ids = many
    old = tmp_path / "old"
    store = open_for_writing(old)
    store.extend(q for q in open_for_reading(path) if q.graph_name != index_graph())  # the store less its index
    store.flush()
    del store
    store = open_for_reading(old)
    assert indexed_runs(store) == 0 and has_unindexed_runs(store)
    assert (find_run(store, "latest").id, find_run(store, "previous").id, find_run(store, ids[5][:6]).id) == (
        ids[-1], ids[-2], ids[5])
    with pytest.raises(QueryError, match="reads the run index, which this store predates"):
        run_query(store, "runs")
    assert len(run_query(store, "hyperparameters").rows) == 0  # single-run queries need no index
    del store
    expected = run_query(open_for_reading(path), "runs").rows
    writer = open_for_writing(old)  # a writer opening it builds the index
    del writer
    store = open_for_reading(old)
    assert indexed_runs(store) == 40 and run_query(store, "runs").rows == expected


BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(st.lists(names, min_size=1, max_size=6, unique=True))
def test_any_name_resolves_exactly_and_is_bound_as_a_literal(chosen: list[str]) -> None:
    store = Store()
    ids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(len(chosen))]
    for i, (run_id, name) in enumerate(zip(ids, chosen, strict=True)):
        started = BASE_TIME + timedelta(minutes=i)
        for event in (RunStarted(run_id, started, AGENTS, name, 1),
                      EpochEnded(run_id, 1, {"loss": 0.5}, 1.0, started),
                      RunEnded(run_id, started, "finished", RunSummary(1, 1.0))):
            store.extend(to_quads(event))
    for run_id, name in zip(ids, chosen, strict=True):
        if name in ("latest", "previous") or name in ids or any(i.startswith(name) for i in ids):
            continue  # those words and id prefixes come first
        assert find_run(store, name).id == run_id
    assert find_run(store, "latest").id == ids[-1]


def test_cli_reindexes_an_old_store_and_counts_streamed_rows(many, tmp_path) -> None:
    path, _ = many
    old = tmp_path / "old"
    store = open_for_writing(old)
    store.extend(q for q in open_for_reading(path) if q.graph_name != index_graph())
    del store
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "cnnprov_rdf.cli"]
    refused = subprocess.run([*cli, "query", "runs", "--store", str(old)], capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "cnnprov reindex" in refused.stderr
    done = subprocess.run([*cli, "reindex", "--store", str(old)], capture_output=True, text=True, env=env)
    assert (done.returncode, done.stdout) == (0, f"run index of {old}: 40 runs\n")
    streamed = subprocess.run([*cli, "query", "epoch-metrics", "--run", "all", "--format", "csv", "--store", str(old)],
                              capture_output=True, text=True, env=env)
    assert streamed.returncode == 0 and streamed.stderr == "80 rows\n"
    assert streamed.stdout.count("\n") == 81 and streamed.stdout.startswith("epoch,loss,")


ODD_NAMES = ["learning rate", "β₁ (adam)", "100%", "a#b/c?d", "x", "test-loss"]


def _rich_store(path: Path) -> None:
    """Runs with odd hyperparameter and test-metric names, two testings of one run, and a search's trials."""
    with Tracker(path) as tracker:
        with tracker.search("rich", space={"learning rate": [0.1, 0.2]}, objective="val_loss") as search:
            for trial, rate in enumerate((0.1, 0.2)):
                run = tracker.start_run(name=f"rich-{trial}", planned_epochs=1, agents=AGENTS)
                search.record_trial(run, trial, {"learning rate": rate})
                run.log_hyperparameters({name: f"v{i}" for i, name in enumerate(ODD_NAMES[1:])} | {"x": trial})
                for epoch in range(1, 13):  # 12 epochs: their IRIs' text order is not their numbers' order
                    run.log_epoch(epoch, {"loss": rate / epoch, "val_loss": 2 * rate}, elapsed_seconds=epoch / 9)
                run.end()
                run.log_test({"loss": rate, "accuracy": 1 - rate, "top 5 %": 0.5 + trial})
                time.sleep(0.002)
                run.log_test({"loss": rate / 2, "accuracy": 1 - rate / 2, "top 5 %": 0.75 + trial})
        tracker.flush()


def test_reindex_derives_exactly_the_facts_the_mapping_writes(tmp_path) -> None:
    path = tmp_path / "store"
    _rich_store(path)
    written = {q for q in open_for_reading(path) if q.graph_name == index_graph()}
    assert any(q.predicate.value == f"{IDX_NS}hp-learning%20rate" for q in written)
    bare = tmp_path / "bare"
    store = open_for_writing(bare)
    store.extend(q for q in open_for_reading(path) if q.graph_name != index_graph())
    store.flush()
    del store
    store = open_for_writing(bare)  # a writer opening a store without an (up-to-date) index rebuilds it
    rebuilt = {q for q in store if q.graph_name == index_graph()}
    assert rebuilt == written
    reindex(store)  # again, on a current index: nothing more (a total summed in another order is not added)
    assert {q for q in store if q.graph_name == index_graph()} == written
    del store
    board = run_query(str(bare), "leaderboard").rows
    assert {(row["name"], row["hp.learning rate"], row["hp.100%"], row["test_top 5 %"], row["test_loss"])
            for row in board} == {("rich-0", 0.1, "v1", 0.75, 0.05), ("rich-1", 0.2, "v1", 1.75, 0.1)}


def test_an_index_of_an_older_version_is_refused_by_cross_run_queries_and_rebuilt_by_a_writer(tmp_path) -> None:
    path = tmp_path / "store"
    _rich_store(path)
    old = tmp_path / "old"
    store = open_for_writing(old)
    version = NamedNode(f"{IDX_NS}version")
    store.extend(q for q in open_for_reading(path) if q.graph_name != index_graph() or not (
        q.predicate == version or q.predicate.value.startswith((HYPERPARAMETER_KEY, TEST_METRIC_KEY))))
    store.flush()
    del store
    with pytest.raises(QueryError, match="reads the run index, which this store predates"):
        run_query(str(old), "leaderboard")
    assert find_run(open_for_reading(old), "latest").id == find_run(open_for_reading(path), "latest").id
    writer = open_for_writing(old)  # brings the index up to date
    del writer
    assert run_query(str(old), "leaderboard").rows == run_query(str(path), "leaderboard").rows


@settings(max_examples=80, deadline=None)
@given(names)
def test_a_key_is_what_sparql_derives_from_the_name(name: str) -> None:
    derived = Store().query(f'SELECT (IRI(CONCAT("{HYPERPARAMETER_KEY}", ENCODE_FOR_URI(?n))) AS ?key) '
                            f'WHERE {{ VALUES ?n {{ {Literal(name)} }} }}')
    assert next(iter(derived))["key"] == hyperparameter_key(name)
