"""cnnprov-rdf: CNN training provenance as a W3C PROV-O knowledge graph in an Oxigraph store.

The pipeline, one module each: `events` (what happened) → `mapping` (pure: events to quads) →
`writer` (asynchronous, batched) → `store` (on-disk Oxigraph) → `queries` (canned SPARQL) → `export`.
Capture with `tracker.Tracker` / `tracker.Run`, or `keras.ProvenanceCallback` (imported on demand,
so that querying needs no TensorFlow).
"""

from .capture.run import Run
from .capture.schedules import StepDecay
from .capture.tracker import Tracker
from .interop.export import export
from .query.library import QueryResult, run_query
from .storage.store import open_for_reading, open_for_writing

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
