"""Graph: the vocabulary, the IRI scheme, literal conversion, the metric table and the pure event → quad mapping."""
