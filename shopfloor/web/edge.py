"""The HTTP edge: forwarded headers from trusted proxies only, and a Host allow-list.

A proxy in front of the app knows the client's address, scheme and the Host it asked for; the app
believes `X-Forwarded-For`, `-Proto` and `-Host` only when the peer is one of SHOPFLOOR_TRUSTED_PROXIES,
so a client talking to the app directly cannot claim another address or HTTPS. The Host allow-list
(SHOPFLOOR_ALLOWED_HOSTS) refuses requests for names that are not ours: a DNS-rebinding page reaches
the app with its own name in Host and gets 400.
"""

from __future__ import annotations

import ipaddress
import json
import logging

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from shopfloor.config import LOOPBACK_HOSTS, Settings

log = logging.getLogger(__name__)
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
UNCHECKED_PATHS = frozenset({"/healthz", "/readyz"})  # probes address a replica by IP


def split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class TrustedProxies:
    """Addresses and networks (CIDR) allowed to speak for a client; `*` trusts every peer."""

    def __init__(self, spec: str) -> None:
        entries = split_list(spec)
        self.everyone = "*" in entries
        self.networks = [ipaddress.ip_network(e, strict=False) for e in entries if e != "*"]

    def __bool__(self) -> bool:
        return self.everyone or bool(self.networks)

    def __contains__(self, host: str | None) -> bool:
        if self.everyone:
            return True
        try:
            address = ipaddress.ip_address(host or "")
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def allowed_hosts(settings: Settings, auth: bool) -> frozenset[str] | None:
    """The Host names served (lower case, no port), or None for any.

    Unset, it is the loopback names plus the configured listen host. Only with sign-in on and a
    wildcard listen address is it left open (sign-in then guards the data), with a warning.
    """
    configured = [h.lower() for h in split_list(settings.allowed_hosts)]
    if "*" in configured:
        if not auth:
            raise ValueError("SHOPFLOOR_ALLOWED_HOSTS=* is refused with sign-in off (DNS rebinding)")
        return None
    if configured:
        return frozenset(configured)
    if settings.host in WILDCARD_HOSTS and auth:
        log.warning("SHOPFLOOR_ALLOWED_HOSTS is unset: any Host header is accepted; set the public names")
        return None
    return frozenset({*LOOPBACK_HOSTS, settings.host.lower()} - WILDCARD_HOSTS)


def host_name(host: str) -> str:
    """`Host` without its port, lower case; `[::1]:8000` -> `::1`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Edge:
    """Outermost ASGI layer: rewrite from trusted proxies, then check Host, then the app."""

    def __init__(self, app: ASGIApp, proxies: TrustedProxies, hosts: frozenset[str] | None) -> None:
        self.proxies = proxies
        self.hosts = hosts
        self.app: ASGIApp = (
            ProxyHeadersMiddleware(
                app, trusted_hosts="*" if proxies.everyone else [str(n) for n in proxies.networks]
            )  # type: ignore[arg-type]
            if proxies
            else app
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if self.proxies and client and client[0] in self.proxies:
            _take_forwarded_host(scope)
        if self.hosts is not None and scope["path"] not in UNCHECKED_PATHS:
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            if host_name(host) not in self.hosts:
                await _refuse(
                    send, f"unknown host {host[:100]!r}; the server's names are in SHOPFLOOR_ALLOWED_HOSTS"
                )
                return
        await self.app(scope, receive, send)


def _take_forwarded_host(scope: Scope) -> None:
    """The Host the client asked the proxy for (first of a chain) becomes the request's Host."""
    forwarded = next((v for k, v in scope["headers"] if k == b"x-forwarded-host"), None)
    if not forwarded:
        return
    original = forwarded.split(b",")[0].strip()
    if original:
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"] + [(b"host", original)]


async def _refuse(send: Send, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})
