// Interactive plots (uPlot, from the project's static files) of data the server down-sampled.
//
//   <div class="plots" data-plot-base="/api/v1/datasets/DS-0001/plots/" data-plot-limit="1000">
//     <select class="plot-dataset">…</select>          (optional: another dataset's base)
//     <form class="plot-cycles"><input name="cycles"></form>   (for the plots marked data-plot-cycles)
//     <div class="plot" data-plot="voltage"></div>
//     <div class="plot" data-plot="voltage-capacity" data-plot-cycles></div>
//   </div>
//
// Each plot fetches base + its name + "/?points=…" and gets {x_label, y_label, y2_label?,
// series: [{label, axis: "y"|"y2", x: [...], y: [...]}]}; the series are joined on x.
// Drag to zoom, double-click to zoom out, click a legend entry to hide or show its series;
// the legend shows the values under the pointer.
(function () {
  "use strict";
  var COLOURS = ["#24527a", "#c0392b", "#2e8b57", "#8e44ad", "#d68910", "#17a2b8", "#7f8c8d", "#e84393",
                 "#6c5b7b", "#2c3e50", "#b9770e", "#1e8449"];
  var DOTS = { capacity: true, rate: true };  // one point per cycle
  var NO_LINES = { rate: true };             // a rate's cycles are apart: points only

  function say(element, text, failed) {
    var note = element.querySelector(".plot-status");
    if (!note) {
      note = document.createElement("p");
      note.className = "plot-status";
      note.setAttribute("role", "status");
      element.appendChild(note);
    }
    note.textContent = text;
    note.classList.toggle("plot-failed", Boolean(failed));
    note.hidden = !text;
  }

  function problem(body) {
    if (!body || typeof body !== "object") return "The data could not be loaded.";
    if (body.detail) return String(body.detail);
    return Object.keys(body).map(function (name) { return name + ": " + [].concat(body[name]).join(" "); }).join("; ");
  }

  function urlOf(box, element) {
    var params = new URLSearchParams();
    params.set("points", box.dataset.plotLimit || "1000");
    if (element.hasAttribute("data-plot-cycles") && box.dataset.plotChosenCycles) {
      params.set("cycles", box.dataset.plotChosenCycles);
    }
    return box.dataset.plotBase + element.dataset.plot + "/?" + params.toString();
  }

  function forget(element) {
    if (element.plotObserver) element.plotObserver.disconnect();
    if (element.uplot) element.uplot.destroy();
    element.plotObserver = element.uplot = null;
  }

  function draw(box, element, body) {
    forget(element);
    var kind = element.dataset.plot;
    var given = body.series || [];
    if (!given.length) {
      say(element, "Nothing to plot in this dataset.");
      return;
    }
    var data = uPlot.join(given.map(function (s) { return [s.x, s.y]; }));
    var y2 = given.some(function (s) { return s.axis === "y2"; });
    var series = [{ label: body.x_label }].concat(given.map(function (s, i) {
      var one = { label: s.label, stroke: COLOURS[i % COLOURS.length], width: 1.5, scale: s.axis || "y",
                  spanGaps: true, points: { show: Boolean(DOTS[kind]), size: 5, fill: COLOURS[i % COLOURS.length] } };
      if (NO_LINES[kind]) one.paths = function () { return null; };
      return one;
    }));
    var axes = [{ label: body.x_label }, { label: body.y_label, scale: "y" }];
    if (y2) axes.push({ label: body.y2_label, scale: "y2", side: 1, grid: { show: false } });
    var height = parseInt(element.dataset.plotHeight || "320", 10);
    var options = {
      width: Math.max(element.clientWidth, 320),
      height: height,
      scales: { x: { time: false }, y: { auto: true }, y2: { auto: true } },
      series: series,
      axes: axes,
      cursor: { drag: { x: true, y: true, uni: 20 } },
    };
    say(element, "");
    element.uplot = new uPlot(options, data, element);
    element.dataset.plotPoints = String(data[0].length);
    if (window.ResizeObserver) {
      element.plotObserver = new ResizeObserver(function () {
        if (element.uplot) element.uplot.setSize({ width: Math.max(element.clientWidth, 320), height: height });
      });
      element.plotObserver.observe(element);
    }
    if (body.cycles && element.hasAttribute("data-plot-cycles")) {
      var input = box.querySelector(".plot-cycles input[name=cycles]");
      if (input && document.activeElement !== input) input.value = body.cycles.join(", ");
      var range = box.querySelector(".plot-cycle-range");
      if (range && body.cycle_range) range.textContent = "cycles " + body.cycle_range[0] + " to " + body.cycle_range[1];
    }
    element.dispatchEvent(new CustomEvent("plot:drawn", { bubbles: true }));
  }

  function load(box, element) {
    var url = urlOf(box, element);
    element.dataset.plotUrl = url;
    delete element.dataset.plotPoints;
    say(element, "Loading the data…");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (element.dataset.plotUrl !== url) return;  // asked again meanwhile
        if (!answer.ok) {
          forget(element);
          say(element, problem(answer.body), true);
          return;
        }
        draw(box, element, answer.body);
      })
      .catch(function (error) { say(element, "The data could not be loaded: " + error.message, true); });
  }

  function bind(box) {
    if (box.dataset.plotBound) return;
    box.dataset.plotBound = "1";
    var plots = box.querySelectorAll(".plot[data-plot]");
    plots.forEach(function (element) { load(box, element); });
    var chooser = box.querySelector(".plot-dataset");
    if (chooser) {
      chooser.addEventListener("change", function () {
        box.dataset.plotBase = chooser.value;
        delete box.dataset.plotChosenCycles;
        plots.forEach(function (element) { load(box, element); });
      });
    }
    var form = box.querySelector(".plot-cycles");
    if (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        box.dataset.plotChosenCycles = form.elements.cycles.value.replace(/\s+/g, "");
        box.querySelectorAll(".plot[data-plot-cycles]").forEach(function (element) { load(box, element); });
      });
    }
  }

  function attach(root) { root.querySelectorAll(".plots[data-plot-base]").forEach(bind); }
  document.addEventListener("DOMContentLoaded", function () { attach(document); });
  document.addEventListener("htmx:load", function (event) { attach(event.target); });
})();
