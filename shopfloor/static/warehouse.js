// Warehouse pages (inventory, outbound): small additions to shopfloor.js, no inline script.
// - inventory: a patch says which SKUs are low now; every row of that SKU on the page follows.
// - outbound: the server sends each open order's due and stuck deadlines; the flags flip here
//   when the deadline passes, so the page needs no polling; a filtered page drops rows that
//   a shared patch inserted but that do not match its search.
// - outbound: each card's "in 12 min" / "12 min late" countdown, and the late / stuck counts, which
//   the server sends with the instants the next orders cross their deadlines.
(function () {
  "use strict";

  function applySkuStates(html) {
    if (html.indexOf("data-sku-state") < 0) return;
    const holder = document.createElement("template");
    holder.innerHTML = html;
    for (const t of holder.content.querySelectorAll("template[data-sku-state]")) {
      const sku = t.dataset.skuState;
      for (const row of document.querySelectorAll('tr[data-sku="' + CSS.escape(sku) + '"]')) {
        row.dataset.low = t.dataset.low;
        const total = row.querySelector("[data-sku-total]");
        if (total) total.textContent = t.dataset.total;
      }
    }
  }

  // A new SKU x location joins the page in its sorted place when it falls inside this page's window
  // (a page sorted by on-hand or showing low stock only waits for its next load).
  function rowKey(row, by) {
    return by === "location" ? [row.dataset.location, row.dataset.sku] : [row.dataset.sku, row.dataset.location];
  }
  function before(a, b) {
    return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  }
  function insertStockRows(html) {
    if (html.indexOf("data-stock-row") < 0) return;
    const body = document.getElementById("stock-rows");
    if (!body || body.dataset.sortBy === "on_hand" || body.hasAttribute("data-low-only")) return;
    const by = body.dataset.sortBy;
    const q = (body.dataset.q || "").toLowerCase();
    const holder = document.createElement("template");
    holder.innerHTML = html;
    for (const t of holder.content.querySelectorAll("template[data-stock-row]")) {
      const row = t.content.firstElementChild;
      if (!row || document.getElementById(row.id)) continue;
      if (q && row.dataset.sku.toLowerCase().indexOf(q) < 0 && row.dataset.location.toLowerCase().indexOf(q) < 0) continue;
      const rows = Array.from(body.querySelectorAll("tr[data-sku]"));
      const key = rowKey(row, by);
      if (rows.length && before(key, rowKey(rows[0], by)) && body.dataset.firstPage !== "true") continue;
      if (rows.length && before(rowKey(rows[rows.length - 1], by), key) && body.dataset.lastPage !== "true") continue;
      if (!rows.length && body.dataset.firstPage !== "true") continue;
      const next = rows.find(function (r) { return before(key, rowKey(r, by)); });
      for (const placeholder of body.querySelectorAll("tr.empty-row")) placeholder.remove();
      body.insertBefore(row, next || null);
      window.shopfloorFlash(row); // shopfloor.js, loaded (deferred) before this file
      const cap = Number(body.dataset.pageRows || 50);
      const now = body.querySelectorAll("tr[data-sku]");
      if (now.length > cap) now[now.length - 1].remove();
    }
  }

  function applyFilter() {
    const root = document.getElementById("live-root");
    if (!root || root.dataset.q === undefined) return;
    const q = root.dataset.q.toLowerCase();
    for (const card of root.querySelectorAll("[data-order]")) {
      if (card.dataset.order.toLowerCase().indexOf(q) < 0) card.remove();
    }
  }

  function flipDeadlines() {
    const now = window.shopfloorNow(); // a past view's moment, else the clock
    for (const card of document.querySelectorAll("[data-due-ms]")) {
      if (card.dataset.late !== "1" && now > Number(card.dataset.dueMs)) card.dataset.late = "1";
    }
    for (const card of document.querySelectorAll("[data-stuck-at-ms]")) {
      if (card.dataset.stuck !== "1" && now > Number(card.dataset.stuckAtMs)) card.dataset.stuck = "1";
    }
  }

  function countdown(ms) {
    const min = Math.round(Math.abs(ms) / 60000);
    const text = min < 60 ? min + " min" : Math.floor(min / 60) + " h " + (min % 60) + " min";
    return ms >= 0 ? "in " + text : text + " late";
  }
  function refreshCountdowns() {
    const now = window.shopfloorNow(); // a past view's moment, else the clock
    for (const el of document.querySelectorAll("[data-countdown-ms]")) {
      const text = countdown(Number(el.dataset.countdownMs) - now);
      if (el.textContent !== text) el.textContent = text;
    }
    for (const flag of document.querySelectorAll("#ob-pipeline [data-flips]")) {
      const flips = flag.dataset.flips ? flag.dataset.flips.split(" ") : [];
      let passed = 0;
      for (const at of flips) if (now > Number(at)) passed += 1;
      const count = String(Number(flag.dataset.base) + passed);
      if (flag.dataset.count !== count) {
        flag.dataset.count = count;
        const n = flag.querySelector(".n");
        if (n) n.textContent = count;
      }
    }
  }

  function showTimeline() {
    const panel = document.getElementById("timeline");
    if (panel && window.matchMedia("(max-width: 900px)").matches) panel.scrollIntoView({ block: "start" });
  }

  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    if (evt.detail && evt.detail.type === "patch") {
      insertStockRows(evt.detail.data);
      applySkuStates(evt.detail.data);
    }
  });
  document.addEventListener("shopfloor:frame", applyFilter);
  document.addEventListener("shopfloor:frame", refreshCountdowns);
  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.detail && evt.detail.target && evt.detail.target.id === "timeline") showTimeline();
    if (evt.detail && evt.detail.target && evt.detail.target.id === "board") applyFilter();
  });
  document.addEventListener("DOMContentLoaded", function () {
    flipDeadlines();
    refreshCountdowns();
    setInterval(flipDeadlines, 1000);
    setInterval(refreshCountdowns, 1000);
  });
})();
