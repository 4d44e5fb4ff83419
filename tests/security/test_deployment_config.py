"""compose.yaml and deploy/nginx.conf agree: ports, the upstream, the trusted proxy, forwarded headers."""

from __future__ import annotations

import ipaddress

import yaml

from shopfloor.config import Settings
from shopfloor.web.edge import TrustedProxies, allowed_hosts
from tests.security.nginx_conf import forwarding_problems, parse, proxied_locations
from tests.support import REPO

# The proxy block as shipped before the port and X-Forwarded-* were forwarded everywhere.
OLD_LOCATION = """
http { upstream u { server web:8000; }
  server { listen 8080;
    location / { proxy_pass http://u; proxy_set_header Host $host;
                 proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; }
    location /admin/rebuilds/stream { proxy_pass http://u; proxy_set_header Host $host; } } }
"""


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def _web_env(compose: dict) -> dict[str, str]:  # type: ignore[type-arg]
    web = compose["services"]["web"]
    env = {k: str(v) for k, v in web["environment"].items()}
    # ${VAR:-default} as compose resolves it when VAR is unset
    return {k: v.split(":-", 1)[1].rstrip("}") if v.startswith("${") else v for k, v in env.items()}


def test_the_checker_catches_the_old_proxy_block() -> None:
    problems = forwarding_problems(parse(OLD_LOCATION))
    assert any("drops the port" in p for p in problems)
    assert any("X-Forwarded-Proto" in p for p in problems)
    assert any("/admin/rebuilds/stream: X-Forwarded-For" in p for p in problems)


def test_nginx_forwards_port_and_client_details_on_every_location() -> None:
    root = parse((REPO / "deploy" / "nginx.conf").read_text())
    assert len(proxied_locations(root)) >= 3
    assert forwarding_problems(root) == []
    sse = next(d for d in proxied_locations(root) if d.args == ["/sse/"])
    assert sse.one("proxy_buffering").args == ["off"]
    server = next(d for d in root.walk() if d.name == "server" and d.block is not None)
    assert server.one("client_header_timeout").args, "half-sent request heads must time out at the proxy"


def test_compose_ports_upstream_and_trusted_proxy_agree() -> None:
    compose = _compose()
    root = parse((REPO / "deploy" / "nginx.conf").read_text())
    proxy = compose["services"]["proxy"]
    env = _web_env(compose)

    # The port compose publishes reaches the port nginx listens on.
    listen = next(d for d in root.walk() if d.name == "listen").args[0]
    published = [p.split(":") for p in proxy["ports"]]
    assert any(container == listen.rsplit(":", 1)[-1] for _, container in published), (published, listen)

    # nginx's upstream is the web service on the port the web replicas listen on.
    upstream = next(d for d in root.walk() if d.name == "upstream")
    host, port = upstream.one("server").args[0].rsplit(":", 1)
    assert host in compose["services"] and host == "web"
    assert port == env["SHOPFLOOR_PORT"] and env["SHOPFLOOR_HOST"] == "0.0.0.0"

    # The web replicas trust the proxy's fixed address, and only addresses inside the compose network.
    address = proxy["networks"]["default"]["ipv4_address"]
    subnet = ipaddress.ip_network(compose["networks"]["default"]["ipam"]["config"][0]["subnet"])
    assert ipaddress.ip_address(address) in subnet
    trusted = TrustedProxies(env["SHOPFLOOR_TRUSTED_PROXIES"])
    assert address in trusted and not trusted.everyone
    assert "203.0.113.9" not in trusted and "127.0.0.1" not in trusted

    # Settings accept what compose sets; the names a browser uses on the published port are allowed.
    settings = Settings(**{k.removeprefix("SHOPFLOOR_").lower(): v for k, v in env.items()})
    hosts = allowed_hosts(settings, auth=True)
    assert hosts is not None and "localhost" in hosts
    assert env.get("SHOPFLOOR_AUTH", "on") != "off"  # `web` signs in by default
