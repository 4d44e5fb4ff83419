"""`shopfloor users add|list|role|disable|enable|passwd`: manage sign-in accounts from a shell."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from shopfloor.auth.roles import ROLES


def add_parser(commands: Any) -> None:
    users = commands.add_parser(
        "users",
        help="manage sign-in accounts",
        description="Adds and changes users in the store. Passwords are read from standard input "
        "when it is not a terminal (one line), otherwise prompted for twice.",
    )
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")

    def action(name: str, text: str, *, named: bool = True) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        if named:
            parser.add_argument("name", help="the user's sign-in name")
        parser.add_argument(
            "--database-url",
            metavar="URL",
            help="the store (env SHOPFLOOR_DATABASE_URL, default sqlite:///shopfloor.db)",
        )
        parser.add_argument(
            "--log-level", default="warning", choices=["debug", "info", "warning", "error"], help="log detail"
        )
        return parser

    action("add", "add a user; the password is asked for").add_argument(
        "--role", required=True, choices=ROLES, help="what the user may do"
    )
    action("list", "list the users, their roles and whether they may sign in", named=False)
    action("role", "change a user's role (ends their sessions)").add_argument(
        "--role", required=True, choices=ROLES, help="the new role"
    )
    action("disable", "stop a user from signing in (ends their sessions)")
    action("enable", "let a disabled user sign in again")
    action("passwd", "change a user's password (ends their sessions)")


def _password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the passwords differ")
    return first


def run(args: argparse.Namespace) -> None:
    from shopfloor.auth import users
    from shopfloor.config import Settings
    from shopfloor.runtime import open_store

    settings = Settings(**({"database_url": args.database_url} if args.database_url else {}))
    command = args.users_command
    missing = _missing_sqlite_file(settings.database_url)
    if missing is not None and command != "add":
        sys.exit(
            f"shopfloor users {command}: no store at {missing} (add a user first, or pass --database-url)"
        )
    engine = open_store(settings)
    if command == "add":
        users.add(engine, args.name, args.role, _password())
        print(f"added {args.name} ({args.role})")
    elif command == "list":
        listed = users.listing(engine)
        if not listed:
            print(f"no users in {settings.database_url} (add one: shopfloor users add NAME --role admin)")
        for user in listed:
            print(f"{user['name']}\t{user['role']}\t{'disabled' if user['disabled'] else 'active'}")
    elif command == "role":
        users.set_role(engine, args.name, args.role, "cli")
        print(f"{args.name} is now {args.role}")
    elif command in ("disable", "enable"):
        users.set_disabled(engine, args.name, command == "disable", "cli")
        print(f"{args.name} {command}d")
    elif command == "passwd":
        users.set_password(engine, args.name, _password(), "cli")
        print(f"password of {args.name} changed")


def _missing_sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names when it does not exist: opening it would create an empty store."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix + ":memory:":
        return None
    path = Path(url[len(prefix) :].split("?", 1)[0])
    return None if path.exists() else path
