"""Tables for users, sessions and kiosk screens. Secrets are stored only as hashes.

The audit trail is the store's (store/audit.py): dead-letter resolution writes it too."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel


class User(SQLModel, table=True):
    __tablename__ = "users"
    name: str = Field(primary_key=True)
    password_hash: str
    role: str
    disabled: bool = False
    created_ms: int = Field(sa_type=BigInteger)


class AuthSession(SQLModel, table=True):
    """One signed-in browser. `id` is the SHA-256 of the cookie value, so a store dump opens nothing."""

    __tablename__ = "auth_sessions"
    id: str = Field(primary_key=True)
    user_name: str = Field(index=True)
    role: str
    kiosk_id: int | None = Field(default=None, index=True)
    csrf_token: str
    created_ms: int = Field(sa_type=BigInteger)
    last_seen_ms: int = Field(sa_type=BigInteger)
    expires_ms: int = Field(sa_type=BigInteger)
    revoked: bool = False


class KioskLink(SQLModel, table=True):
    """A screen's one-time link: opening it once starts the screen's session on `page`."""

    __tablename__ = "kiosk_links"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    page: str = "/"
    token_hash: str = Field(unique=True)
    created_ms: int = Field(sa_type=BigInteger)
    created_by: str
    used_ms: int | None = Field(default=None, sa_type=BigInteger)
    revoked_ms: int | None = Field(default=None, sa_type=BigInteger)


USERS = User.__table__  # type: ignore[attr-defined]
SESSIONS = AuthSession.__table__  # type: ignore[attr-defined]
KIOSKS = KioskLink.__table__  # type: ignore[attr-defined]
TABLES = (USERS, SESSIONS, KIOSKS)  # created with the store where sign-in is wired (runtime)
