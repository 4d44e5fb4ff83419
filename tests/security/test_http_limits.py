"""Limits of a real server process: live streams per session and per address, request heads that
never finish, oversized heads, and the connection cap."""

from __future__ import annotations

import socket
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from shopfloor.auth import users
from shopfloor.runtime import open_store
from tests.security.auth_client import CSRF, PASSWORD
from tests.support import running_server, unique_settings

PARTIAL_HEAD = b"GET /api/work-orders HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def _signed_in(stack: ExitStack, base: str) -> httpx.Client:
    client = stack.enter_context(httpx.Client(base_url=base, timeout=10))
    form = client.get("/login")
    token = CSRF.search(form.text)
    assert token
    done = client.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": token.group(1)})
    assert done.status_code == 303
    return client


def _open_stream(stack: ExitStack, client: httpx.Client) -> httpx.Response:
    return stack.enter_context(client.stream("GET", "/sse/work-orders"))


def _reopen_within(stack: ExitStack, client: httpx.Client, seconds: float) -> int:
    """A closed socket reaches the server a moment after the client lets go, so a freed slot is
    retried until `seconds` pass; the status of the last try (anything but 200 or 429 at once)."""
    give_up = time.monotonic() + seconds
    while True:
        stream = stack.enter_context(client.stream("GET", "/sse/work-orders"))
        if stream.status_code != 429 or time.monotonic() > give_up:
            return stream.status_code
        stream.read()
        time.sleep(0.05)


def _closed_by_server(sock: socket.socket, dribble: bool) -> bool:
    """True once the server closes the connection; False if it is still open after 30 s."""
    sock.settimeout(0.25)
    give_up = time.monotonic() + 30
    while time.monotonic() < give_up:
        try:
            if dribble:
                sock.sendall(b"x")
            if sock.recv(1024) == b"":
                return True
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def test_streams_heads_and_connections_are_bounded(tmp_path: Path) -> None:
    settings = unique_settings(
        None,
        f"sqlite:///{tmp_path / 'store.db'}",
        streams_per_session=3,
        streams_per_client=5,
        http_header_timeout_seconds=3,
        http_max_connections=40,
    )
    engine = open_store(settings)
    users.add(engine, "ada", "admin", PASSWORD)
    engine.dispose()
    with running_server(settings, command="web", auth=True) as base:
        host, port = base.removeprefix("http://").split(":")
        with ExitStack() as clients, ExitStack() as streams:
            first, second = _signed_in(clients, base), _signed_in(clients, base)
            assert [_open_stream(streams, first).status_code for _ in range(3)] == [200, 200, 200]
            with first.stream("GET", "/sse/work-orders") as refused:
                refused.read()
                assert refused.status_code == 429
                assert "this session (limit 3)" in refused.json()["error"]
            # Another session of the same address gets the rest of the address's five.
            assert [_open_stream(streams, second).status_code for _ in range(2)] == [200, 200]
            with second.stream("GET", "/sse/equipment-trend?machine=M1") as refused:
                refused.read()
                assert refused.status_code == 429 and "this address (limit 5)" in refused.json()["error"]
            streams.close()  # closed pages free every stream they held
            assert [_reopen_within(streams, second, seconds=5) for _ in range(3)] == [200, 200, 200]
            assert [_reopen_within(streams, first, seconds=5) for _ in range(2)] == [200, 200]

        # A page on another name (DNS rebinding to this address) is refused; probes by IP still answer.
        rebound = httpx.get(f"{base}/api/work-orders", headers={"host": f"evil.example:{port}"}, timeout=10)
        assert rebound.status_code == 400 and "SHOPFLOOR_ALLOWED_HOSTS" in rebound.text
        assert httpx.get(f"{base}/healthz", headers={"host": "evil.example"}, timeout=10).status_code == 200

        # A request head that never finishes, whether silent or dribbled byte by byte, is dropped.
        silent = socket.create_connection((host, int(port)))
        silent.sendall(PARTIAL_HEAD)
        assert _closed_by_server(silent, dribble=False)
        dribbler = socket.create_connection((host, int(port)))
        dribbler.sendall(PARTIAL_HEAD)
        assert _closed_by_server(dribbler, dribble=True)

        # An oversized head is refused outright.
        with socket.create_connection((host, int(port))) as huge:
            huge.sendall(PARTIAL_HEAD + b"a" * 100_000 + b"\r\n\r\n")
            huge.settimeout(10)
            assert huge.recv(64).startswith(b"HTTP/1.1 400")

        # At the connection cap new requests get 503 at once; the idle holders are dropped by the
        # head deadline, after which the server answers again.
        holders = [socket.create_connection((host, int(port))) for _ in range(40)]
        try:
            assert httpx.get(f"{base}/api/work-orders", timeout=10).status_code == 503
            assert all(_closed_by_server(s, dribble=False) for s in holders)
        finally:
            for s in holders:
                s.close()
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
