"""User accounts: add, change role, disable, reset password. Changes revoke the user's sessions."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from shopfloor.auth import audit
from shopfloor.auth.passwords import hash_password
from shopfloor.auth.roles import ROLES
from shopfloor.auth.sessions import now_ms
from shopfloor.auth.tables import SESSIONS, USERS
from shopfloor.store.db import begin_write

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def _check(name: str, role: str) -> None:
    if not NAME.match(name):
        raise ValueError("a user name is 1-64 letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")


def _revoke_all(conn: Connection, name: str) -> None:
    conn.execute(update(SESSIONS).where(SESSIONS.c.user_name == name).values(revoked=True))


def add(engine: Engine, name: str, role: str, password: str, actor: str = "cli") -> None:
    _check(name, role)
    hashed = hash_password(password, (name,))
    with begin_write(engine) as conn:
        if conn.execute(select(USERS.c.name).where(USERS.c.name == name)).first() is not None:
            raise ValueError(f"user {name!r} exists already")
        conn.execute(insert(USERS).values(name=name, password_hash=hashed, role=role, created_ms=now_ms()))
        audit.record(conn, actor, "user.add", name, f"role={role}")


def set_role(engine: Engine, name: str, role: str, actor: str) -> None:
    _check(name, role)
    with begin_write(engine) as conn:
        if conn.execute(update(USERS).where(USERS.c.name == name).values(role=role)).rowcount == 0:
            raise ValueError(f"no user {name!r}")
        _revoke_all(conn, name)
        audit.record(conn, actor, "user.role", name, f"role={role}")


def set_disabled(engine: Engine, name: str, disabled: bool, actor: str) -> None:
    with begin_write(engine) as conn:
        if conn.execute(update(USERS).where(USERS.c.name == name).values(disabled=disabled)).rowcount == 0:
            raise ValueError(f"no user {name!r}")
        _revoke_all(conn, name)
        audit.record(conn, actor, "user.disable" if disabled else "user.enable", name)


def set_password(engine: Engine, name: str, password: str, actor: str) -> None:
    hashed = hash_password(password, (name,))
    with begin_write(engine) as conn:
        if conn.execute(update(USERS).where(USERS.c.name == name).values(password_hash=hashed)).rowcount == 0:
            raise ValueError(f"no user {name!r}")
        _revoke_all(conn, name)
        audit.record(conn, actor, "user.password", name)


def get(engine: Engine, name: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(USERS).where(USERS.c.name == name)).first()
    return None if row is None else dict(row._mapping)


def listing(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(USERS.c.name, USERS.c.role, USERS.c.disabled, USERS.c.created_ms).order_by(USERS.c.name)
        )
        return [dict(r._mapping) for r in rows]
