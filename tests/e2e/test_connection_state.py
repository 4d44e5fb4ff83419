"""Connection state a person can trust: stale while the server is frozen, live again by itself, and a
page that reconnects to a different store reloads instead of keeping rows that no longer exist."""

from __future__ import annotations

import os
import re
import signal
from datetime import UTC, datetime, timedelta

from tests.e2e.screens import open_live, serious, server_pid
from tests.support import event, free_port, running_server, unique_settings, wo

GHOSTS = [f"WO-GHOST-{i}" for i in range(4)]


async def _orders(producer, topic: str, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Orders released three minutes ago: the banner's age is theirs, not the page's."""
    at = datetime.now(UTC) - timedelta(minutes=3)
    for order in ids:
        release = event("WorkOrderStatusChanged", wo(order, "RELEASED"), sequence=1, at=at)
        await producer.event(topic, order, release)


async def test_stale_through_sigstop_and_no_ghosts_after_a_fresh_store(
    kafka, producer, browser, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    first = unique_settings(kafka, f"sqlite:///{tmp_path / 'first.db'}")
    port = free_port()
    errors: list[str] = []
    with running_server(first, port=port) as url:
        # The page opens on an empty store and the orders arrive live: the server is stopped right
        # after, before a heartbeat could tell the page how old its data is.
        page = await open_live(browser, f"{url}/work-orders", errors)
        await page.wait_for_selector('body[data-connection="live"]', timeout=20_000)
        await _orders(producer, first.topic_work_orders, GHOSTS)
        await page.wait_for_selector(f'[data-work-order="{GHOSTS[-1]}"]', timeout=30_000)
        assert await page.locator("#conn-banner").is_hidden()
        pid = server_pid(port)
        os.kill(pid, signal.SIGSTOP)
        try:
            # No frame and no heartbeat: stale within two heartbeats (10 s), with a banner and dimmed data.
            await page.wait_for_selector('body[data-connection="stale"]', timeout=20_000)
            banner = page.locator("#conn-banner")
            assert await banner.is_visible()
            text = await banner.inner_text()
            assert "Not live" in text and "data from" in text, text
            assert re.search(r"data from [34]m ago", text), text  # the orders' time, not "no data yet"
            width = await banner.evaluate("el => el.getBoundingClientRect().width")
            assert width >= await page.evaluate("innerWidth") - 1  # full width, not a dot
            opacity = await page.locator("main").evaluate("el => Number(getComputedStyle(el).opacity)")
            assert opacity < 1
        finally:
            os.kill(pid, signal.SIGCONT)
        await page.wait_for_selector('body[data-connection="live"]', timeout=20_000)
        assert await page.locator("#conn-banner").is_hidden()
        assert await page.locator("main").evaluate("el => Number(getComputedStyle(el).opacity)") == 1

    await page.wait_for_selector('body[data-connection="offline"]', timeout=20_000)
    assert await page.locator("#conn-banner").is_visible()

    second = unique_settings(kafka, f"sqlite:///{tmp_path / 'second.db'}")
    await _orders(producer, second.topic_work_orders, ["WO-FRESH-0"])
    with running_server(second, port=port):
        await page.wait_for_selector('[data-work-order="WO-FRESH-0"]', timeout=30_000)
        await page.wait_for_selector('body[data-connection="live"]', timeout=20_000)
        assert await page.locator("[data-work-order]").count() == 1  # the first store's orders are gone
    assert not serious(errors), errors
    await page.close()


async def test_stale_ten_seconds_after_the_last_frame_by_the_pages_clock(kafka, browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Timed on the page's own (fake) clock, so a busy machine cannot blur it: with the server frozen
    the page stays live while its last heartbeat is younger than 10 s and turns stale by 11 s."""
    settings = unique_settings(kafka, f"sqlite:///{tmp_path / 'clock.db'}")
    port = free_port()
    with running_server(settings, port=port) as url:
        context = await browser.new_context()
        await context.clock.install()
        page = await context.new_page()
        await page.goto(f"{url}/work-orders")
        await page.wait_for_selector('body[data-connection="live"]', timeout=20_000)
        pid = server_pid(port)
        os.kill(pid, signal.SIGSTOP)
        try:
            # Frozen 2 s ahead of "now" (the page's clock goes on running until then, and pausing
            # it in its past fails): the last frame (a heartbeat comes every 5 s) is 2-7 s old.
            await page.clock.pause_at(await page.evaluate("Date.now()") / 1000 + 2)  # seconds, here
            state = "document.body.dataset.connection"
            await page.clock.run_for(2_000)  # last frame 4-9 s ago
            assert await page.evaluate(state) == "live"
            await page.clock.run_for(7_000)  # 11-16 s ago
            assert await page.evaluate(state) == "stale"
            assert await page.locator("#conn-banner").is_visible()
        finally:
            os.kill(pid, signal.SIGCONT)
        await context.close()
