// shopfloor browser glue: applies server-rendered row patches from SSE, shows connection state
// and data freshness. No inline script anywhere, so the Content-Security-Policy stays strict.
(function () {
  "use strict";
  const STALE_AFTER_MS = 15000;
  let lastStatusAt = 0;
  let lastEventMs = null;
  let serverHealthy = true;
  let lastVersion = null;

  // Reconnects resume from the last version seen, not from the page's first version.
  function patchEventSourceFactory() {
    if (!window.htmx) return;
    htmx.createEventSource = function (url) {
      if (lastVersion !== null) {
        const u = new URL(url, window.location.href);
        u.searchParams.set("since", lastVersion);
        url = u.pathname + u.search;
      }
      return new EventSource(url, { withCredentials: true });
    };
  }

  function insertSorted(container, el) {
    const key = el.dataset.sort;
    if (key !== undefined) {
      for (const child of container.children) {
        if (child.dataset.sort !== undefined && child.dataset.sort > key) {
          container.insertBefore(el, child);
          return;
        }
      }
    }
    container.appendChild(el);
  }

  function applyPatch(html) {
    const holder = document.createElement("template");
    holder.innerHTML = html;
    const root = document.getElementById("live-root");
    let needReload = false;
    for (const t of holder.content.querySelectorAll("template")) {
      if (t.dataset.remove) {
        const gone = document.getElementById(t.dataset.remove);
        if (gone) gone.remove();
        continue;
      }
      const el = t.content.firstElementChild;
      if (!el || !el.id) continue;
      const existing = document.getElementById(el.id);
      const container = t.dataset.into ? document.getElementById(t.dataset.into) : null;
      if (t.dataset.into) {
        if (existing) existing.remove();
        if (container) insertSorted(container, el);
        else if (t.dataset.missing === "reload" && root && !root.hasAttribute("data-filtered")) needReload = true;
      } else if (existing) {
        existing.replaceWith(el);
      }
      if (window.htmx && el.isConnected) htmx.process(el);
    }
    if (needReload) reloadRoot();
  }

  function reloadRoot() {
    const root = document.getElementById("live-root");
    if (!root || !root.dataset.boardUrl || !window.htmx) return;
    htmx.ajax("GET", root.dataset.boardUrl, { target: "#board", swap: "outerHTML" });
  }

  function setConnection(state, label) {
    const el = document.getElementById("connection");
    if (!el) return;
    el.dataset.state = state;
    el.querySelector(".conn-label").textContent = label;
  }

  function agoText(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + "s ago";
    if (s < 3600) return Math.floor(s / 60) + "m ago";
    return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m ago";
  }

  function refreshFreshness() {
    const fresh = document.getElementById("freshness");
    const conn = document.getElementById("connection");
    if (!fresh || !conn) return;
    const now = Date.now();
    if (lastEventMs === null && fresh.dataset.lastEventMs) lastEventMs = Number(fresh.dataset.lastEventMs);
    fresh.textContent = lastEventMs ? "data " + agoText(now - lastEventMs) : "no data yet";
    const live = conn.dataset.state === "live" || conn.dataset.state === "stale";
    if (live) {
      const silent = lastStatusAt && now - lastStatusAt > STALE_AFTER_MS;
      if (!serverHealthy || silent) setConnection("stale", serverHealthy ? "no heartbeat" : "stale: " + staleReason);
      else setConnection("live", "live");
    }
    for (const cell of document.querySelectorAll("[data-ago-ms]")) {
      cell.textContent = agoText(now - Number(cell.dataset.agoMs));
    }
  }

  let staleReason = "";
  function applyStatus(data) {
    lastStatusAt = Date.now();
    const status = JSON.parse(data);
    if (status.session === "ended") {
      // Signed out, expired or revoked (kiosk): the server closed the stream; sign in again.
      window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
      return;
    }
    if (status.last_event_ms) lastEventMs = status.last_event_ms;
    if (status.version !== undefined) lastVersion = Math.max(lastVersion || 0, status.version);
    serverHealthy = status.healthy !== false;
    staleReason = status.reason || "";
    refreshFreshness();
  }

  patchEventSourceFactory();
  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    const msg = evt.detail;
    evt.preventDefault();
    if (msg.lastEventId) lastVersion = Number(msg.lastEventId);
    if (msg.type === "patch") applyPatch(msg.data);
    else if (msg.type === "reload") reloadRoot();
    else if (msg.type === "status") applyStatus(msg.data);
    document.dispatchEvent(new CustomEvent("shopfloor:frame", { detail: { type: msg.type, at: performance.now() } }));
  });
  document.addEventListener("htmx:sseOpen", function () {
    lastStatusAt = Date.now();
    setConnection("live", "live");
  });
  document.addEventListener("htmx:sseError", function () { setConnection("offline", "reconnecting…"); });
  document.addEventListener("change", function (evt) {
    const target = evt.target;
    if (target.matches && target.matches("[data-autosubmit]")) target.form.requestSubmit();
  });
  document.addEventListener("DOMContentLoaded", function () {
    const root = document.getElementById("live-root");
    if (root && root.dataset.version) lastVersion = Number(root.dataset.version);
    refreshFreshness();
    setInterval(refreshFreshness, 1000);
  });
})();
