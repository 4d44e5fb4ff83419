"""Roles are ranked: each role can do everything the roles below it can."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

ROLES = ("viewer", "operator", "supervisor", "admin")


@dataclass(frozen=True)
class Principal:
    """Who is making a request. `roles` holds the user's role and every role ranked below it."""

    name: str
    roles: frozenset[str]
    session_id: str | None = None
    csrf_token: str | None = None
    kiosk_id: int | None = None

    @property
    def role(self) -> str:
        return max(self.roles, key=ROLES.index)


def implied_roles(role: str) -> frozenset[str]:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    return frozenset(ROLES[: ROLES.index(role) + 1])


LOCAL = Principal("local", frozenset(ROLES))


def current_user(request: Request) -> Principal | None:
    """The signed-in user the auth middleware found; with sign-in off, a local admin."""
    if not request.app.state.runtime.auth:
        return LOCAL
    user = request.scope.get("state", {}).get("user")
    return user if isinstance(user, Principal) else None


def require_role(role: str) -> Callable[[Request], Principal]:
    """Dependency for actions: the signed-in user if they hold `role` (401 if nobody, 403 if too low)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def check(request: Request) -> Principal:
        user = current_user(request)
        if user is None:
            raise HTTPException(401, "sign in to do this")
        if role not in user.roles:
            raise HTTPException(403, f"this needs the {role} role")
        return user

    return check
