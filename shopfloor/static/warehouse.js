// Warehouse pages (inventory, outbound): small additions to shopfloor.js, no inline script.
// - inventory: a patch says which SKUs are low now; every row of that SKU on the page follows.
// - outbound: the server sends each open order's due and stuck deadlines; the flags flip here
//   when the deadline passes, so the page needs no polling; a filtered page drops rows that
//   a shared patch inserted but that do not match its search.
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

  function applyFilter() {
    const root = document.getElementById("live-root");
    if (!root || root.dataset.q === undefined) return;
    const q = root.dataset.q.toLowerCase();
    for (const card of root.querySelectorAll("[data-order]")) {
      if (card.dataset.order.toLowerCase().indexOf(q) < 0) card.remove();
    }
  }

  function flipDeadlines() {
    const now = Date.now();
    for (const card of document.querySelectorAll("[data-due-ms]")) {
      if (card.dataset.late !== "1" && now > Number(card.dataset.dueMs)) card.dataset.late = "1";
    }
    for (const card of document.querySelectorAll("[data-stuck-at-ms]")) {
      if (card.dataset.stuck !== "1" && now > Number(card.dataset.stuckAtMs)) card.dataset.stuck = "1";
    }
  }

  function showTimeline() {
    const panel = document.getElementById("timeline");
    if (panel && window.matchMedia("(max-width: 900px)").matches) panel.scrollIntoView({ block: "start" });
  }

  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    if (evt.detail && evt.detail.type === "patch") applySkuStates(evt.detail.data);
  });
  document.addEventListener("shopfloor:frame", applyFilter);
  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.detail && evt.detail.target && evt.detail.target.id === "timeline") showTimeline();
    if (evt.detail && evt.detail.target && evt.detail.target.id === "board") applyFilter();
  });
  document.addEventListener("DOMContentLoaded", function () {
    flipDeadlines();
    setInterval(flipDeadlines, 1000);
  });
})();
