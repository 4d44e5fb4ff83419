// shopfloor browser glue: applies server-rendered row patches from SSE, keeps lanes bounded, shows
// connection state (body[data-connection]), data age and per-widget age. No inline script anywhere,
// so the Content-Security-Policy stays strict.
(function () {
  "use strict";
  const STALE_AFTER_MS = 10000; // two heartbeats (the server sends one every 5 s)
  const WIDGET_AGED_MS = 10000;
  let lastFrameAt = 0;
  let lastEventMs = null;
  let serverHealthy = true;
  let staleReason = "";
  let lastVersion = null;
  let storeEpoch = null;
  let disconnected = false;

  const isKiosk = () => document.body && document.body.hasAttribute("data-kiosk");
  // A past view (?at=) is not live: no connection state, and every request it makes asks for the same moment.
  const pastAt = () => (document.body && document.body.dataset.past ? new Date(Number(document.body.dataset.past)).toISOString() : null);
  const liveRoot = () => (pastAt() ? null : document.getElementById("live-root"));
  // The page's "now": a past view's moment, else the clock. Every countdown and flag that moves with
  // time counts from it, so a past view shows them as they stood then.
  const pageNow = () => (pastAt() ? Number(document.body.dataset.past) : Date.now());
  window.shopfloorNow = pageNow;
  window.shopfloorPastAt = pastAt; // what a request of its own (not htmx's) must add as `at`
  document.addEventListener("htmx:configRequest", function (evt) {
    const at = pastAt();
    if (at && evt.detail.verb === "get") evt.detail.parameters.at = at;
  });

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

  const HX = "[hx-get], [hx-post], [hx-trigger], [sse-connect], [sse-swap], [hx-ext]";

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

  function sameRow(a, b) {
    return a.outerHTML === b.outerHTML;
  }

  // A changed row is highlighted, then fades in one step, then clears. The steps ride on the next
  // patches (one repaint for all of them), with one timer for a board that has gone quiet: a CSS
  // animation, or timers per row, repainted the page every frame while any row was fading, which at
  // 20 changes a second kept a wall screen's browser busy all the time and delayed every update.
  const FADE_AFTER_MS = 700;
  const CLEAR_AFTER_MS = 1500;
  const flashing = new Map(); // element -> when it was highlighted
  let flashTimer = null;
  function ageFlashes() {
    const now = performance.now();
    let next = Infinity; // the soonest step still to take
    for (const [el, at] of flashing) {
      const age = now - at;
      if (age >= CLEAR_AFTER_MS) {
        el.classList.remove("flash", "fading");
        flashing.delete(el);
      } else if (age >= FADE_AFTER_MS) {
        if (!el.classList.contains("fading")) el.classList.add("fading");
        next = Math.min(next, at + CLEAR_AFTER_MS);
      } else {
        next = Math.min(next, at + FADE_AFTER_MS);
      }
    }
    if (flashTimer !== null) clearTimeout(flashTimer);
    flashTimer = next === Infinity ? null : setTimeout(ageFlashes, Math.max(20, next - now));
  }
  function flash(el) {
    el.classList.remove("fading");
    el.classList.add("flash");
    flashing.set(el, performance.now());
    if (flashTimer === null) flashTimer = setTimeout(ageFlashes, FADE_AFTER_MS);
  }
  window.shopfloorFlash = flash;

  // "No open orders" notes show while the list they stand for is empty (a :has() rule did this,
  // but made the browser restyle the whole board on every row patch).
  function applyEmptyNotes() {
    for (const note of document.querySelectorAll("[data-empty-for]")) {
      const list = document.getElementById(note.dataset.emptyFor);
      const empty = !list || !list.firstElementChild;
      if (note.hidden === empty) note.hidden = !empty;
    }
  }

  function applyPatch(html) {
    const holder = document.createElement("template");
    holder.innerHTML = html;
    const stamp = holder.content.querySelector("template[data-event-ms]");
    if (stamp) lastEventMs = Number(stamp.dataset.eventMs);
    const root = liveRoot();
    const mayReload = root && !root.hasAttribute("data-filtered");
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
      if (existing && sameRow(existing, el)) continue;
      if (container && existing && existing.parentElement === container && existing.dataset.sort === el.dataset.sort) {
        existing.replaceWith(el); // same place: no reorder on a progress tick
      } else if (container) {
        if (existing) existing.remove();
        insertSorted(container, el);
      } else if (existing && !t.dataset.into) {
        existing.replaceWith(el);
      } else {
        // nowhere to put it (its lane, or the row itself, is new to this page): the board comes again
        if (existing) existing.remove();
        if (t.dataset.missing === "reload" && mayReload) needReload = true;
      }
      if (el.isConnected) {
        for (const cell of el.querySelectorAll("[data-ago-ms]")) cell.textContent = agoText(Date.now() - Number(cell.dataset.agoMs));
        if (el.dataset.sort !== undefined || el.dataset.sku !== undefined) flash(el);
        if (window.htmx && (el.matches(HX) || el.querySelector(HX))) htmx.process(el);
      }
    }
    ageFlashes();
    applyCaps();
    applyEmptyNotes();
    keepHeights();
    if (needReload) reloadRoot();
  }

  // A container with data-cap keeps at most that many rows (they are sorted, so the tail goes);
  // its "N more" note counts the rest from the total the server keeps current.
  function applyCaps() {
    for (const box of document.querySelectorAll("[data-cap]")) {
      const cap = Number(box.dataset.cap);
      while (box.children.length > cap) box.lastElementChild.remove();
      const totalEl = box.dataset.totalFrom ? document.getElementById(box.dataset.totalFrom) : null;
      const note = box.dataset.more ? document.getElementById(box.dataset.more) : null;
      if (!totalEl || !note) continue;
      const shown = box.querySelectorAll(":scope > :not([hidden])").length;
      const rest = Math.max(0, Number(totalEl.dataset.total || 0) - shown);
      note.dataset.count = String(rest);
      note.textContent = rest > 0 ? "+" + rest + " more " + (note.dataset.label || "") : "";
      note.hidden = rest === 0;
    }
  }

  // Sections marked data-keep-height never shrink while the page is open: a row leaving one lane
  // does not pull every lane below it up (and push it down again with the next arrival).
  let heightsQueued = false;
  function keepHeights() {
    if (heightsQueued) return;
    heightsQueued = true;
    requestAnimationFrame(function () {
      heightsQueued = false;
      measureHeights();
    });
  }
  function measureHeights() {
    if (isKiosk()) {
      kioskFit();
      return;
    }
    for (const el of document.querySelectorAll("[data-keep-height]")) {
      const h = el.getBoundingClientRect().height;
      const kept = Number(el.dataset.keptHeight || 0);
      if (h > kept) {
        el.dataset.keptHeight = String(h);
        el.style.minHeight = h + "px";
      }
    }
  }

  // A kiosk cannot scroll: when the rows do not fit the screen, the oldest finished rows go first,
  // then the last open rows of each lane, and each lane says how many it is not showing.
  const FIT_ORDER = [
    "tbody.done, .stage-lane.final .order-list, #alert-list",
    "tbody.open, .stage-lane:not(.final) .order-list, #stock-rows, #low-rows",
    "#ob-attention-list, [data-kiosk-shrink]",
  ];
  function fitNotes() {
    for (const note of document.querySelectorAll("[data-fit-for]")) {
      const box = document.getElementById(note.dataset.fitFor);
      const kioskHidden = box ? box.querySelectorAll(":scope > [data-kiosk-hidden]").length : 0;
      const hidden = kioskHidden + Number(note.dataset.beyond || 0);
      note.hidden = hidden === 0;
      note.textContent = hidden ? "+" + hidden + " " + (note.dataset.label || "more open, not shown") : "";
    }
  }

  // Boards marked data-kiosk-shrink (line bands, downtime charts) first take smaller type, a step at
  // a time (body[data-kiosk-step] in the CSS), before any of their parts is left out.
  const SHRINK_STEPS = 3;
  function kioskShrink(page) {
    delete document.body.dataset.kioskStep;
    if (!document.querySelector("[data-kiosk-shrink]")) return;
    for (let step = 1; step <= SHRINK_STEPS && page.scrollHeight > window.innerHeight + 1; step++) {
      document.body.dataset.kioskStep = String(step);
    }
  }

  function kioskFit() {
    for (const el of document.querySelectorAll("[data-kiosk-hidden]")) {
      el.hidden = false;
      delete el.dataset.kioskHidden;
    }
    fitNotes();
    applyCaps();
    const page = document.body; // the kiosk's body clips; its scroll height is what the rows need
    kioskShrink(page);
    // Hiding rows shows "+N" notes, which take room too: repeat until it fits or nothing is left.
    for (let round = 0; round < 3 && page.scrollHeight > window.innerHeight + 1; round++) {
      for (const part of FIT_ORDER) {
        const boxes = Array.from(document.querySelectorAll(part));
        while (page.scrollHeight > window.innerHeight + 1) {
          // the list with the most rows still showing gives up its last one
          let longest = null;
          for (const box of boxes) {
            const rows = box.querySelectorAll(":scope > :not([hidden])");
            if (rows.length && (!longest || rows.length > longest.length)) longest = rows;
          }
          if (!longest) break;
          const row = longest[longest.length - 1];
          row.hidden = true;
          row.dataset.kioskHidden = "1";
        }
      }
      fitNotes();
      applyCaps();
    }
  }

  function reloadRoot() {
    const root = liveRoot();
    if (!root || !root.dataset.boardUrl || !window.htmx) return;
    htmx.ajax("GET", root.dataset.boardUrl, { target: "#board", swap: "outerHTML" });
  }

  function banner() {
    let el = document.getElementById("conn-banner");
    if (!el) {
      el = document.createElement("div");
      el.id = "conn-banner";
      el.setAttribute("role", "alert");
      document.body.insertBefore(el, document.body.firstChild);
    }
    return el;
  }

  function setConnection(state, label) {
    if (!liveRoot() || disconnected) return;
    if (document.body.dataset.connection !== state) document.body.dataset.connection = state;
    const el = document.getElementById("connection");
    if (el) {
      el.dataset.state = state;
      el.querySelector(".conn-label").textContent = label;
    }
    const b = banner();
    if (state === "live") {
      b.hidden = true;
      return;
    }
    b.hidden = false;
    const age = lastEventMs ? "data from " + agoText(Date.now() - lastEventMs) : "no data yet";
    const what = state === "offline" ? "Connection lost, reconnecting" : "Not live: " + label;
    const text = what + " — " + age;
    if (b.textContent !== text) b.textContent = text;
  }

  function agoText(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + "s ago";
    if (s < 3600) return Math.floor(s / 60) + "m ago";
    if (s >= 86400) return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h ago";
    return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m ago";
  }

  function refreshFreshness() {
    const now = pageNow();
    const fresh = document.getElementById("freshness");
    if (lastEventMs === null && fresh && fresh.dataset.lastEventMs) lastEventMs = Number(fresh.dataset.lastEventMs);
    if (fresh) fresh.textContent = lastEventMs ? "data " + agoText(now - lastEventMs) : "no data yet";
    const state = document.body.dataset.connection;
    if (state === "live" || state === "stale") {
      const silent = lastFrameAt && now - lastFrameAt > STALE_AFTER_MS;
      if (silent) setConnection("stale", "no heartbeat for " + agoText(now - lastFrameAt).replace(" ago", ""));
      else if (!serverHealthy) setConnection("stale", staleReason || "server reports stale data");
      else setConnection("live", "live");
    } else if (state === "offline") {
      setConnection("offline", "reconnecting…");
    }
    for (const cell of document.querySelectorAll("[data-ago-ms]")) {
      const text = agoText(now - Number(cell.dataset.agoMs));
      if (cell.textContent !== text) cell.textContent = text;
    }
    // Per-widget age: a widget whose own data is older than a few seconds says so.
    for (const w of document.querySelectorAll("[data-fresh-ms]")) {
      const age = now - Number(w.dataset.freshMs);
      const aged = age > WIDGET_AGED_MS;
      let badge = w.querySelector(":scope > .widget-age");
      if (aged && !badge) {
        badge = document.createElement("span");
        badge.className = "widget-age";
        w.appendChild(badge);
      }
      if (badge) {
        const text = aged ? "as of " + agoText(age) : ""; // words: the plant's fonts lack a clock glyph
        if (badge.textContent !== text) badge.textContent = text;
        badge.hidden = !aged;
      }
      if (aged) w.dataset.aged = "true";
      else delete w.dataset.aged;
    }
  }

  function showDisconnected() {
    disconnected = true;
    document.body.dataset.connection = "offline";
    const box = document.getElementById("screen-disconnected-template"); // the server's own words
    if (box && !document.getElementById("screen-disconnected")) document.body.appendChild(box.content.cloneNode(true));
    const source = liveRoot() && liveRoot()["htmx-internal-data"];
    if (source && source.sseEventSource) source.sseEventSource.close();
  }

  function sessionOver() {
    if (isKiosk()) showDisconnected();
    else window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
  }

  // An EventSource error hides the HTTP status: ask the stream once, and look at the answer's head.
  function probeStream() {
    const root = liveRoot();
    const url = root && root.getAttribute("sse-connect");
    if (!url || disconnected) return;
    const ctl = new AbortController();
    fetch(url, { credentials: "same-origin", signal: ctl.signal, redirect: "manual" })
      .then(function (res) {
        ctl.abort();
        if (res.status === 401 || res.status === 403 || res.type === "opaqueredirect") sessionOver();
      })
      .catch(function () {});
  }

  function reloadPage() {
    if (!isKiosk()) {
      window.location.reload();
      return;
    }
    fetch(location.href, { credentials: "same-origin", redirect: "manual" })
      .then(function (res) {
        if (res.ok) window.location.reload();
        else sessionOver();
      })
      .catch(function () {});
  }

  function applyStatus(data) {
    const status = JSON.parse(data);
    if (status.session === "ended") {
      sessionOver();
      return;
    }
    if (status.epoch) {
      if (storeEpoch && status.epoch !== storeEpoch) {
        reloadPage(); // a different store: what is on screen may not exist there
        return;
      }
      storeEpoch = status.epoch;
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
    lastFrameAt = Date.now();
    if (msg.type === "status") applyStatus(msg.data);
    if (disconnected) return;
    if (msg.lastEventId) lastVersion = Number(msg.lastEventId);
    if (msg.type === "patch") applyPatch(msg.data);
    else if (msg.type === "reload") reloadRoot();
    if (msg.type !== "status" && document.body.dataset.connection !== "live" && serverHealthy) setConnection("live", "live");
    document.dispatchEvent(new CustomEvent("shopfloor:frame", { detail: { type: msg.type, at: performance.now() } }));
  });
  document.addEventListener("htmx:sseOpen", function () {
    lastFrameAt = Date.now();
    setConnection("live", "live");
  });
  document.addEventListener("htmx:sseError", function () {
    setConnection("offline", "reconnecting…");
    probeStream();
  });
  document.addEventListener("htmx:afterSwap", function () {
    applyCaps();
    applyEmptyNotes();
    keepHeights();
  });
  window.addEventListener("resize", keepHeights);
  document.addEventListener("change", function (evt) {
    const target = evt.target;
    if (target.matches && target.matches("[data-autosubmit]")) target.form.requestSubmit();
  });
  document.addEventListener("DOMContentLoaded", function () {
    const root = liveRoot();
    if (root && root.dataset.version) lastVersion = Number(root.dataset.version);
    if (document.body.dataset.storeEpoch) storeEpoch = document.body.dataset.storeEpoch;
    if (root) {
      document.body.dataset.connection = "offline";
      setConnection("offline", "connecting…");
    }
    applyCaps();
    keepHeights();
    refreshFreshness();
    setInterval(refreshFreshness, 1000);
  });
})();
