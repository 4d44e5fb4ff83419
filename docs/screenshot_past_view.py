"""The screenshot of a past view with its timeline for docs/history.md, from a real `shopfloor demo`.

    .venv/bin/python docs/screenshot_past_view.py [--chromium /usr/bin/chromium] [--run 90]

Starts a demo (sign-in off, a fresh store in a temporary directory), lets it run `--run` seconds,
then opens line L3's work-order board as it stood half-way through the run and writes
docs/img/past-view.png.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "img" / "past-view.png"
VIEWPORT = {"width": 1280, "height": 800}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def shoot(url: str, chromium: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = await browser.new_page(viewport=VIEWPORT)
        await page.goto(url)
        await page.wait_for_load_state("networkidle")
        await page.locator("#timeline").wait_for(state="visible")
        await page.screenshot(path=str(OUT))
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--run", type=float, default=90, help="seconds the demo runs before the shot")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="shopfloor-shots-") as tmp:
        env = {**os.environ, "SHOPFLOOR_AUTH": "off", "PYTHONPATH": str(REPO)}
        demo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shopfloor",
                "demo",
                "--port",
                str(port),
                "--database-url",
                f"sqlite:///{tmp}/d.db",
            ],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            started = datetime.now(UTC)
            for _ in range(150):
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            time.sleep(args.run)
            at = (
                (started + timedelta(seconds=args.run / 2))
                .isoformat(timespec="seconds")
                .replace("+00:00", "Z")
            )
            asyncio.run(shoot(f"{base}/work-orders?line=L3&at={at}", args.chromium))
            print(OUT)
        finally:
            demo.terminate()
            demo.wait(10)


if __name__ == "__main__":
    main()
