// Line boards: a relative "in 12 min" beside each due time, and an open order's flag turned late when
// that time passes. Downtime page: draws each [data-pareto] element as a Pareto bar chart (minutes by
// reason, largest first) with Plotly. A live patch brings the whole board again; a chart whose figures are unchanged is put back as drawn
// (redrawing every chart on every patch, and never purging the plots thrown away, kept growing a wall screen's heap), a
// changed one is drawn anew and the old plot purged. The numbers also stand in a table beside it.
(function () {
  "use strict";
  const drawn = new Map(); // data-pareto-key -> the element drawn for it, kept across patches
  const isKiosk = () => document.body.hasAttribute("data-kiosk");
  // A kiosk chart fills the box the page gives it, with labels in the page's type (read across a
  // hall) and its minutes printed on the bars (the table beside it is left out there).
  function kioskLayout(el) {
    const px = Math.round(0.75 * parseFloat(getComputedStyle(el).fontSize));
    return {
      height: Math.max(60, el.clientHeight), width: Math.max(60, el.clientWidth), font: { color: "#e6edf3", size: px },
      margin: { l: 10, r: 10, t: 10, b: 10 },
      xaxis: { automargin: true, tickfont: { size: px } },
      yaxis: { automargin: true, rangemode: "tozero", tickfont: { size: px } },
      yaxis2: { overlaying: "y", side: "right", range: [0, 100], ticksuffix: "%", automargin: true, tickfont: { size: px } },
    };
  }
  function draw(el) {
    const data = JSON.parse(el.dataset.pareto);
    el.hidden = !data.reasons.length;
    if (el.hidden) return;
    const total = data.minutes.reduce(function (a, b) { return a + b; }, 0);
    let running = 0;
    const cumulative = data.minutes.map(function (m) { running += m; return (100 * running) / total; });
    const bar = { type: "bar", x: data.reasons, y: data.minutes, name: "minutes", marker: { color: "#58a6ff" } };
    if (isKiosk()) Object.assign(bar, { text: data.minutes.map(String), textposition: "inside", insidetextanchor: "end",
      textfont: { color: "#000" } });
    Plotly.react(el, [
      bar,
      { type: "scatter", mode: "lines+markers", x: data.reasons, y: cumulative, name: "cumulative %",
        yaxis: "y2", line: { color: "#ffa657" } },
    ], Object.assign({
      margin: { l: 40, r: 40, t: 10, b: 60 }, height: 220, showlegend: false,
      yaxis: { title: { text: "min" }, rangemode: "tozero" },
      yaxis2: { overlaying: "y", side: "right", range: [0, 100], ticksuffix: "%" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: { color: "#e6edf3" },
    }, isKiosk() ? kioskLayout(el) : {}), { displayModeBar: false, staticPlot: true });
    if (isKiosk()) follow(el);
  }
  // On a kiosk the box of a chart changes with the board's fit (type steps, lines left out): the
  // chart follows it, redrawn a frame later (never inside the observer's own callback).
  const sized = new WeakMap();
  const observer = window.ResizeObserver ? new ResizeObserver(function (entries) {
    requestAnimationFrame(function () {
      for (const entry of entries) {
        const el = entry.target;
        const size = el.clientWidth + "x" + el.clientHeight;
        if (!el.isConnected || el.hidden || sized.get(el) === size) continue;
        sized.set(el, size);
        draw(el);
      }
    });
  }) : null;
  function follow(el) {
    sized.set(el, el.clientWidth + "x" + el.clientHeight);
    if (observer) observer.observe(el);
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
  // An open order turns late at its due time with no event to say so: its flag flips here, word and
  // colour, as the server renders a late one.
  function turnLate(el) {
    el.removeAttribute("data-late-at");
    el.dataset.dueFlag = "late";
    el.classList.remove("due-at-risk");
    el.classList.add("due-late");
    let flag = el.querySelector(".due-flag");
    if (!flag) {
      flag = document.createElement("span");
      flag.className = "due-flag";
      el.append(" ", flag);
    }
    flag.textContent = "· ⚠ late";
  }
  function refreshDue() {
    const now = window.shopfloorNow(); // a past view's moment, else the clock
    for (const el of document.querySelectorAll("[data-due-in-ms]")) el.textContent = relative(Number(el.dataset.dueInMs) - now);
    for (const el of document.querySelectorAll("[data-late-at]")) if (now > Number(el.dataset.lateAt)) turnLate(el);
  }
  setInterval(refreshDue, 15000);
  document.addEventListener("DOMContentLoaded", refreshDue);
  document.addEventListener("shopfloor:frame", refreshDue);
  document.addEventListener("htmx:afterSwap", refreshDue); // a reloaded board, or a past view's next moment

  function drawAll() {
    if (!window.Plotly) return;
    const shown = new Set();
    for (const el of document.querySelectorAll("[data-pareto]")) {
      place(el);
      shown.add(el.dataset.paretoKey);
    }
    for (const [key, el] of drawn) {
      if (!shown.has(key)) {
        if (observer) observer.unobserve(el);
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
