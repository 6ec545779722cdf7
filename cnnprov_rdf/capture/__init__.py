"""Capture: training → events. Knows no RDF.

`environment` (clock, agents, digests) · `run` (`Run`: one method per event) · `tracker` (`Tracker`: the writer
to a destination) · `registry` (`TRACKERS`: the trackers this process shares) · `keras` (`ProvenanceCallback`)
over `keras_patch` (`MODEL_PATCH`: the reversible patch of `keras.Model` that provides fit's arguments) and
`keras_model` (reading Keras objects) · `schedules` · `events`.
"""
