"""The command line as a user types it: options after subcommands, help that shows what each command
uses (with defaults), and plain one-line errors before anything starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from shopfloor.cli import main
from tests.support import REPO


def shopfloor(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOOR_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "shopfloor", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )


def help_text(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_users_options_come_after_the_subcommand(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    added = shopfloor(
        "users",
        "add",
        "bob",
        "--role",
        "viewer",
        "--database-url",
        url,
        cwd=tmp_path,
        stdin="a long secret\n",
    )
    assert added.returncode == 0, added.stderr
    assert "added bob (viewer)" in added.stdout
    promoted = shopfloor("users", "role", "bob", "--role", "operator", "--database-url", url, cwd=tmp_path)
    assert promoted.returncode == 0, promoted.stderr
    listed = shopfloor("users", "list", "--database-url", url, "--log-level", "error", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["bob", "operator", "active"]
    assert not (tmp_path / "shopfloor.db").exists()


def test_users_list_on_a_missing_store_says_so_and_creates_nothing(tmp_path: Path) -> None:
    listed = shopfloor("users", "list", cwd=tmp_path)
    assert listed.returncode != 0
    assert "no store at shopfloor.db" in listed.stderr
    assert listed.stderr.count("\n") == 1
    assert not (tmp_path / "shopfloor.db").exists()


def test_simulate_offers_only_what_a_producer_uses(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, "simulate")
    assert "--database-url" not in text
    assert "--host" not in text
    assert "--kafka-bootstrap-servers" in text
    rate = " ".join(text.split("options:", 1)[1].split("--rate RATE", 1)[1].split("--duration", 1)[0].split())
    assert "(default: 50.0)" in rate


def test_every_default_is_shown(capsys: pytest.CaptureFixture[str]) -> None:
    demo = " ".join(help_text(capsys, "demo").split())
    assert "sqlite:///shopfloor-demo.db" in demo
    assert "(default: 20.0)" in demo and "(default: 50.0)" in demo
    assert "--kafka-bootstrap-servers" not in demo
    evaluate = " ".join(help_text(capsys, "evaluate").split())
    assert "(default: 20)" in evaluate and "(default: 2002)" in evaluate


def test_help_says_in_plain_words_what_each_user_command_does(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, "users")
    assert "change a user's password" in text
    assert "passwd a user" not in text and "enable a user" not in text


def test_demo_on_a_busy_port_is_one_line_and_exit_2_before_any_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = shopfloor("demo", "--port", str(port), cwd=tmp_path)
    assert done.returncode == 2
    assert "http://" not in done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"shopfloor demo: 127.0.0.1:{port} is already in use; "
        "stop what listens there or pick another port with --port"
    ]
    assert not (tmp_path / "shopfloor-demo.db").exists()


def test_bad_port_and_bad_store_are_one_line_errors(tmp_path: Path) -> None:
    port = shopfloor("demo", "--port", "99999", cwd=tmp_path)
    assert port.returncode == 2
    assert "'99999' is not a port number (1-65535)" in port.stderr
    store = shopfloor("users", "list", "--database-url", "nonsense://x", cwd=tmp_path)
    assert store.returncode == 2
    assert store.stderr.strip().splitlines() == [
        "shopfloor users: bad database URL: Can't load plugin: sqlalchemy.dialects:nonsense"
    ]
    assert "Traceback" not in port.stderr + store.stderr
