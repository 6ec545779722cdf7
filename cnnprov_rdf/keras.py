"""`from cnnprov_rdf.keras import ProvenanceCallback`: the Keras callback (it lives in `capture.keras`)."""

from .capture.keras import ProvenanceCallback, describe_layers, keras_agents

__all__ = ["ProvenanceCallback", "describe_layers", "keras_agents"]
