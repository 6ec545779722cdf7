"""Query: the canned SPARQL library, parameter binding, run selection, sources and federation."""
