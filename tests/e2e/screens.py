"""What the live-screen tests share: pages opened with their errors collected, DOM size, server pid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ELEMENTS = "() => document.getElementsByTagName('*').length"


async def open_live(browser: Any, url: str, errors: list[str], **context: Any) -> Any:
    """A page at `url` once its stream is live; page errors and console errors go to `errors`."""
    page = await browser.new_page(**({"viewport": {"width": 1920, "height": 1080}} | context))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    await page.goto(url)
    await page.wait_for_selector('body[data-connection="live"]', timeout=20_000)
    return page


def serious(errors: list[str]) -> list[str]:
    """Console noise from a server that was stopped on purpose is expected; script errors are not.
    Plotly's inline styles on /equipment are refused by the CSP (a known gap fixed with Plotly's
    CSP build), so that one message is left to the equipment tests."""
    return [
        e
        for e in errors
        if ("Uncaught" in e or "Content Security Policy" in e or "TypeError" in e)
        and "Applying inline style" not in e
    ]


def server_pid(port: int) -> int:
    """The `shopfloor` process this test started on `port` (found by its environment)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"shopfloor" in cmdline and f"SHOPFLOOR_PORT={port}\0".encode() in environ:
            return int(proc.name)
    raise AssertionError(f"no shopfloor process on port {port}")
