"""cnnprov-rdf: CNN training provenance as a W3C PROV-O knowledge graph in an Oxigraph store.

The pipeline, one module each: `events` (what happened) → `mapping` (pure: events to quads) →
`writer` (asynchronous, batched) → `store` (on-disk Oxigraph) → `queries` (canned SPARQL) → `export`.
Capture with `tracker.Tracker` / `tracker.Run`, or `keras.ProvenanceCallback` (imported on demand,
so that querying needs no TensorFlow).
"""

from .export import export
from .queries import QueryResult, run_query
from .schedules import StepDecay
from .store import open_for_reading, open_for_writing
from .tracker import Run, Tracker

__all__ = [
    "QueryResult",
    "Run",
    "StepDecay",
    "Tracker",
    "export",
    "open_for_reading",
    "open_for_writing",
    "run_query",
]
