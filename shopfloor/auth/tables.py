"""Tables for users, sessions, kiosk screens and the audit trail. Secrets are stored only as hashes."""

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


class AuditEntry(SQLModel, table=True):
    """Who did what to what, and when: every admin and supervisor action leaves one row."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at_ms: int = Field(sa_type=BigInteger, index=True)
    actor: str
    action: str
    target: str
    detail: str = ""


USERS = User.__table__  # type: ignore[attr-defined]
SESSIONS = AuthSession.__table__  # type: ignore[attr-defined]
KIOSKS = KioskLink.__table__  # type: ignore[attr-defined]
AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]
