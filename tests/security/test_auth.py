"""Sign-in, roles, sessions, kiosk tokens, CSRF and rate limiting, in process over SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from shopfloor.auth.tables import SESSIONS, USERS
from shopfloor.store.audit import AUDIT
from tests.security.auth_client import CSRF, PASSWORD, ManualClock, auth_app, page_token, sign_in


async def test_closed_without_a_session_but_operations_stay_open(database_url) -> None:  # type: ignore[no-untyped-def]
    async with auth_app(database_url) as (_, client):
        page = await client.get("/work-orders?line=L1")
        assert (
            page.status_code == 303 and page.headers["location"] == "/login?next=%2Fwork-orders%3Fline%3DL1"
        )
        assert (await client.get("/")).headers["location"] == "/login"
        for path in ("/api/work-orders", "/sse/work-orders", "/admin", "/dead-letters"):
            response = await client.get(path, headers={"accept": "application/json"})
            assert response.status_code in (401, 303), path
        assert (await client.get("/api/work-orders")).status_code == 401
        assert (await client.get("/sse/work-orders")).status_code == 401
        for path in ("/healthz", "/metrics", "/login", "/static/shopfloor.js"):
            assert (await client.get(path)).status_code == 200, path
        assert (await client.get("/readyz")).status_code in (200, 503)  # open: it answers, never 401
        refused = await client.get("/api/work-orders")
        assert refused.headers["content-security-policy"].startswith("default-src 'self'")


async def test_sign_in_sets_a_strict_session_cookie_and_pages_open(database_url) -> None:  # type: ignore[no-untyped-def]
    async with auth_app(database_url) as (runtime, client):
        wrong = await sign_in(client, "otto", "not the password")
        assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
        unknown = await sign_in(client, "nobody")
        assert unknown.status_code == 401
        done = await sign_in(client, "otto")
        assert done.status_code == 303
        cookie = next(h for h in done.headers.get_list("set-cookie") if h.startswith("sf_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
        assert (await client.get("/work-orders")).status_code == 200
        assert (await client.get("/api/work-orders")).status_code == 200
        with runtime.engine.connect() as conn:
            stored = conn.execute(select(SESSIONS.c.id, SESSIONS.c.user_name)).all()
            hashed = conn.execute(select(USERS.c.password_hash).where(USERS.c.name == "otto")).scalar_one()
        token = cookie.split(";")[0].split("=", 1)[1]
        assert [s.user_name for s in stored] == ["otto"] and stored[0].id != token
        assert hashed.startswith("$argon2id$") and PASSWORD not in hashed


async def test_cookie_is_secure_under_https(database_url) -> None:  # type: ignore[no-untyped-def]
    async with auth_app(database_url, base_url="https://shop.test") as (_, client):
        done = await sign_in(client, "vera")
        cookie = next(h for h in done.headers.get_list("set-cookie") if h.startswith("sf_session="))
        assert "Secure" in cookie
        page = await client.get("/work-orders")
        assert "max-age=" in page.headers["strict-transport-security"]


async def test_csrf_token_and_origin_are_required_for_changes(database_url) -> None:  # type: ignore[no-untyped-def]
    async with auth_app(database_url) as (_, client):
        await sign_in(client, "ada")
        token = await page_token(client, "/admin")
        add = {"name": "newbie", "role": "viewer", "password": "a long password"}
        assert (await client.post("/admin/users", data=add)).status_code == 403
        assert (await client.post("/admin/users", data={**add, "csrf_token": "forged"})).status_code == 403
        cross = await client.post(
            "/admin/users", data={**add, "csrf_token": token}, headers={"origin": "https://evil.example"}
        )
        assert cross.status_code == 403
        site = await client.post(
            "/admin/users", data={**add, "csrf_token": token}, headers={"sec-fetch-site": "cross-site"}
        )
        assert site.status_code == 403
        ok = await client.post(
            "/admin/users",
            data={**add, "csrf_token": token},
            headers={"origin": "http://shop.test", "sec-fetch-site": "same-origin"},
        )
        assert ok.status_code == 303
        by_header = await client.post(
            "/admin/users/role", data={"name": "newbie", "role": "operator"}, headers={"x-csrf-token": token}
        )
        assert by_header.status_code == 303
        login_forged = await client.post(
            "/login", data={"username": "ada", "password": PASSWORD, "csrf_token": "guess"}
        )
        assert login_forged.status_code == 403


async def test_roles_gate_admin_and_supervisor_actions(database_url) -> None:  # type: ignore[no-untyped-def]
    async with auth_app(database_url) as (runtime, client):
        await sign_in(client, "sue")
        token = await page_token(client)
        assert (await client.get("/admin")).status_code == 403
        assert (await client.get("/dead-letters")).status_code == 200
        ack = await client.post(
            "/equipment/alerts/acknowledge",
            data={"alert_id": "no-such-alert"},
            headers={"x-csrf-token": token},
        )
        assert ack.status_code == 404  # past the role check: the alert does not exist
        await client.post("/logout", headers={"x-csrf-token": token})
        client.cookies.clear()
        await sign_in(client, "otto")
        token = await page_token(client)
        assert (await client.get("/dead-letters")).status_code == 403
        refused = await client.post(
            "/equipment/alerts/acknowledge", data={"alert_id": "x"}, headers={"x-csrf-token": token}
        )
        assert refused.status_code == 403
        await client.post("/logout", headers={"x-csrf-token": token})
        client.cookies.clear()
        await sign_in(client, "ada")
        token = await page_token(client, "/admin")
        assert (
            await client.post("/admin/users/disable", data={"name": "otto", "csrf_token": token})
        ).status_code == 303
        with runtime.engine.connect() as conn:
            actions = [
                (r.actor, r.action, r.target) for r in conn.execute(select(AUDIT).order_by(AUDIT.c.id))
            ]
        assert ("ada", "user.disable", "otto") in actions
        client.cookies.clear()
        assert (await sign_in(client, "otto")).status_code == 401


async def test_logout_and_disabling_end_sessions(database_url) -> None:  # type: ignore[no-untyped-def]
    async with auth_app(database_url) as (_, client):
        await sign_in(client, "otto")
        token = await page_token(client)
        out = await client.post("/logout", headers={"x-csrf-token": token})
        assert out.status_code == 303
        assert (await client.get("/api/work-orders")).status_code == 401


async def test_idle_and_absolute_timeouts(database_url) -> None:  # type: ignore[no-untyped-def]
    """On an injected clock: 30 idle minutes end a session, activity keeps it, 2 hours end it anyway."""
    clock = ManualClock(1_800_000_000_000)
    async with auth_app(database_url, clock=clock, session_idle_minutes=30) as (_, client):
        await sign_in(client, "vera")
        assert (await client.get("/api/work-orders")).status_code == 200
        clock.advance(minutes=29)
        assert (await client.get("/api/work-orders")).status_code == 200  # and that counts as activity
        clock.advance(minutes=29)
        assert (await client.get("/api/work-orders")).status_code == 200
        clock.advance(minutes=31)
        assert (await client.get("/api/work-orders")).status_code == 401
    async with auth_app(database_url, clock=clock, session_idle_minutes=30, session_absolute_hours=2) as (
        _,
        client,
    ):
        await sign_in(client, "vera")
        for _ in range(5):  # active every 20 minutes: 100 minutes in, still signed in
            clock.advance(minutes=20)
            assert (await client.get("/api/work-orders")).status_code == 200
        clock.advance(minutes=20)
        assert (await client.get("/api/work-orders")).status_code == 401  # 120 minutes: over


async def test_failed_sign_ins_are_rate_limited(database_url) -> None:  # type: ignore[no-untyped-def]
    async with auth_app(database_url, login_max_failures=3) as (_, client):
        for _ in range(3):
            assert (await sign_in(client, "ada", "wrong password")).status_code == 401
        limited = await sign_in(client, "ada")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0


async def test_kiosk_token_gives_a_read_only_session_until_revoked(database_url) -> None:  # type: ignore[no-untyped-def]
    async with auth_app(database_url) as (_, admin):
        await sign_in(admin, "ada")
        token = await page_token(admin, "/admin")
        created = await admin.post(
            "/admin/screens",
            data={"name": "Line 3 board", "page": "/work-orders?line=L3", "csrf_token": token},
        )
        assert created.status_code == 200
        link = created.text.split("data-kiosk-link>")[1].split("<")[0]
        path = link.split("shop.test", 1)[1]
        kiosk = admin.__class__(transport=admin._transport, base_url="http://shop.test")
        async with kiosk:
            opened = await kiosk.get(path + "?next=/admin")  # the link's page wins over any `next`
            assert opened.status_code == 303 and opened.headers["location"] == "/work-orders?line=L3&kiosk=1"
            cookie = next(h for h in opened.headers.get_list("set-cookie") if h.startswith("sf_session="))
            assert "Max-Age=" in cookie and "HttpOnly" in cookie
            assert (await kiosk.get("/work-orders")).status_code == 200
            kiosk_token = await page_token(kiosk)
            assert (await kiosk.get("/admin")).status_code == 403
            refused = await kiosk.post(
                "/equipment/alerts/acknowledge", data={"alert_id": "x"}, headers={"x-csrf-token": kiosk_token}
            )
            assert refused.status_code == 403
            screens = await admin.get("/admin")
            screen_id = screens.text.split('data-screen="')[1].split('"')[0]
            revoked = await admin.post(
                "/admin/screens/revoke", data={"screen_id": screen_id, "csrf_token": token}
            )
            assert revoked.status_code == 303
            assert (await kiosk.get("/api/work-orders")).status_code == 401
            # The screen restarts (or reloads) on its page: it says it is disconnected, no login form.
            wall = await kiosk.get("/work-orders?line=L3&kiosk=1")
            assert wall.status_code == 401 and "Screen disconnected — ask a supervisor" in wall.text
            assert "<form" not in wall.text and 'id="screen-disconnected"' in wall.text
            assert (await kiosk.get("/work-orders?line=L3")).status_code == 303  # not a kiosk: sign in
            assert (await kiosk.get(path)).status_code == 404
        assert (await admin.get("/kiosk/not-a-token")).status_code == 404


async def test_login_form_never_redirects_off_site(database_url) -> None:  # type: ignore[no-untyped-def]
    async with auth_app(database_url) as (_, client):
        form = await client.get("/login?next=//evil.example/x")
        token = CSRF.search(form.text)
        assert token is not None
        done = await client.post(
            "/login",
            data={
                "username": "vera",
                "password": PASSWORD,
                "csrf_token": token.group(1),
                "next": "//evil.example/x",
            },
        )
        assert done.headers["location"] == "/"


async def test_metrics_take_the_bearer_token_once_one_is_set(database_url) -> None:  # type: ignore[no-untyped-def]
    async with auth_app(database_url, metrics_token="scrape-me") as (_, client):
        refused = await client.get("/metrics")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert (await client.get("/metrics", headers={"authorization": "Bearer wrong"})).status_code == 401
        scraped = await client.get("/metrics", headers={"authorization": "Bearer scrape-me"})
        assert scraped.status_code == 200 and "shopfloor_events_total" in scraped.text
