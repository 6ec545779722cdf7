"""Interop: RDF and PROV export/import, SHACL validation, OWL-RL reasoning, ontology docs."""
