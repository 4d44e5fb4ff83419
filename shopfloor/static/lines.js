// Line boards: a relative "in 12 min" beside each due time. Downtime page: draws each [data-pareto] element as a Pareto bar chart (minutes by reason, largest
// first) with Plotly. A live patch brings the whole board again; a chart whose figures are unchanged is put back as drawn
// (redrawing every chart on every patch, and never purging the plots thrown away, kept growing a wall screen's heap), a
// changed one is drawn anew and the old plot purged. The numbers also stand in a table beside it.
(function () {
  "use strict";
  const drawn = new Map(); // data-pareto-key -> the element drawn for it, kept across patches
  function draw(el) {
    const data = JSON.parse(el.dataset.pareto);
    el.hidden = !data.reasons.length;
    if (el.hidden) return;
    const total = data.minutes.reduce(function (a, b) { return a + b; }, 0);
    let running = 0;
    const cumulative = data.minutes.map(function (m) { running += m; return (100 * running) / total; });
    Plotly.react(el, [
      { type: "bar", x: data.reasons, y: data.minutes, name: "minutes", marker: { color: "#58a6ff" } },
      { type: "scatter", mode: "lines+markers", x: data.reasons, y: cumulative, name: "cumulative %",
        yaxis: "y2", line: { color: "#ffa657" } },
    ], {
      margin: { l: 40, r: 40, t: 10, b: 60 }, height: 220, showlegend: false,
      yaxis: { title: { text: "min" }, rangemode: "tozero" },
      yaxis2: { overlaying: "y", side: "right", range: [0, 100], ticksuffix: "%" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: { color: "#e6edf3" },
    }, { displayModeBar: false, staticPlot: true });
  }
  function place(el) {
    const key = el.dataset.paretoKey;
    const kept = drawn.get(key);
    if (kept === el) return;
    if (kept && kept.dataset.pareto === el.dataset.pareto) {
      el.replaceWith(kept);
      return;
    }
    if (kept) Plotly.purge(kept);
    draw(el);
    drawn.set(key, el);
  }
  // "in 12 min" / "25 min ago" beside each due time, kept current between events.
  function relative(ms) {
    const min = Math.round(Math.abs(ms) / 60000);
    const text = min < 60 ? min + " min" : Math.floor(min / 60) + " h " + (min % 60) + " min";
    return ms >= 0 ? "(in " + text + ")" : "(" + text + " ago)";
  }
  function refreshDue() {
    const now = Date.now();
    for (const el of document.querySelectorAll("[data-due-in-ms]")) el.textContent = relative(Number(el.dataset.dueInMs) - now);
  }
  setInterval(refreshDue, 15000);
  document.addEventListener("DOMContentLoaded", refreshDue);
  document.addEventListener("shopfloor:frame", refreshDue);

  function drawAll() {
    if (!window.Plotly) return;
    const shown = new Set();
    for (const el of document.querySelectorAll("[data-pareto]")) {
      place(el);
      shown.add(el.dataset.paretoKey);
    }
    for (const [key, el] of drawn) {
      if (!shown.has(key)) {
        Plotly.purge(el);
        drawn.delete(key);
      }
    }
  }
  // A chart put back keeps the width it was drawn at: follow the window (a screen going fullscreen).
  let resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      for (const el of drawn.values()) if (!el.hidden) Plotly.Plots.resize(el);
    }, 200);
  });
  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("shopfloor:frame", drawAll);
  document.addEventListener("htmx:afterSwap", drawAll);
})();
