"""Screenshots of every page for docs/guide.md, from a real `shopfloor demo` in Chromium.

    .venv/bin/python docs/screenshots.py [--chromium /usr/bin/chromium] [--wait 150]

Starts a demo with sign-in on (a fresh store in a temporary directory, a free port), adds an admin,
waits until the demo's first alert is open (about two and a half minutes), signs in and writes one
PNG per page to docs/img/guide-*.png. Re-run it whenever a page changes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "img"
PASSWORD = "correct horse battery"
VIEWPORT = {"width": 1280, "height": 800}
# file name -> (path, signed in)
PAGES = {
    "login": ("/login", False),
    "overview": ("/", True),
    "work-orders": ("/work-orders", True),
    "line-board": ("/work-orders?line=L3", True),
    "kiosk": ("/work-orders?line=L3&kiosk=1", True),
    "inventory": ("/inventory", True),
    "outbound": ("/outbound", True),
    "equipment": ("/equipment", True),
    "trend": ("/equipment?machine={alerted}", True),
    "dead-letters": ("/dead-letters", True),
    "admin": ("/admin", True),
    "admin-rebuilds": ("/admin/rebuilds", True),
    "api-docs": ("/docs", True),
    "asyncapi": ("/asyncapi", True),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def signed_in_client(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base)
    form = client.get("/login").text
    token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": token, "next": "/"})
    return client


def wait_for_alert(base: str, wait_s: float) -> str:
    """The machine of the demo's first alert, once it is open."""
    deadline = time.monotonic() + wait_s
    client = signed_in_client(base)
    try:
        while time.monotonic() < deadline:
            items = client.get("/api/alerts").json()["items"]
            if items:
                return items[-1]["equipment_id"]
            time.sleep(2)
    finally:
        client.close()
    raise SystemExit(f"no alert after {wait_s:.0f} s; is the demo simulator running?")


async def shoot(base: str, chromium: str, alerted: str) -> list[Path]:
    from playwright.async_api import async_playwright

    written = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        anonymous = await browser.new_page(viewport=VIEWPORT)
        context = await browser.new_context(viewport=VIEWPORT)
        page = await context.new_page()
        await page.goto(f"{base}/login")
        await page.fill("input[name=username]", "ada")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(lambda u: "/login" not in u)
        for name, (path, signed_in) in PAGES.items():
            target = page if signed_in else anonymous
            await target.goto(base + path.format(alerted=alerted))
            await target.wait_for_load_state("networkidle")
            if path.startswith("/docs"):
                await target.wait_for_selector(".swagger-ui .opblock")
            await target.wait_for_timeout(2500)  # live data and plots settle
            if name == "trend":
                await target.evaluate("document.getElementById('trend-head').scrollIntoView()")
            out = OUT / f"guide-{name}.png"
            await target.screenshot(path=str(out))
            written.append(out)
        await browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--wait", type=float, default=240, help="seconds to wait for the first alert")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="shopfloor-shots-") as tmp:
        url = f"sqlite:///{tmp}/demo.db"
        env = {**os.environ, "SHOPFLOOR_AUTH": "on", "PYTHONPATH": str(REPO)}
        demo = subprocess.Popen(
            [sys.executable, "-m", "shopfloor", "demo", "--port", str(port), "--database-url", url],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(150):
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            add = [
                sys.executable,
                "-m",
                "shopfloor",
                "users",
                "add",
                "ada",
                "--role",
                "admin",
                "--database-url",
                url,
            ]
            subprocess.run(add, input=PASSWORD + "\n", text=True, env=env, check=True, capture_output=True)
            alerted = wait_for_alert(base, args.wait)
            for path in asyncio.run(shoot(base, args.chromium, alerted)):
                print(f"{path.relative_to(REPO)}: {path.stat().st_size // 1024} KB")
        finally:
            demo.terminate()
            demo.wait(20)


if __name__ == "__main__":
    main()
