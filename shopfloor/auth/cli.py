"""`shopfloor users add|list|role|disable|enable|passwd`: manage sign-in accounts from a shell."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from shopfloor.auth.roles import ROLES


def add_parser(commands: Any) -> None:
    users = commands.add_parser(
        "users",
        help="manage sign-in accounts",
        description="Adds and changes users in the store. Passwords are read from standard input "
        "when it is not a terminal (one line), otherwise prompted for twice.",
    )
    users.add_argument("--database-url", metavar="URL", help="the store (env SHOPFLOOR_DATABASE_URL)")
    users.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    actions = users.add_subparsers(dest="users_command", required=True)
    add = actions.add_parser("add", help="add a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    actions.add_parser("list", help="list users")
    role = actions.add_parser("role", help="change a user's role (ends their sessions)")
    role.add_argument("name")
    role.add_argument("--role", required=True, choices=ROLES)
    for name in ("disable", "enable", "passwd"):
        actions.add_parser(name, help=f"{name} a user").add_argument("name")


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
    engine = open_store(settings)
    command = args.users_command
    if command == "add":
        users.add(engine, args.name, args.role, _password())
        print(f"added {args.name} ({args.role})")
    elif command == "list":
        for user in users.listing(engine):
            print(f"{user['name']}\t{user['role']}\t{'disabled' if user['disabled'] else 'active'}")
    elif command == "role":
        users.set_role(engine, args.name, args.role, "cli")
    elif command in ("disable", "enable"):
        users.set_disabled(engine, args.name, command == "disable", "cli")
    elif command == "passwd":
        users.set_password(engine, args.name, _password(), "cli")
