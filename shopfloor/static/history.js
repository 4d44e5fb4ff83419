// The timeline of a past view: a slider over the range the log can show, markers for alerts,
// stoppages and late orders, play at ×1…×60 (the board reloads for each moment, as it would have
// changed live). Moving it changes `at`; every other request the page makes asks for that moment.
(function () {
  "use strict";
  const TICK_MS = 2000;
  let playing = null;

  const iso = (ms) => new Date(ms).toISOString().replace(".000Z", "Z");
  // Moments read as the banner's: plant date and time with the zone's name, whatever the browser's zone.
  const timeline = document.getElementById("timeline");
  function formatIn(zone) {
    return new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, hourCycle: "h23", timeZoneName: "short",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
  }
  let plantTime;
  try {
    plantTime = formatIn((timeline && timeline.dataset.zone) || "UTC");
  } catch (e) { // a zone Python knows and the browser does not ("posix/…"): UTC, which says so
    plantTime = formatIn("UTC");
  }
  function plain(ms) {
    const p = {};
    for (const part of plantTime.formatToParts(new Date(ms))) p[part.type] = part.value;
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" + p.second + " " + p.timeZoneName;
  }

  function go(ms) {
    const url = new URL(window.location.href);
    url.searchParams.set("at", iso(ms));
    window.location.assign(url.pathname + url.search);
  }

  // Playing swaps the board in place: the URL, the banner and the slider follow the moment.
  function show(ms, slider) {
    document.body.dataset.past = String(ms);
    slider.value = String(ms);
    const url = new URL(window.location.href);
    url.searchParams.set("at", iso(ms));
    history.replaceState(null, "", url.pathname + url.search);
    const label = document.querySelector("[data-past-label]");
    if (label) label.textContent = plain(ms);
    const root = document.getElementById("live-root");
    const board = root && root.dataset.boardUrl;
    if (board && window.htmx) htmx.ajax("GET", board, { target: "#board", swap: "outerHTML" });
    else go(ms);
  }

  function place(markers, from, to) {
    const list = document.getElementById("timeline-markers");
    const span = Math.max(1, to - from);
    for (const m of markers) {
      const li = document.createElement("li");
      li.style.left = (100 * (m.at_ms - from)) / span + "%";
      const a = document.createElement("a");
      a.className = "mark mark-" + m.kind;
      a.textContent = m.kind === "alert" ? "A" : m.kind === "stoppage" ? "S" : "L";
      a.title = m.label + " — " + plain(m.at_ms);
      a.setAttribute("aria-label", a.title);
      a.dataset.marker = m.kind;
      const url = new URL(window.location.href);
      url.searchParams.set("at", iso(m.at_ms));
      a.href = url.pathname + url.search;
      li.appendChild(a);
      list.appendChild(li);
    }
  }

  function start(box, data) {
    const slider = document.getElementById("timeline-slider");
    const at = Number(box.dataset.at);
    const from = Math.min(Math.ceil(data.from_ms / 1000) * 1000, at); // whole seconds: the slider's step
    const to = Math.max(data.to_ms || at, at);
    slider.min = String(from);
    slider.max = String(to);
    slider.value = String(at);
    box.querySelector("[data-timeline-from]").textContent = plain(from);
    box.querySelector("[data-timeline-to]").textContent = plain(to);
    slider.addEventListener("change", function () {
      go(Number(slider.value));
    });
    place(data.markers || [], from, to);
    const play = document.getElementById("timeline-play");
    const speed = document.getElementById("timeline-speed");
    play.addEventListener("click", function () {
      if (playing) {
        clearInterval(playing);
        playing = null;
        play.textContent = "▶ Play";
        play.setAttribute("aria-pressed", "false");
        return;
      }
      play.textContent = "❚❚ Pause";
      play.setAttribute("aria-pressed", "true");
      playing = setInterval(function () {
        const next = Math.min(to, Number(slider.value) + TICK_MS * Number(speed.value));
        show(next, slider);
        if (next >= to) play.click();
      }, TICK_MS);
    });
    box.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    const box = document.getElementById("timeline");
    if (!box) return;
    fetch(box.dataset.timelineUrl, { credentials: "same-origin" })
      .then(function (res) {
        return res.ok ? res.json() : null;
      })
      .then(function (data) {
        if (data && data.from_ms !== null) start(box, data);
      })
      .catch(function () {});
  });
})();
