"""Shop-floor dashboard: Kafka events folded into read models, pushed live to HTMX pages.

Layers, each importing only from itself and those before it: events ← projections ← store ← live ←
runtime ← auth ← web ← cli. Beside them: transport (the event-log seam) and metrics sit at the bottom,
config just above projections; consumers, rebuild and the simulator sit with live; `pages` (the Jinja
environment) sits below auth and web, so sign-in pages never import the web package; runtime assembles
one process (store, event log, projector, hub) that auth and web serve; web wires auth in, auth never
imports web; cli composes everything. `tests/unit/test_layers.py` holds the table and checks it.
"""
