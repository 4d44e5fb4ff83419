"""Every page of a running demo, in Chromium, signed in as an admin: no console error or warning, no
uncaught exception, no Content-Security-Policy violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from shopfloor.auth import users
from shopfloor.runtime import open_store
from tests.support import running_server, unique_settings, wait_until

PASSWORD = "correct horse battery"
SIGNED_IN_PAGES = [
    "/",
    "/work-orders",
    "/work-orders?line=L3",
    "/inventory",
    "/outbound",
    "/equipment",
    "/equipment?machine=M-001",  # a machine's trends
    "/quality",
    "/lines",
    "/downtime",  # Plotly charts of its own
    "/downtime?kiosk=1",
    "/alarms",
    "/alarms/kpis",
    "/admin",
    "/admin/rebuilds",
    "/docs",
    "/asyncapi",
    "/dead-letters",  # last: the demo's malformed records come one every 20 s
]
REPORT_CSP = """
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


async def test_every_page_has_a_clean_console(browser: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    settings = unique_settings(None, url)
    with running_server(settings, "--database-url", url, command="demo", auth=True) as base:
        users.add(open_store(settings), "ada", "admin", PASSWORD)
        await wait_until(lambda: _has_dead_letter(base, "WO-BROKEN-1"), 120, "the demo's first dead letter")
        context = await browser.new_context(base_url=base)
        problems: list[str] = []
        where = {"page": "/login"}

        def report(kind: str, text: str) -> None:
            problems.append(f"{where['page']}: {kind}: {text}")

        await context.expose_function("__cspViolation", lambda text: report("CSP", text))
        await context.add_init_script(REPORT_CSP)
        page = await context.new_page()
        page.on(
            "console", lambda m: report(m.type, m.text) if m.type in ("error", "warning", "assert") else None
        )
        page.on("pageerror", lambda e: report("uncaught", str(e)))

        await page.goto("/login")
        await page.fill("input[name=username]", "ada")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(lambda u: "/login" not in u)
        for path in SIGNED_IN_PAGES:
            where["page"] = path
            if path == "/dead-letters":
                await wait_until(
                    lambda: _has_dead_letter(base, "WO-BROKEN-2"), 120, "the demo's last dead letter"
                )
            response = await page.goto(path)
            assert response is not None and response.status == 200, (path, response and response.status)
            await page.wait_for_load_state("networkidle")
            if path.startswith("/equipment"):
                await page.wait_for_selector(".js-plotly-plot .main-svg", state="attached")
            if path == "/docs":
                await page.wait_for_selector(".swagger-ui .opblock", state="attached")
            await page.wait_for_timeout(1500)  # live updates arrive meanwhile
        await context.close()
    assert problems == []


def _has_dead_letter(base: str, key: str) -> bool:
    """Pages are checked with data on every one (dead letters are the last to arrive)."""
    with httpx.Client(base_url=base) as client:
        login = client.get("/login")
        token = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post(
            "/login", data={"username": "ada", "password": PASSWORD, "csrf_token": token, "next": "/"}
        )
        letters = client.get("/dead-letters")
    return key in letters.text
