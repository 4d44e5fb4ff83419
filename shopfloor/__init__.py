"""Shop-floor dashboard: Kafka events folded into read models, pushed live to HTMX pages.

Layers, each importing only from itself and those before it: events ← projections ← store ← live ←
runtime ← auth ← web ← cli. Around that line: transport (the event-log seam) and metrics sit at the
bottom, config just above projections; consumers, the simulator and `pages` (the Jinja environment,
below auth and web so sign-in pages never import the web package) sit beside live, rebuild just above
them; runtime assembles one process (store, event log, projector, hub) that auth and web serve; web
wires auth in and auth never imports web; cli composes everything. `tests/unit/test_layers.py` holds
the table and checks it.
"""
