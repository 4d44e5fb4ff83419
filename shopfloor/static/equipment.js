// Equipment page: live Plotly trends extended in place (bounded points), countdowns to predicted
// failures, and a bounded alert list. Tiles and alerts arrive as server-rendered patches handled
// by shopfloor.js; this file never builds markup from event data.
(function () {
  "use strict";
  const MAX_POINTS = 600; // 10 min of per-second buckets: a page open for days stays the same size
  const MAX_MINUTE_POINTS = 7 * 24 * 60; // the longest range at per-minute buckets
  const MAX_ALERTS = 150;
  const plots = new Map(); // sensor -> plot element
  let lastBucket = 0;
  let stream = null;
  const LIVE_RANGE = "10m"; // the only range extended per second by the stream
  let range = LIVE_RANGE; // picked
  let drawnRange = null; // the stream extends the charts only while they show the live range
  let loads = 0;

  function minutesText(ms) {
    const min = Math.round(ms / 60000);
    if (ms <= 0) return "now";
    if (min < 1) return "in <1 min";
    if (min < 120) return "in ~" + min + " min";
    return "in ~" + Math.round(min / 60) + " h";
  }

  function refreshCountdowns() {
    const now = window.shopfloorNow(); // a past view's moment, else the clock
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

  const TICK_PX = 14; // readable from a step back: axis ticks and labels at least 14 px
  const MARK = { alarm: { symbol: "triangle-up", color: "#f85149" }, note: { symbol: "circle-open", color: "#d2a8ff" } };

  function plain(text) {
    // Plotly reads pseudo-HTML in text; event data is shown as text only.
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function marks(sensor, annotations, kind) {
    const x = [], y = [], text = [];
    for (const a of annotations) {
      if (a.kind !== kind || a.sensor !== sensor) continue;
      x.push(new Date(a.at_ms));
      y.push(a.value);
      text.push(plain(a.text + " at " + new Date(a.at_ms).toLocaleTimeString()));
    }
    return { x: x, y: y, name: kind, mode: "markers", hovertext: text, hoverinfo: "text",
      marker: { symbol: MARK[kind].symbol, size: 11, color: MARK[kind].color, line: { width: 2, color: MARK[kind].color } } };
  }

  // The live range's time axis moves a whole minute at a time, not with every second's points:
  // Plotly remembers the measured box of each tick label at each position (up to 10,000 of them,
  // then it starts again), so an axis sliding every second filled that in half an hour, megabytes
  // on every open page; one moving once a minute takes about a day, and reads better.
  const MINUTE_MS = 60000;
  function liveWindow(newestMs, predictionEndMs) {
    const end = (Math.floor(newestMs / MINUTE_MS) + 1) * MINUTE_MS;
    return { until: end, range: [new Date(end - 10 * MINUTE_MS), new Date(Math.max(end, predictionEndMs))] };
  }

  function predictionEnd(series) {
    const points = series && series.prediction ? series.prediction.points : [];
    return points.length ? points[points.length - 1][0] : 0;
  }

  // Status labels sit above the chart, in rows: each starts at its dotted line (ends there when the
  // chart's right edge is near) and goes to the first row where it clears the label before it. What
  // finds no row is counted on the chart, its line still drawn (its text in the hover).
  const LABEL_ROWS = 3;
  const ROW_PX = TICK_PX + 6;
  const measure = document.createElement("canvas").getContext("2d");
  function textWidth(text) {
    measure.font = TICK_PX + 'px "Open Sans", verdana, arial, sans-serif';
    return measure.measureText(text).width + 6;
  }
  function statusLabels(statuses, x0, x1, plotPx) {
    const ends = []; // the right edge (px) of the last label in each row
    const placed = [];
    let left = 0;
    for (const s of statuses.slice().sort(function (a, b) { return a.at_ms - b.at_ms; })) {
      const text = plain(s.text);
      const px = x1 > x0 ? ((s.at_ms - x0) / (x1 - x0)) * plotPx : 0;
      const w = textWidth(s.text);
      const anchor = px + w <= plotPx ? "left" : "right";
      const start = Math.max(0, Math.min(anchor === "left" ? px : px - w, plotPx - w));
      const row = ends.findIndex(function (end) { return end + 8 <= start; });
      if (row < 0 && ends.length >= LABEL_ROWS) { left += 1; continue; }
      const at = row < 0 ? ends.length : row;
      ends[at] = start + w;
      placed.push({ status: s, text: text, row: at, start: start / plotPx,
        pinned: anchor === "left" ? px !== start : px - w !== start, anchor: anchor });
    }
    return { placed: placed, rows: Math.max(1, ends.length), left: left };
  }

  function figure(sensor, series, annotations, limit, span, widthPx) {
    const c = columns(series ? series.points : []);
    const band = { color: "rgba(121,192,255,0.35)", width: 1 };
    const pred = columns(series && series.prediction ? series.prediction.points : []);
    // prediction columns are [ms, expected, low, high]: `lo` holds expected, `avg` low, `hi` high
    const traces = [
      { x: c.x, y: c.lo, name: "min", mode: "lines", line: band, hoverinfo: "skip" },
      { x: c.x, y: c.hi, name: "max", mode: "lines", line: band, fill: "tonexty", fillcolor: "rgba(121,192,255,0.15)", hoverinfo: "skip" },
      { x: c.x, y: c.avg, name: "avg", mode: "lines", line: { color: "#79c0ff", width: 2 } },
      { x: pred.x, y: pred.avg, name: "prediction low", mode: "lines", line: { color: "rgba(255,166,87,0.5)", width: 1 }, hoverinfo: "skip" },
      { x: pred.x, y: pred.hi, name: "prediction band", mode: "lines", line: { color: "rgba(255,166,87,0.5)", width: 1 }, fill: "tonexty", fillcolor: "rgba(255,166,87,0.18)", hoverinfo: "skip" },
      { x: pred.x, y: pred.lo, name: "prediction", mode: "lines", line: { color: "#ffa657", width: 2, dash: "dot" } },
      marks(sensor, annotations, "alarm"),
      marks(sensor, annotations, "note"),
    ];
    const axis = { gridcolor: "#2a3441", tickfont: { size: TICK_PX, color: "#c9d1d9" }, automargin: true };
    const layout = {
      margin: { l: 50, r: 10, t: 24, b: 30 }, showlegend: false, paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)", font: { color: "#c9d1d9", size: TICK_PX },
      xaxis: Object.assign({}, axis, span ? { range: span.range, autorange: false } : {}),
      yaxis: Object.assign({}, axis), shapes: [], annotations: [],
      hoverlabel: { font: { size: TICK_PX } },
    };
    if (limit !== null && limit !== undefined) {
      layout.shapes.push({ type: "line", name: "limit", xref: "paper", x0: 0, x1: 1, y0: limit, y1: limit,
        line: { color: "#f85149", width: 1, dash: "dash" } });
      layout.annotations.push({ xref: "paper", x: 0, xanchor: "left", y: limit, yanchor: "bottom", showarrow: false,
        text: "limit " + limit, font: { size: TICK_PX, color: "#ff7b72" }, name: "limit" });
    }
    const statuses = annotations.filter(function (a) { return a.kind === "status"; });
    for (const a of statuses) {
      const at = new Date(a.at_ms);
      layout.shapes.push({ type: "line", name: "status", xref: "x", yref: "paper", x0: at, x1: at, y0: 0, y1: 1,
        line: { color: "#8b98a5", width: 1, dash: "dot" } });
    }
    if (statuses.length) {
      const times = c.x.map(Number).concat(statuses.map(function (a) { return a.at_ms; }));
      const x0 = span ? span.range[0].getTime() : Math.min.apply(null, times);
      const x1 = span ? span.range[1].getTime() : Math.max.apply(null, times);
      const plotPx = Math.max(1, (widthPx || 400) - layout.margin.l - layout.margin.r);
      const labels = statusLabels(statuses, x0, x1, plotPx);
      layout.margin.t += (labels.rows - 1) * ROW_PX;
      for (const p of labels.placed) {
        const at = new Date(p.status.at_ms);
        const where = p.pinned ? { xref: "paper", x: p.start, xanchor: "left" } : { xref: "x", x: at, xanchor: p.anchor };
        layout.annotations.push(Object.assign(where, { yref: "paper", y: 1, yanchor: "bottom", yshift: p.row * ROW_PX,
          showarrow: false, text: p.text, font: { size: TICK_PX, color: "#c9d1d9" }, name: "status",
          hovertext: plain(p.status.text + " at " + at.toLocaleTimeString()) }));
      }
      if (labels.left) {
        layout.annotations.push({ xref: "paper", x: 1, xanchor: "right", yref: "paper", y: 0, yanchor: "bottom",
          showarrow: false, text: "+" + labels.left + " more status changes", font: { size: TICK_PX, color: "#c9d1d9" },
          bgcolor: "#182029", name: "status-more" });
      }
    }
    return { traces: traces, layout: layout };
  }

  function draw(el, sensor, series, annotations, limit, span) {
    const f = figure(sensor, series, annotations, limit, span, el.clientWidth);
    const config = { displayModeBar: false, responsive: true, staticPlot: false };
    return el.dataset.drawn ? Plotly.react(el, f.traces, f.layout, config) : Plotly.newPlot(el, f.traces, f.layout, config);
  }

  function extend(points) {
    for (const sensor of Object.keys(points)) {
      const el = plots.get(sensor);
      const fresh = points[sensor].filter(function (p) { return p[0] > (Number(el && el.dataset.last) || 0); });
      if (!el || !fresh.length) continue;
      const c = columns(fresh);
      const newest = fresh[fresh.length - 1][0];
      if (drawnRange === LIVE_RANGE) {
        Plotly.extendTraces(el, { x: [c.x, c.x, c.x], y: [c.lo, c.hi, c.avg] }, [0, 1, 2], MAX_POINTS);
        if (newest >= Number(el.dataset.until)) {
          const span = liveWindow(newest, Number(el.dataset.predictionEnd) || 0);
          el.dataset.until = String(span.until);
          Plotly.relayout(el, { "xaxis.range": span.range });
        }
      }
      el.dataset.last = String(newest);
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

  function showRange(panel, data) {
    for (const b of panel.querySelectorAll("[data-range-choice]")) {
      b.setAttribute("aria-pressed", b.dataset.rangeChoice === range ? "true" : "false");
    }
    const label = panel.querySelector('[data-range-choice="' + CSS.escape(range) + '"]');
    const caption = document.getElementById("trend-caption");
    if (caption && data) {
      caption.textContent = "sensor trends, last " + (label ? label.textContent : range) + " (" +
        (data.resolution === "1s" ? "per second" : "per minute") + ": min, average, max)";
    }
    const note = document.getElementById("trend-note");
    if (note) {
      note.textContent = data ? (data.note || "") : "";
      note.hidden = !note.textContent;
    }
  }

  async function load(panel) {
    const ticket = ++loads;
    if (range !== drawnRange) drawnRange = null; // not another range's points meanwhile
    const url = new URL(panel.dataset.trendUrl, window.location.href);
    url.searchParams.set("range", range);
    const past = window.shopfloorPastAt(); // a past view's trend ends at its moment
    if (past) url.searchParams.set("at", past);
    const response = await fetch(url.pathname + url.search, { credentials: "same-origin" });
    if (ticket !== loads) return; // a newer range was picked meanwhile
    const note = document.getElementById("trend-note");
    if (!response.ok) {
      if (note) {
        const body = await response.json().catch(function () { return {}; });
        note.textContent = "Trend unavailable: " + (typeof body.detail === "string" ? body.detail : response.status);
        note.hidden = false;
      }
      return;
    }
    const data = await response.json();
    if (ticket !== loads) return;
    for (const el of panel.querySelectorAll("[data-plot-for]")) {
      const sensor = el.dataset.plotFor;
      const series = data.sensors[sensor];
      const points = series ? series.points : [];
      const limit = series ? series.limit : (el.dataset.limit === "" ? null : Number(el.dataset.limit));
      const live = data.resolution === "1s";
      const predictedUntil = predictionEnd(series);
      const span = live && points.length ? liveWindow(points[points.length - 1][0], predictedUntil) : null;
      await draw(el, sensor, series ? Object.assign({}, series, { points: points.slice(live ? -MAX_POINTS : -MAX_MINUTE_POINTS) }) : null,
        data.annotations || [], limit, span);
      el.dataset.until = span ? String(span.until) : "";
      el.dataset.predictionEnd = String(predictedUntil);
      el.dataset.drawn = "true";
      el.dataset.last = points.length ? String(points[points.length - 1][0]) : "0";
      el.dataset.prediction = series && series.prediction ? "true" : "false";
      if (points.length && data.resolution === "1s") lastBucket = Math.max(lastBucket, points[points.length - 1][0]);
      plots.set(sensor, el);
    }
    showRange(panel, data);
    drawnRange = range;
    panel.dataset.range = range;
  }

  async function startTrends() {
    const panel = document.getElementById("trend-panel");
    if (!panel || !window.Plotly) return;
    const asked = new URLSearchParams(window.location.search).get("range");
    if (asked && panel.querySelector('[data-range-choice="' + CSS.escape(asked) + '"]')) range = asked;
    for (const b of panel.querySelectorAll("[data-range-choice]")) {
      b.addEventListener("click", function () {
        if (range === b.dataset.rangeChoice) return;
        range = b.dataset.rangeChoice;
        const here = new URL(window.location.href);
        here.searchParams.set("range", range);
        history.replaceState(null, "", here.pathname + here.search);
        load(panel);
      });
    }
    await load(panel);
    panel.dataset.ready = "true";
    if (window.shopfloorPastAt()) return; // a moment's trend is drawn once: no stream, no redraws
    connect(panel);
    // predictions, annotations and per-minute buckets change by the minute: redraw once a minute
    setInterval(function () { load(panel); }, 60000);
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
