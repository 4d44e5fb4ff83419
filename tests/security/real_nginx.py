"""Debian's nginx running the shipped deploy/nginx.conf, changed only in the upstream address and the
listen port, in front of a real shopfloor process."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import REPO

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def shipped_config(upstream: str, listen: str, tls: tuple[Path, Path] | None = None) -> str:
    """The shipped config with the upstream and listen address replaced; with `tls` (certificate,
    key) the listener terminates TLS, as the config's comment says to do in production."""
    text = (REPO / "deploy" / "nginx.conf").read_text()
    assert text.count("server web:8000") == 1 and text.count("listen 8080;") == 1, "nginx.conf layout changed"
    listener = f"listen {listen};"
    if tls is not None:
        listener = f"listen {listen} ssl; ssl_certificate {tls[0]}; ssl_certificate_key {tls[1]};"
    return text.replace("server web:8000", f"server {upstream}").replace("listen 8080;", listener)


def self_signed(workdir: Path) -> tuple[Path, Path]:
    """A throwaway certificate for localhost, made with openssl."""
    workdir.mkdir(parents=True, exist_ok=True)
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextmanager
def running_nginx(upstream: str, port: int, workdir: Path, tls: bool = False) -> Iterator[str]:
    """Yields the proxy's base URL (http[s]://localhost:PORT) once it accepts connections."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed; install Debian's package with `apt-get install -y nginx`")
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    conf.write_text(shipped_config(upstream, f"127.0.0.1:{port}", self_signed(workdir) if tls else None))
    log = workdir / "error.log"
    directives = f"daemon off; pid {workdir}/nginx.pid; error_log {log} info;"
    process = subprocess.Popen(
        [NGINX, "-p", str(workdir), "-c", str(conf), "-g", directives],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise AssertionError(f"nginx exited: {log.read_text()[-2000:] if log.exists() else ''}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("nginx did not start listening") from None
                time.sleep(0.1)
        yield f"{'https' if tls else 'http'}://localhost:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def proxy_port() -> int:
    """8080 as compose publishes it when free here, else another non-default port."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", 8080))
            return 8080
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
