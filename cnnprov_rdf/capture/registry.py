"""The process-wide state of capture: which tracker writes to which destination (`TRACKERS`).

An embedded store admits one writer per process, so every `ProvenanceCallback` of a script (a grid search,
threads) that writes to the same store, with the same IRI base, shares one `Tracker`. The registry counts
its users and closes it when the last one releases it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..graph.vocabulary import DEFAULT_BASE
from ..storage.destination import Destination
from .tracker import Tracker, destination_key


@dataclass
class TrackerEntry:
    """A shared tracker and how many users hold it."""

    tracker: Tracker
    users: int = 0


class TrackerRegistry:
    """The shared trackers of this process, one per (destination, IRI base), reference-counted. Thread-safe."""

    def __init__(self, name: str = "trackers") -> None:
        self.name = name
        self._entries: dict[tuple[str, str], TrackerEntry] = {}
        self._lock = threading.Lock()

    def acquire(self, destination: Destination, base: str = DEFAULT_BASE) -> Tracker:
        """The open tracker for `destination` and `base` (opened now, or again if it was closed); one more user."""
        key = (destination_key(destination), base)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.tracker.closed:
                entry = self._entries[key] = TrackerEntry(Tracker(destination, base=base))
            entry.users += 1
            return entry.tracker

    def release(self, tracker: Tracker, *, wait: bool = True) -> None:
        """One user less: flush, or close the tracker when it was the last one (or not registered here);
        `wait=False` does either in the background (`Tracker.close`)."""
        with self._lock:
            key = (destination_key(tracker.destination), tracker.base)
            entry = self._entries.get(key)
            if entry is not None and entry.tracker is tracker and entry.users > 1:
                entry.users -= 1
                last = False
            else:
                if entry is not None and entry.tracker is tracker:
                    del self._entries[key]
                last = True
        if last:
            tracker.close(wait=wait)
        else:
            tracker.flush(wait=wait)

    def find(self, destination: Destination, base: str = DEFAULT_BASE) -> Tracker | None:
        """The registered tracker for `destination` and `base`, if any (without taking it)."""
        with self._lock:
            entry = self._entries.get((destination_key(destination), base))
            return entry.tracker if entry is not None else None

    def users(self, tracker: Tracker) -> int:
        """How many users hold `tracker` (0 when it is not registered)."""
        with self._lock:
            entry = self._entries.get((destination_key(tracker.destination), tracker.base))
            return entry.users if entry is not None and entry.tracker is tracker else 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __repr__(self) -> str:
        return f"<TrackerRegistry {self.name!r}: {len(self)} trackers>"


#: The trackers shared by this process (`Tracker.shared`, `ProvenanceCallback(store)`).
TRACKERS = TrackerRegistry("cnnprov_rdf.capture.registry.TRACKERS")
