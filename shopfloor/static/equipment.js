// Equipment page: live Plotly trends extended in place (bounded points), countdowns to predicted
// failures, and a bounded alert list. Tiles and alerts arrive as server-rendered patches handled
// by shopfloor.js; this file never builds markup from event data.
(function () {
  "use strict";
  const MAX_POINTS = 600; // 10 min of per-second buckets: a page open for days stays the same size
  const MAX_ALERTS = 150;
  const plots = new Map(); // sensor -> plot element
  let lastBucket = 0;
  let stream = null;

  function minutesText(ms) {
    const min = Math.round(ms / 60000);
    if (ms <= 0) return "now";
    if (min < 1) return "in <1 min";
    if (min < 120) return "in ~" + min + " min";
    return "in ~" + Math.round(min / 60) + " h";
  }

  function refreshCountdowns() {
    const now = Date.now();
    for (const el of document.querySelectorAll("[data-until-ms]")) {
      el.textContent = minutesText(Number(el.dataset.untilMs) - now);
    }
  }

  function trimAlerts() {
    const list = document.getElementById("alert-list");
    if (!list) return;
    while (list.children.length > MAX_ALERTS) list.lastElementChild.remove();
  }

  function columns(points) {
    const x = [], lo = [], avg = [], hi = [];
    for (const p of points) {
      x.push(new Date(p[0]));
      lo.push(p[1]);
      avg.push(p[2]);
      hi.push(p[3]);
    }
    return { x: x, lo: lo, avg: avg, hi: hi };
  }

  function newPlot(el, points, limit) {
    const c = columns(points);
    const band = { color: "rgba(121,192,255,0.35)", width: 1 };
    const traces = [
      { x: c.x, y: c.lo, name: "min", mode: "lines", line: band, hoverinfo: "skip" },
      { x: c.x, y: c.hi, name: "max", mode: "lines", line: band, fill: "tonexty", fillcolor: "rgba(121,192,255,0.15)", hoverinfo: "skip" },
      { x: c.x, y: c.avg, name: "avg", mode: "lines", line: { color: "#79c0ff", width: 2 } },
    ];
    const layout = {
      margin: { l: 40, r: 10, t: 5, b: 25 }, showlegend: false, paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)", font: { color: "#8b98a5", size: 11 },
      xaxis: { gridcolor: "#2a3441" }, yaxis: { gridcolor: "#2a3441" }, shapes: [],
    };
    if (limit) {
      layout.shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: limit, y1: limit,
        line: { color: "#f85149", width: 1, dash: "dash" } });
    }
    return Plotly.newPlot(el, traces, layout, { displayModeBar: false, responsive: true, staticPlot: false });
  }

  function extend(points) {
    for (const sensor of Object.keys(points)) {
      const el = plots.get(sensor);
      const fresh = points[sensor].filter(function (p) { return p[0] > (Number(el && el.dataset.last) || 0); });
      if (!el || !fresh.length) continue;
      const c = columns(fresh);
      Plotly.extendTraces(el, { x: [c.x, c.x, c.x], y: [c.lo, c.hi, c.avg] }, [0, 1, 2], MAX_POINTS);
      el.dataset.last = String(fresh[fresh.length - 1][0]);
      const latest = document.querySelector('[data-latest-for="' + CSS.escape(sensor) + '"]');
      if (latest) latest.textContent = fresh[fresh.length - 1][2].toFixed(2);
      const caption = latest && latest.closest("[data-fresh-ms]");
      if (caption) caption.dataset.freshMs = String(fresh[fresh.length - 1][0] + 1000); // bucket end
      lastBucket = Math.max(lastBucket, fresh[fresh.length - 1][0]);
    }
  }

  function connect(panel) {
    if (stream) stream.close();
    const url = new URL(panel.dataset.streamUrl, window.location.href);
    if (lastBucket) url.searchParams.set("since", String(lastBucket));
    stream = new EventSource(url.pathname + url.search);
    stream.addEventListener("points", function (evt) {
      extend(JSON.parse(evt.data));
      document.dispatchEvent(new CustomEvent("shopfloor:trend", { detail: { at: performance.now() } }));
    });
    stream.addEventListener("error", function () {
      // EventSource reconnects by itself; resume after the newest bucket already drawn.
      if (stream.readyState === EventSource.CLOSED) setTimeout(function () { connect(panel); }, 2000);
    });
  }

  async function startTrends() {
    const panel = document.getElementById("trend-panel");
    if (!panel || !window.Plotly) return;
    const response = await fetch(panel.dataset.trendUrl, { credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    for (const el of panel.querySelectorAll("[data-plot-for]")) {
      const sensor = el.dataset.plotFor;
      const series = data.sensors[sensor];
      const points = series ? series.points.slice(-MAX_POINTS) : [];
      await newPlot(el, points, series ? series.limit : Number(el.dataset.limit) || null);
      el.dataset.last = points.length ? String(points[points.length - 1][0]) : "0";
      if (points.length) lastBucket = Math.max(lastBucket, points[points.length - 1][0]);
      plots.set(sensor, el);
    }
    panel.dataset.ready = "true";
    connect(panel);
  }

  document.addEventListener("shopfloor:frame", function () {
    trimAlerts();
    refreshCountdowns();
  });
  document.addEventListener("DOMContentLoaded", function () {
    refreshCountdowns();
    setInterval(refreshCountdowns, 5000);
    startTrends();
  });
})();
