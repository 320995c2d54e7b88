// Lineage graphs (Cytoscape.js, from the project's static files): records as nodes, "made
// from" as arrows; clicking a record with a page opens it.
//
//   <div class="lineage" data-lineage="lineage-data"></div>
//   <script id="lineage-data" type="application/json">{"nodes": [...], "edges": [...]}</script>
//
// nodes: {"id": "LOT-0001", "label": "LOT-0001 precursor lot", "kind": "precursor lot",
// "url": "/lots/LOT-0001/", "current": true}; edges: {"source": "LOT-0001", "target": "EB-0001",
// "relation": "precursor"} (from what went in to what was made).
(function () {
  "use strict";

  function elementsOf(graph) {
    var nodes = graph.nodes.map(function (n) {
      // The label on two lines: the record's label, then what it is.
      var text = n.label && n.label !== n.id ? n.id + "\n" + n.label.replace(n.id, "").trim() : n.id;
      return { group: "nodes", data: { id: n.id, label: text, kind: n.kind || "", url: n.url || "" },
               classes: (n.current ? "current " : "") + (n.url ? "linked" : "") };
    });
    var edges = graph.edges.map(function (e, i) {
      return { group: "edges", data: { id: "e" + i, source: e.source, target: e.target, relation: e.relation || "" } };
    });
    return nodes.concat(edges);
  }

  // Layers from what things were made of (top) to what was made (bottom): a record sits one
  // layer below the deepest of its inputs, and a record made from nothing recorded sits just
  // above the first record made from it, so no arrow points upwards.
  function layers(graph) {
    var inputs = {}, outputs = {}, level = {};
    graph.nodes.forEach(function (n) { inputs[n.id] = []; outputs[n.id] = []; });
    graph.edges.forEach(function (e) { outputs[e.source].push(e.target); inputs[e.target].push(e.source); });
    function depth(id, path) {
      if (level[id] !== undefined) return level[id];
      if (path[id]) return 0;  // a cycle: recorded lineage should have none, but never loop
      path[id] = true;
      var d = 0;
      inputs[id].forEach(function (source) { d = Math.max(d, depth(source, path) + 1); });
      level[id] = d;
      return d;
    }
    graph.nodes.forEach(function (n) { depth(n.id, {}); });
    graph.nodes.forEach(function (n) {
      if (inputs[n.id].length === 0 && outputs[n.id].length > 0) {
        level[n.id] = Math.min.apply(null, outputs[n.id].map(function (t) { return level[t]; })) - 1;
      }
    });
    var rows = {};
    graph.nodes.forEach(function (n) { (rows[level[n.id]] = rows[level[n.id]] || []).push(n.id); });
    var positions = {};
    Object.keys(rows).forEach(function (row) {
      rows[row].forEach(function (id, i) {
        positions[id] = { x: (i - (rows[row].length - 1) / 2) * 190, y: Number(row) * 95 };
      });
    });
    return positions;
  }

  var STYLE = [
    { selector: "node", style: {
      "shape": "round-rectangle", "background-color": "#e8eef4", "border-color": "#24527a", "border-width": 1,
      "label": "data(label)", "font-size": 12, "color": "#1b2a38", "text-valign": "center", "text-halign": "center",
      "text-wrap": "wrap", "text-max-width": 150, "width": 160, "height": 46 } },
    { selector: "node.linked", style: { "background-color": "#ffffff" } },
    { selector: "node.current", style: { "background-color": "#24527a", "color": "#ffffff", "font-weight": "bold" } },
    { selector: "edge", style: {
      "width": 1.5, "line-color": "#7f95a8", "target-arrow-color": "#7f95a8", "target-arrow-shape": "triangle",
      "curve-style": "bezier", "label": "data(relation)", "font-size": 9, "color": "#5b6b7a",
      "text-background-color": "#fbfcfd", "text-background-opacity": 1, "text-background-padding": 2 } },
  ];

  function draw(element) {
    if (element.dataset.lineageBound) return;
    element.dataset.lineageBound = "1";
    var source = document.getElementById(element.dataset.lineage);
    if (!source) return;
    var graph = JSON.parse(source.textContent);
    var positions = layers(graph);
    // Tall enough for every layer at a readable size (a style property, not an inline style).
    var depth = new Set(Object.keys(positions).map(function (id) { return positions[id].y; })).size;
    element.style.height = Math.max(240, depth * 95 + 40) + "px";
    var cy = cytoscape({
      container: element,
      elements: elementsOf(graph),
      style: STYLE,
      layout: { name: "preset", positions: positions, fit: true, padding: 16 },
      minZoom: 0.3,
      maxZoom: 3,
    });
    cy.on("tap", "node.linked", function (event) { window.location.assign(event.target.data("url")); });
    element.dataset.lineageNodes = String(graph.nodes.length);
    element.dispatchEvent(new CustomEvent("lineage:drawn", { bubbles: true }));
  }

  function attach(root) { root.querySelectorAll("[data-lineage]").forEach(draw); }
  document.addEventListener("DOMContentLoaded", function () { attach(document); });
  document.addEventListener("htmx:load", function (event) { attach(event.target); });
})();
