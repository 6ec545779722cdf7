"""Capture: training → events. Knows no RDF."""
