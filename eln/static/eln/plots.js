// Interactive plots (uPlot, from the project's static files) of data the server down-sampled.
//
//   <div class="plot" data-plot-url="/api/v1/datasets/DS-0001/data/?points=2000&columns=test_time_s,voltage_v"
//        data-plot-x="test_time_s" data-plot-x-scale="0.000277778" data-plot-x-label="test time (h)"
//        data-plot-y="voltage_v" data-plot-y-label="voltage (V)"></div>
//
// The URL answers {"columns": {name: [values]}}; y may list several comma-separated columns
// with as many comma-separated labels. Drag to zoom, double-click to zoom out, click a legend
// entry to hide or show its series; hovering shows the values.
(function () {
  "use strict";
  var COLOURS = ["#24527a", "#c0392b", "#2e8b57", "#8e44ad", "#d68910"];

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

  function columnsOf(element) {
    var ys = element.dataset.plotY.split(",");
    var labels = (element.dataset.plotYLabel || element.dataset.plotY).split(",");
    return ys.map(function (name, i) { return { name: name.trim(), label: (labels[i] || name).trim() }; });
  }

  function draw(element, body) {
    var columns = body.columns || {};
    var xName = element.dataset.plotX;
    var xScale = parseFloat(element.dataset.plotXScale || "1");
    var ys = columnsOf(element);
    var missing = [xName].concat(ys.map(function (y) { return y.name; })).filter(function (n) { return !columns[n]; });
    if (missing.length) {
      say(element, "No " + missing.join(", ") + " in this data.", true);
      return;
    }
    var x = columns[xName].map(function (v) { return v === null ? null : v * xScale; });
    var data = [x].concat(ys.map(function (y) { return columns[y.name]; }));
    var series = [{ label: element.dataset.plotXLabel || xName }].concat(ys.map(function (y, i) {
      return { label: y.label, stroke: COLOURS[i % COLOURS.length], width: 1.5 };
    }));
    var options = {
      width: Math.max(element.clientWidth, 320),
      height: parseInt(element.dataset.plotHeight || "320", 10),
      scales: { x: { time: false } },
      series: series,
      axes: [{ label: element.dataset.plotXLabel || xName }, { label: ys[0].label }],
      cursor: { drag: { x: true, y: true, uni: 20 } },
    };
    say(element, "");
    var plot = new uPlot(options, data, element);
    element.dataset.plotPoints = String(x.length);
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        plot.setSize({ width: Math.max(element.clientWidth, 320), height: options.height });
      }).observe(element);
    }
    element.dispatchEvent(new CustomEvent("plot:drawn", { bubbles: true }));
  }

  function load(element) {
    if (element.dataset.plotBound) return;
    element.dataset.plotBound = "1";
    say(element, "Loading the data…");
    fetch(element.dataset.plotUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (!answer.ok) {
          say(element, answer.body.detail || JSON.stringify(answer.body), true);
          return;
        }
        draw(element, answer.body);
      })
      .catch(function (error) { say(element, "The data could not be loaded: " + error.message, true); });
  }

  function attach(root) { root.querySelectorAll("[data-plot-url]").forEach(load); }
  document.addEventListener("DOMContentLoaded", function () { attach(document); });
  document.addEventListener("htmx:load", function (event) { attach(event.target); });
})();
