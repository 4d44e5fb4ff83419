"""/admin: users and kiosk screens, for the admin role. Every change is audited."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopfloor.auth import audit, kiosks, users
from shopfloor.auth.roles import ROLES, Principal, require_role
from shopfloor.pages import templates
from shopfloor.runtime import Runtime

Admin = Annotated[Principal, Depends(require_role("admin"))]
Name = Annotated[str, Form(min_length=1, max_length=64)]


def router(runtime: Runtime) -> APIRouter:
    api = APIRouter(include_in_schema=False)
    engine = runtime.engine

    def page(request: Request, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
        with engine.connect() as conn:
            trail = audit.recent(conn, 50)
        context = {
            "view": "admin",
            "users": users.listing(engine),
            "screens": kiosks.listing(engine),
            "roles": ROLES,
            "audit": trail,
            **(extra or {}),
        }
        response = templates.TemplateResponse(request, "auth/admin.html", context, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def act(request: Request, change: Any, *args: Any) -> Response:
        try:
            await asyncio.to_thread(change, engine, *args)
        except ValueError as exc:
            return page(request, {"error": str(exc)}, 400)
        return RedirectResponse("/admin", status_code=303)

    @api.get("/admin", response_class=HTMLResponse)
    def admin_page(request: Request, _user: Admin) -> Response:
        return page(request)

    @api.post("/admin/users")
    async def add_user(
        request: Request,
        user: Admin,
        name: Name,
        role: Annotated[str, Form()],
        password: Annotated[str, Form(max_length=1024)],
    ) -> Response:
        return await act(request, users.add, name, role, password, user.name)

    @api.post("/admin/users/role")
    async def change_role(
        request: Request, user: Admin, name: Name, role: Annotated[str, Form()]
    ) -> Response:
        return await act(request, users.set_role, name, role, user.name)

    @api.post("/admin/users/disable")
    async def disable(request: Request, user: Admin, name: Name) -> Response:
        if name == user.name:
            return page(request, {"error": "you cannot disable yourself"}, 400)
        return await act(request, users.set_disabled, name, True, user.name)

    @api.post("/admin/users/enable")
    async def enable(request: Request, user: Admin, name: Name) -> Response:
        return await act(request, users.set_disabled, name, False, user.name)

    @api.post("/admin/users/password")
    async def password(
        request: Request, user: Admin, name: Name, password: Annotated[str, Form(max_length=1024)]
    ) -> Response:
        return await act(request, users.set_password, name, password, user.name)

    @api.post("/admin/screens")
    async def add_screen(
        request: Request,
        user: Admin,
        name: Annotated[str, Form(max_length=100)],
        board: Annotated[str, Form(alias="page", max_length=200)] = "/",
    ) -> Response:
        check = getattr(request.app.state, "page_refusal", None)  # the web app's query rule
        refused = None if check is None else check(board.strip() or "/")
        if refused is not None:  # a screen whose page would answer 400 on the wall
            return page(request, {"error": f"a screen's page must load: {refused}"}, 400)
        try:
            token = await asyncio.to_thread(kiosks.create, engine, name, user.name, board)
        except ValueError as exc:
            return page(request, {"error": str(exc)}, 400)
        link = str(request.base_url).rstrip("/") + f"/kiosk/{token}"
        return page(request, {"new_screen": name.strip(), "new_link": link})

    @api.post("/admin/screens/revoke")
    async def revoke_screen(
        request: Request, user: Admin, screen_id: Annotated[int, Form(ge=1, le=2**62)]
    ) -> Response:
        return await act(request, kiosks.revoke, screen_id, user.name)

    return api
