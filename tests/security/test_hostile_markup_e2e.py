"""Events whose every text field is markup or script show as plain text in Chromium; nothing runs.

Also checks that htmx and the SSE glue work under the strict CSP: the payload events arrive live
after the pages are open, and the browser reports no CSP violation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.support import event, running_server, unique_settings

PAYLOADS = [
    "<script>window.__pwned='script'</script>",
    "<img src=x onerror=\"window.__pwned='img'\">",
    '"><svg onload="window.__pwned=\'svg\'">',
    "'><iframe srcdoc=\"<script>parent.__pwned='iframe'</script>\"></iframe>",
    "javascript:window.__pwned='href'",
    "</textarea></template><script>window.__pwned='template'</script>",
]
CANARY = """() => {
  window.__csp = [];
  document.addEventListener("securitypolicyviolation",
    (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
}"""
INJECTED = """() => ({
  pwned: window.__pwned === undefined ? null : String(window.__pwned),
  csp: window.__csp || [],
  handlers: document.querySelectorAll("[onerror],[onload],[onclick],iframe,object,embed").length,
  imgs: document.querySelectorAll("img").length,
  svgs: [...document.querySelectorAll("svg")].filter(
    (s) => !s.closest(".js-plotly-plot") && s.id !== "js-plotly-tester").length,  // Plotly's own
  scripts: [...document.scripts].filter(
    (s) => !/^\\/(vendor|static)\\//.test(new URL(s.src || "x:", location.href).pathname)).length,
  text: document.body.innerText,
})"""


def _now() -> datetime:
    return datetime.now(UTC)


def hostile_events(i: int, p: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(topic kind, key, event) carrying payload `p` in every text field, ids included."""
    wo = {
        "work_order_id": f"WO{i}{p}",
        "status": "ON_HOLD",
        "line_id": f"L{i}{p}",
        "product": p,
        "previous_status": p,
        "operator": p,
        "reason": p,
        "quantity_planned": 10,
        "quantity_done": 1,
    }
    eq = {"equipment_id": f"M{i}{p}", "status": "DOWN", "line_id": f"L{i}{p}", "reason": p}
    sensor = {"equipment_id": f"M{i}{p}", "sensor": p, "value": 1.5, "unit": p}
    stock = {"sku": f"S{i}{p}", "location": f"B{i}{p}", "delta": 5, "reason": "RECEIPT", "warehouse": p}
    order = {
        "order_id": f"O{i}{p}",
        "customer": p,
        "priority": p,
        "due_at": "2000-01-01T00:00:00Z",
        "lines": [{"sku": p, "qty": 1}],
    }
    failed = {"order_id": f"O{i}{p}", "reason": p}
    checked = {
        "inspection_id": f"Q{i}{p}",
        "work_order_id": wo["work_order_id"],
        "line_id": f"L{i}{p}",
        "result": "FAIL",
        "defects": [{"code": p, "count": 1}],
        "inspector": p,
    }
    src = f"e2e/{p}"
    return [
        ("work_orders", wo["work_order_id"], event("WorkOrderStatusChanged", wo, source=src, at=_now())),
        ("equipment", eq["equipment_id"], event("EquipmentStatusChanged", eq, source=src, at=_now())),
        ("sensors", eq["equipment_id"], event("SensorReading", sensor, source=src, at=_now())),
        ("inventory", stock["sku"], event("InventoryAdjusted", stock, source=src, at=_now())),
        ("outbound", order["order_id"], event("OrderCreated", order, source=src, at=_now())),
        ("outbound", order["order_id"], event("PaymentFailed", failed, source=src, at=_now())),
        ("quality", checked["inspection_id"], event("InspectionRecorded", checked, source=src, at=_now())),
        (
            "work_orders",
            p,
            event(p, {"work_order_id": p}, source=src, at=_now()),
        ),  # unknown type: dead letter
    ]


async def test_markup_in_every_field_stays_text(kafka, producer, browser, sqlite_url) -> None:  # type: ignore[no-untyped-def]
    settings = unique_settings(kafka, sqlite_url, push_interval_seconds=0.1)
    topics = {
        "work_orders": settings.topic_work_orders,
        "equipment": settings.topic_equipment,
        "sensors": settings.topic_sensors,
        "inventory": settings.topic_inventory,
        "outbound": settings.topic_outbound,
        "quality": settings.topic_quality,
    }
    pages = ["/", "/work-orders", "/inventory", "/outbound", "/equipment", "/quality", "/dead-letters"]
    with running_server(settings) as url:
        context = await browser.new_context(viewport={"width": 1600, "height": 1000})
        await context.add_init_script(f"({CANARY})()")
        errors: list[str] = []

        async def open_page(path: str) -> Any:
            page = await context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(url + path)
            await page.wait_for_selector('#connection[data-state="live"]', timeout=20_000)
            return page

        board = await open_page("/work-orders")
        sent = 0
        for i, payload in enumerate(PAYLOADS):
            for kind, key, evt in hostile_events(i, payload):
                await producer.event(topics[kind], key, evt)
                sent += 1
        # Live: the payloads arrive on the open board through SSE patches (htmx under the CSP).
        await board.wait_for_function(
            "(t) => document.body.innerText.includes(t)", arg=PAYLOADS[-1], timeout=30_000
        )
        live = await board.evaluate(INJECTED)
        assert live["pwned"] is None and live["handlers"] == 0 and live["csp"] == [], live  # htmx ok
        await board.close()
        for path in pages:  # one at a time: each page holds an SSE connection (6 per host in Chromium)
            page = await open_page(path)
            seen = await page.evaluate(INJECTED)
            assert seen["pwned"] is None, f"{path}: script ran ({seen['pwned']})"
            assert seen["handlers"] == 0 and seen["imgs"] == 0 and seen["svgs"] == 0, (path, seen)
            assert seen["scripts"] == 0, f"{path}: inline or foreign script element"
            # Plotly's own injected <style> is refused by style-src 'self' (cosmetic); no script may be.
            scripts_refused = [v for v in seen["csp"] if v.startswith("script-src")]
            assert scripts_refused == [], f"{path}: CSP refused scripts {scripts_refused}"
            if path in ("/work-orders", "/equipment", "/outbound", "/quality", "/dead-letters"):
                for payload in PAYLOADS:
                    # Dead letters show the raw JSON, where quotes are backslash-escaped.
                    shown = payload if path != "/dead-letters" else payload.split('"')[0]
                    assert shown in seen["text"], f"{path}: payload not shown as text: {payload}"
            await page.close()
        await context.close()
        assert errors == []
    print(f"\nhostile markup: {sent} events x {len(pages)} pages, no script ran, nothing injected")
