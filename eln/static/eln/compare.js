// The compare page's overlays (uPlot, from the project's static files):
//
//   <div data-compare-url="/compare/data/?sheet=ES-0001&kind=cathode_half">
//     <div class="plot" data-compare-plot="retention"></div> ...
//   </div>
//
// The URL answers {"groups": [...], "retention": {"x": [...], "series": [{"label", "group",
// "values"}], "x_label", "y_label"}, "coulombic_efficiency": {...}, "rate_capability": {...}};
// every series is on the plot's x (null where a cell has no value). A group has one colour;
// cells of one group differ by their dash. Drag to zoom, double-click to zoom out, click a
// legend entry to hide or show its cell.
(function () {
  "use strict";
  var COLOURS = ["#24527a", "#c0392b", "#2e8b57", "#8e44ad", "#d68910", "#16a085", "#7f8c8d"];
  var DASHES = [null, [6, 3], [2, 3], [8, 3, 2, 3]];

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

  function draw(element, plot, groups, logX) {
    if (!plot || !plot.x.length) {
      say(element, "No values to plot for these cells.");
      return;
    }
    var seenInGroup = {};
    var series = [{ label: plot.x_label }].concat(plot.series.map(function (s, i) {
      var groupIndex = groups.indexOf(s.group);
      var colour = COLOURS[(groupIndex >= 0 ? groupIndex : i) % COLOURS.length];
      var nth = seenInGroup[s.group] = (seenInGroup[s.group] || 0) + 1;
      var options = { label: s.label, stroke: colour, width: 1.6, spanGaps: true,
                      points: { show: plot.x.length <= 30 } };
      var dash = DASHES[(nth - 1) % DASHES.length];
      if (dash) options.dash = dash;
      return options;
    }));
    var data = [plot.x].concat(plot.series.map(function (s) { return s.values; }));
    var options = {
      width: Math.max(element.clientWidth, 320),
      height: 240,
      scales: { x: logX ? { time: false, distr: 3 } : { time: false } },
      series: series,
      axes: [{ label: plot.x_label }, { label: plot.y_label }],
      cursor: { drag: { x: true, y: true, uni: 20 } },
    };
    say(element, "");
    var chart = new uPlot(options, data, element);
    element.dataset.plotSeries = String(plot.series.length);
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        chart.setSize({ width: Math.max(element.clientWidth, 320), height: options.height });
      }).observe(element);
    }
  }

  function load(container) {
    var plots = container.querySelectorAll("[data-compare-plot]");
    plots.forEach(function (element) { say(element, "Loading the data…"); });
    fetch(container.dataset.compareUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        plots.forEach(function (element) {
          if (!answer.ok) {
            say(element, JSON.stringify(answer.body.errors || answer.body), true);
            return;
          }
          var name = element.dataset.comparePlot;
          draw(element, answer.body[name], answer.body.groups, name === "rate_capability");
        });
        container.dataset.compareDrawn = "1";
        container.dispatchEvent(new CustomEvent("compare:drawn", { bubbles: true }));
      })
      .catch(function (error) {
        plots.forEach(function (element) { say(element, "The data could not be loaded: " + error.message, true); });
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-compare-url]").forEach(load);
  });
})();
