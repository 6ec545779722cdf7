"""`capture.registry.TRACKERS`: one tracker per destination per process; and a tracker's destination."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnprov_rdf.capture.registry import TRACKERS, TrackerRegistry
from cnnprov_rdf.capture.tracker import Tracker
from cnnprov_rdf.errors import ConfigurationError
from cnnprov_rdf.storage.destination import Endpoint, StoreLocation, parse_destination


def test_the_same_store_by_relative_or_absolute_path_gets_the_same_tracker(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    registry = TrackerRegistry("test")
    first = registry.acquire(StoreLocation(tmp_path / "store"))
    second = registry.acquire(StoreLocation(Path("store")))
    try:
        assert first is second
        assert registry.users(first) == 2 and len(registry) == 1
        assert registry.find(StoreLocation(tmp_path / "store")) is first
    finally:
        registry.release(first)
        registry.release(second)
    assert first.closed and len(registry) == 0


def test_release_flushes_until_the_last_user_then_closes_and_unlocks(tmp_path):
    registry = TrackerRegistry("test")
    path = StoreLocation(tmp_path / "store")
    tracker = registry.acquire(path)
    registry.acquire(path)
    registry.release(tracker)
    assert not tracker.closed and registry.users(tracker) == 1
    registry.release(tracker)
    assert tracker.closed and registry.users(tracker) == 0 and registry.find(path) is None
    with Tracker(path):  # the store's lock was given back
        pass


def test_a_closed_tracker_is_replaced_and_releasing_the_old_one_leaves_the_new_one(tmp_path):
    registry = TrackerRegistry("test")
    path = StoreLocation(tmp_path / "store")
    old = registry.acquire(path)
    old.close()
    new = registry.acquire(path)
    try:
        assert new is not old and not new.closed
        registry.release(old)
        assert registry.find(path) is new and registry.users(new) == 1
    finally:
        registry.release(new)
    assert new.closed


def test_different_bases_are_different_trackers_but_one_store_still_has_one_writer(tmp_path):
    registry = TrackerRegistry("test")
    path = StoreLocation(tmp_path / "store")
    tracker = registry.acquire(path, "https://example.org/a/")
    try:
        with pytest.raises(Exception, match="already open for writing"):
            registry.acquire(path, "https://example.org/b/")
    finally:
        registry.release(tracker)


def test_tracker_shared_and_release_use_the_process_registry(tmp_path):
    tracker = TRACKERS.acquire(parse_destination(tmp_path / "store"))
    try:
        assert TRACKERS.find(StoreLocation(tmp_path / "store")) is tracker
        assert TRACKERS.acquire(parse_destination(str(tmp_path / "store"))) is tracker
        TRACKERS.release(tracker)
        assert not tracker.closed
    finally:
        TRACKERS.release(tracker)
    assert tracker.closed and TRACKERS.find(StoreLocation(tmp_path / "store")) is None
    assert "TRACKERS" in repr(TRACKERS)


def test_an_http_url_is_an_endpoint_not_a_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPROV_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.chdir(tmp_path)
    with Tracker("http://127.0.0.1:9/") as tracker:
        assert tracker.destination == Endpoint("http://127.0.0.1:9/")
        assert tracker.endpoint == "http://127.0.0.1:9/update" and tracker.store_path is None
    with Tracker(endpoint="http://127.0.0.1:9/update") as tracker:
        assert tracker.endpoint == "http://127.0.0.1:9/update"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spool"]  # no "http:" directory


@pytest.mark.parametrize("arguments", [{"store": "ftp://host/x"}, {"store": "s", "endpoint": "http://h/"},
                                       {"endpoint": "a/path"}])
def test_a_bad_destination_is_a_configuration_error(tmp_path, arguments):
    with pytest.raises(ConfigurationError):
        Tracker(**arguments)


def test_a_path_store_is_written_there(tmp_path):
    with Tracker(tmp_path / "store") as tracker:
        assert tracker.store_path == tmp_path / "store" and tracker.endpoint is None
    assert (tmp_path / "store" / "CURRENT").exists()
