"""CSRF: state-changing requests must come from our own pages and carry the session's token.

Two independent checks: the browser's Origin / Fetch-metadata headers must say same-origin, and a
synchronizer token (from the session) must come back in the `X-CSRF-Token` header (htmx sends it
from `hx-headers` on <body>) or in a `csrf_token` form field (plain forms).
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADER = "x-csrf-token"
FIELD = "csrf_token"
MAX_FORM_BYTES = 1024 * 1024


def cross_origin(headers: Headers) -> str | None:
    """Why a request looks cross-site, or None when it looks same-origin."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    origin = headers.get("origin")
    if origin is not None and (origin == "null" or urlsplit(origin).netloc != headers.get("host")):
        return "cross-origin request refused"
    return None


def form_token(body: bytes) -> str | None:
    try:
        values = parse_qs(body.decode("utf-8"), max_num_fields=1000)
    except (UnicodeDecodeError, ValueError):
        return None
    found = values.get(FIELD)
    return found[0] if found else None


def token_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected.encode(), given.encode())  # type: ignore[union-attr]
