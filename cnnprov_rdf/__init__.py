"""cnnprov-rdf: CNN training provenance as a W3C PROV-O knowledge graph in an Oxigraph store.

The subpackages follow the pipeline (docs/architecture.md): `capture` (training → events) → `graph` (pure:
events → quads) → `storage` (asynchronous writer, on-disk store, endpoint sink, server) → `query` (canned
SPARQL) → `interop` (export, import, validation, reasoning) and `visual`. Capture with `Tracker` / `Run`, or
`cnnprov_rdf.keras.ProvenanceCallback` (imported on demand, so that querying needs no TensorFlow).
Every exception raised derives from `CnnprovError`.
"""

from .capture.run import Run
from .capture.schedules import StepDecay
from .capture.tracker import Tracker
from .errors import CnnprovError
from .interop.export import export
from .query.execute import QueryResult, run_query
from .storage.store import open_for_reading, open_for_writing

__all__ = [
    "CnnprovError",
    "QueryResult",
    "Run",
    "StepDecay",
    "Tracker",
    "export",
    "open_for_reading",
    "open_for_writing",
    "run_query",
]
