"""The HTTP API fuzzed from its own OpenAPI description (schemathesis): nothing answers 5xx.

Runs against the in-process app over a real SQLite store holding some plant data.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from shopfloor.runtime import build
from shopfloor.web.app import create_app
from tests.support import unique_settings

_store = Path(tempfile.mkdtemp(prefix="shopfloor-fuzz-")) / "store.db"
_runtime = build(unique_settings(None, f"sqlite:///{_store}"), consume=False, serve_web=True)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_runtime))


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
