"""A store capture opened stays open between the runs of a process (`storage.kept`): the next run's writer takes
it instead of opening it again; any other writable open here closes it first; another process can write it
after the quiet (or once this process exits), and reads it all along."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pyoxigraph import NamedNode

from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.graph.vocabulary import CNN_NS, RDF_NS
from cnnprov_rdf.storage import kept
from cnnprov_rdf.storage.store import open_for_reading, open_for_writing

RDF_TYPE, EPOCH_RESULT = NamedNode(RDF_NS + "type"), NamedNode(CNN_NS + "EpochResult")
ROOT = Path(__file__).resolve().parents[1]

# A second process that opens the store for writing: prints "opened" or the error's class.
OPEN_ELSEWHERE = textwrap.dedent("""
    import sys
    from cnnprov_rdf.storage.store import open_for_writing
    try:
        open_for_writing(sys.argv[1])
    except Exception as error:
        print(type(error).__name__)
    else:
        print("opened")
""")


def one_run(path: Path, run_id: str, epochs: int = 2) -> Tracker:
    tracker = Tracker(path, linger=0.0)
    with tracker.start_run(run_id=run_id, planned_epochs=epochs) as run:
        for n in range(1, epochs + 1):
            run.log_epoch(n, {"loss": 1.0 / n}, elapsed_seconds=0.5)
    tracker.close()
    return tracker


def epochs_of(path: Path) -> set[str]:
    store = open_for_reading(path)
    return {q.subject.value for q in store.quads_for_pattern(None, RDF_TYPE, EPOCH_RESULT)}


def open_elsewhere(path: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", OPEN_ELSEWHERE, str(path)], capture_output=True, text=True,
                          timeout=120, env=env, check=True)
    return done.stdout.strip()


@pytest.fixture
def keep_for(monkeypatch):  # type: ignore[no-untyped-def]
    def set_seconds(seconds: float) -> None:
        monkeypatch.setenv(kept.KEEP_OPEN_ENV, str(seconds))

    yield set_seconds
    kept.release_all()


def test_the_next_run_of_the_process_takes_the_open_store_instead_of_opening_it(tmp_path, keep_for) -> None:
    keep_for(60)
    path = tmp_path / "store"
    first = one_run(path, "0b7c1f7e-0000-4000-8000-000000000001")
    assert str(path.absolute()) in kept.kept_paths()
    second = Tracker(path, linger=0.0)
    with second.start_run(run_id="0b7c1f7e-0000-4000-8000-000000000002") as run:
        run.log_epoch(1, {"loss": 0.5})
    second.flush()
    assert str(path.absolute()) not in kept.kept_paths()  # taken by the second writer
    assert second.writer._sink.reopened == 0  # type: ignore[attr-defined]
    # the second writer's thread opened nothing: its open took a small share of the first one's
    assert second.writer.stats.open_cpu_seconds < first.writer.stats.open_cpu_seconds
    second.close()
    assert str(path.absolute()) in kept.kept_paths()
    base = "https://w3id.org/cnnprov/id/run/"
    assert epochs_of(path) == {f"{base}0b7c1f7e-0000-4000-8000-000000000001/epoch/1",
                               f"{base}0b7c1f7e-0000-4000-8000-000000000001/epoch/2",
                               f"{base}0b7c1f7e-0000-4000-8000-000000000002/epoch/1"}


def test_another_writable_open_in_the_process_closes_the_kept_store_first(tmp_path, keep_for) -> None:
    keep_for(60)
    path = tmp_path / "store"
    one_run(path, "0b7c1f7e-0000-4000-8000-000000000003")
    assert str(path.absolute()) in kept.kept_paths()
    store = open_for_writing(path)  # as an import or a reindex does: no "already open in this process"
    assert str(path.absolute()) not in kept.kept_paths()
    assert len(list(store.quads_for_pattern(None, RDF_TYPE, EPOCH_RESULT))) == 2


def test_another_process_asks_for_the_kept_store_and_gets_it_at_once(tmp_path, keep_for) -> None:
    keep_for(600)
    path = tmp_path / "store"
    one_run(path, "0b7c1f7e-0000-4000-8000-000000000004")
    assert len(epochs_of(path)) == 2  # readable while kept
    started = time.monotonic()
    assert open_elsewhere(path) == "opened"  # it asked (a request file), this process closed the store
    assert time.monotonic() - started < 60
    assert str(path.absolute()) not in kept.kept_paths()
    assert not kept.release_request(path).exists()


def test_the_kept_store_is_closed_after_the_quiet(tmp_path, keep_for) -> None:
    keep_for(0.5)
    path = tmp_path / "store"
    one_run(path, "0b7c1f7e-0000-4000-8000-000000000007")
    assert str(path.absolute()) in kept.kept_paths()
    time.sleep(1.0)
    assert str(path.absolute()) not in kept.kept_paths()


def test_keeping_for_zero_seconds_closes_at_once(tmp_path, keep_for) -> None:
    keep_for(0)
    path = tmp_path / "store"
    one_run(path, "0b7c1f7e-0000-4000-8000-000000000005")
    assert str(path.absolute()) not in kept.kept_paths()
    assert open_elsewhere(path) == "opened"


def test_a_process_that_exits_closes_the_store_it_kept(tmp_path) -> None:
    path = tmp_path / "store"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_kept_open import one_run
        from cnnprov_rdf.storage import kept
        one_run(__import__("pathlib").Path(sys.argv[1]), "0b7c1f7e-0000-4000-8000-000000000006")
        assert kept.kept_paths() == [str(__import__("pathlib").Path(sys.argv[1]).absolute())], "not kept"
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), kept.KEEP_OPEN_ENV: "600"}
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=120, env=env)
    assert time.monotonic() - started < 60  # it did not wait out the 600 s
    assert open_elsewhere(path) == "opened"
    assert len(epochs_of(path)) == 2


def test_keep_open_seconds_reads_the_environment(monkeypatch) -> None:
    for value, seconds in (("12.5", 12.5), ("0", 0.0), ("-3", 0.0), ("soon", kept.DEFAULT_KEEP_OPEN)):
        monkeypatch.setenv(kept.KEEP_OPEN_ENV, value)
        assert kept.keep_open_seconds() == seconds
    monkeypatch.delenv(kept.KEEP_OPEN_ENV)
    assert kept.keep_open_seconds() == 30.0


def test_at_most_a_few_stores_are_kept_the_oldest_closed_first(tmp_path, keep_for) -> None:
    keep_for(60)
    kept.release_all()
    paths = [tmp_path / f"store-{i}" for i in range(kept.MAX_KEPT + 2)]
    for i, path in enumerate(paths):
        one_run(path, f"0b7c1f7e-0000-4000-8000-00000000010{i}")
    assert kept.kept_paths() == [str(p.absolute()) for p in paths[2:]]
    assert open_elsewhere(paths[0]) == "opened"
