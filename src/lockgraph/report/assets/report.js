/* lockgraph's HTML report: filters, search, and the selected finding drawn.
 *
 * Everything shown comes from the JSON document in #lockgraph-data and is put in
 * the page with textContent and setAttribute, never parsed as HTML: a lock named
 * "<script>" stays text. Only the selected finding is drawn, so the page stays
 * quick however many findings (and however large a graph) the report has.
 */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("lockgraph-data").textContent);
  var findings = data.findings;
  var byId = {};
  findings.forEach(function (f, i) { byId[f.id] = i; });
  var items = Array.prototype.slice.call(document.querySelectorAll("li.finding"));
  var searchText = null;
  var current = -1;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  /* -- filters and search ------------------------------------------------------ */

  var search = document.getElementById("search");
  var classFilter = document.getElementById("class-filter");
  var hidePruned = document.getElementById("hide-pruned");
  var confirmedOnly = document.getElementById("confirmed-only");
  var kindBoxes = Array.prototype.slice.call(document.querySelectorAll(".kind-filter"));

  function haystack(i) {
    if (searchText === null) {
      searchText = findings.map(function (f) {
        var copy = {};
        Object.keys(f).forEach(function (k) { if (k !== "graph") { copy[k] = f[k]; } });
        return JSON.stringify(copy).toLowerCase();
      });
    }
    return searchText[i];
  }

  function applyFilters() {
    var kinds = {};
    kindBoxes.forEach(function (b) { kinds[b.value] = b.checked; });
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var cls = classFilter.value.trim().toLowerCase();
    var shown = 0;
    items.forEach(function (item) {
      var i = Number(item.getAttribute("data-index"));
      var f = findings[i];
      var ok = kinds[f.kind] !== false;
      if (ok && hidePruned && hidePruned.checked && (f.pruned || f.suppressed)) { ok = false; }
      if (ok && confirmedOnly && confirmedOnly.checked && f.confirmed !== true) { ok = false; }
      if (ok && cls) {
        ok = f.classes.some(function (c) { return c.name.toLowerCase().indexOf(cls) >= 0; });
      }
      if (ok && words.length) {
        var text = haystack(i);
        ok = words.every(function (w) { return text.indexOf(w) >= 0; });
      }
      item.classList.toggle("hidden", !ok);
      if (ok) { shown += 1; }
    });
    document.getElementById("shown-count").textContent =
      shown + " of " + findings.length + " shown";
  }

  document.getElementById("controls").addEventListener("submit", function (event) {
    event.preventDefault();
  });
  [search, classFilter].forEach(function (input) {
    input.addEventListener("input", applyFilters);
  });
  var boxes = kindBoxes.concat(hidePruned ? [hidePruned] : []);
  boxes.concat(confirmedOnly ? [confirmedOnly] : []).forEach(function (box) {
    box.addEventListener("change", applyFilters);
  });

  /* -- selection ------------------------------------------------------------------ */

  function select(i, scroll) {
    if (i < 0 || i >= findings.length) { return; }
    if (current >= 0) { items[current].classList.remove("active"); }
    current = i;
    items[i].classList.add("active");
    if (scroll) { items[i].scrollIntoView({ block: "nearest" }); }
    var f = findings[i];
    drawGraph(document.getElementById("graph"), f);
    renderDetail(document.getElementById("detail-body"), f);
  }

  function fromHash() {
    var id = location.hash.slice(1);
    try {
      id = decodeURIComponent(id);
    } catch (e) {
      /* a malformed escape ("#%E0%A4%A"): look the fragment up as it is */
    }
    if (Object.prototype.hasOwnProperty.call(byId, id)) {
      select(byId[id], true);
      return true;
    }
    return false;
  }

  window.addEventListener("hashchange", fromHash);

  /* -- details ------------------------------------------------------------------ */

  function frameText(fr) {
    if (fr.line <= 0) { return fr.file ? fr.file + " in " + fr.function : fr.function; }
    return fr.file + ":" + fr.line + (fr.function ? " in " + fr.function : "");
  }

  function frames(site) {
    if (!site || !site.frames || !site.frames.length) {
      return el("p", { "class": "none" }, "no stack recorded");
    }
    var list = el("ol", { "class": "frames" });
    site.frames.forEach(function (fr) {
      var li = el("li");
      if (fr.line > 0) {
        li.appendChild(el("span", { "class": "fn" }, fr.function || "?"));
        li.appendChild(document.createTextNode(" " + fr.file + ":" + fr.line));
        if (fr.source) {  // the line itself, as a Python traceback shows it
          li.appendChild(el("code", { "class": "src" }, fr.source));
        }
      } else {
        li.appendChild(el("span", { "class": "fn" }, frameText(fr)));
      }
      list.appendChild(li);
    });
    return list;
  }

  var MODES = { w: "", r: " (read)", R: " (recursive read)" };

  function lockName(name, instance, mode) {
    var text = name;
    if (instance && instance !== name) { text += " [" + instance + "]"; }
    return text + (MODES[mode] || "");
  }

  function dependency(dep, i, f) {
    var box = el("section", { "class": "dep", id: "dep-" + i });
    var events = {};
    f.classes.forEach(function (c) { if (c.kind === "event") { events[c.name] = true; } });
    var title = el("h3", null, "#" + i + "  " + dep.source + " \u2192 " + dep.target);
    var extra = [dep.types.join(",")];
    if (dep.count > 1) { extra.push("seen " + dep.count + " times"); }
    if (dep.tasks.length) { extra.push("tasks: " + dep.tasks.join(", ")); }
    title.appendChild(el("span", { "class": "n" }, extra.join("; ")));
    box.appendChild(title);
    var w = dep.witness;
    var stacks = el("div", { "class": "stacks" });
    var left = el("div", { "class": "stack holder" });
    var verb = events[dep.source] ? " signalled " : " holds ";
    left.appendChild(el("h4", null, w.task + verb +
      lockName(dep.source, w.holder_instance, w.holder_mode) + ", taken at:"));
    left.appendChild(frames(w.holder_site));
    var right = el("div", { "class": "stack acquirer" });
    var verb2 = events[dep.target] ? " waits for " : " then takes ";
    right.appendChild(el("h4", null, w.task + verb2 +
      lockName(dep.target, w.acquirer_instance, w.acquirer_mode) + ", at:"));
    right.appendChild(frames(w.acquirer_site));
    stacks.appendChild(left);
    stacks.appendChild(right);
    box.appendChild(stacks);
    return box;
  }

  function heldTable(f) {
    var table = el("table", { "class": "held" });
    var head = el("tr");
    ["#", "lock class", "instance", "mode", "taken at"].forEach(function (h) {
      head.appendChild(el("th", null, h));
    });
    table.appendChild(head);
    f.held.forEach(function (h, i) {
      var row = el("tr");
      row.appendChild(el("td", null, i));
      row.appendChild(el("td", null, h.lock_class));
      row.appendChild(el("td", null, h.instance));
      row.appendChild(el("td", null, (h.mode || "w") + (h.trylock ? " (trylock)" : "")));
      var cell = el("td");
      cell.appendChild(frames(h.site));
      row.appendChild(cell);
      table.appendChild(row);
    });
    return table;
  }

  function witnessTable(steps) {
    var tasks = [];
    steps.forEach(function (s) { if (tasks.indexOf(s.task) < 0) { tasks.push(s.task); } });
    var table = el("table", { "class": "witness" });
    var head = el("tr");
    tasks.concat(["site"]).forEach(function (t) { head.appendChild(el("th", null, t)); });
    table.appendChild(head);
    steps.forEach(function (s) {
      var row = el("tr", s.blocked ? { "class": "blocked" } : null);
      tasks.forEach(function (t) {
        row.appendChild(el("td", null, t === s.task ? s.event + (s.blocked ? " \u2190 blocks" : "") : ""));
      });
      var cell = el("td", { "class": "site" });
      if (s.site && s.site.frames && s.site.frames.length) { cell.textContent = frameText(s.site.frames[0]); }
      row.appendChild(cell);
      table.appendChild(row);
    });
    return table;
  }

  function renderDetail(body, f) {
    body.textContent = "";
    body.appendChild(el("h2", { "class": "kind-" + f.kind }, f.title));
    var meta = el("p", { "class": "meta" });
    var link = el("a", { href: "#" + f.id, title: "link to this finding" }, f.id);
    meta.appendChild(link);
    var facts = [];
    if (f.task) { facts.push("task " + f.task); }
    if (f.count > 1) { facts.push("seen " + f.count + " times"); }
    if (f.instance_level) { facts.push(f.instance_level + "-level"); }
    if (facts.length) { meta.appendChild(document.createTextNode(" \u00b7 " + facts.join(" \u00b7 "))); }
    body.appendChild(meta);
    if (f.pruned) { body.appendChild(el("p", { "class": "pruned-reason" }, "Pruned: " + f.pruned)); }
    if (f.suppressed) {
      body.appendChild(el("p", { "class": "pruned-reason" }, "Suppressed: " + f.suppressed));
    }
    if (f.verdict) {
      var state = f.confirmed ? "confirmed" : (f.confirmed === false ? "unconfirmed" : "unchecked");
      body.appendChild(el("p", { "class": "verdict-line " + state }, f.verdict));
    }
    if (f.witness && f.witness.length) {
      body.appendChild(el("h3", null, "schedule of this run that deadlocks"));
      body.appendChild(witnessTable(f.witness));
    }
    if (f.instance_cycle && f.instance_cycle.length) {
      body.appendChild(el("p", null, "Instance-level cycle: " +
        f.instance_cycle.concat([f.instance_cycle[0]]).join(" \u2192 ")));
    }
    if (f.notes && f.notes.length) {
      var notes = el("ul", { "class": "notes" });
      f.notes.forEach(function (n) { notes.appendChild(el("li", null, n)); });
      body.appendChild(notes);
    }
    if (f.site && f.site.frames && f.site.frames.length && !f.dependencies.length) {
      body.appendChild(el("h3", null, "at"));
      body.appendChild(frames(f.site));
    }
    f.dependencies.forEach(function (dep, i) { body.appendChild(dependency(dep, i, f)); });
    if (f.held && f.held.length) {
      body.appendChild(el("h3", null, "locks held by " + f.task));
      body.appendChild(heldTable(f));
    }
    var details = el("details", { "class": "text" });
    details.appendChild(el("summary", null, "lockdep-style text"));
    details.appendChild(el("pre", null, f.text));
    body.appendChild(details);
  }

  function flash(i) {
    var box = document.getElementById("dep-" + i);
    if (!box) { return; }
    box.scrollIntoView({ block: "nearest", behavior: "smooth" });
    box.classList.add("flash");
    setTimeout(function () { box.classList.remove("flash"); }, 1200);
  }

  /* -- the graph -------------------------------------------------------------- */

  var NODE_H = 30;

  function isCycle(g) {
    if (g.nodes.length < 2 || g.arcs.length !== g.nodes.length) { return false; }
    var out = {}, inn = {};
    g.arcs.forEach(function (a) {
      out[a.source] = (out[a.source] || 0) + 1;
      inn[a.target] = (inn[a.target] || 0) + 1;
    });
    return g.nodes.every(function (n) { return out[n.name] === 1 && inn[n.name] === 1; });
  }

  function layout(g, widths) {
    var pos = {};
    var n = g.nodes.length;
    if (isCycle(g)) {
      var widest = Math.max.apply(null, g.nodes.map(function (x) { return widths[x.name]; }));
      var r = Math.max(90, (n * (widest + 40)) / (2 * Math.PI), n === 2 ? widest * 0.6 + 40 : 0);
      var ry = Math.max(70, r * 0.62);
      // walk the cycle from the first node so arcs go round clockwise
      var next = {};
      g.arcs.forEach(function (a) { next[a.source] = a.target; });
      var name = g.nodes[0].name;
      for (var i = 0; i < n; i++) {
        var t = (n === 2 ? Math.PI : -Math.PI / 2) + (2 * Math.PI * i) / n;
        pos[name] = { x: r * Math.cos(t), y: ry * Math.sin(t) };
        name = next[name];
      }
      return pos;
    }
    // layered: longest path from the sources, back arcs ignored
    var succ = {}, index = {};
    g.nodes.forEach(function (x, k) { succ[x.name] = []; index[x.name] = k; });
    g.arcs.forEach(function (a) {
      if (a.source !== a.target && a.style !== "declared") { succ[a.source].push(a.target); }
    });
    var state = {}, order = [];
    function visit(v) {
      state[v] = 1;
      succ[v].forEach(function (w) { if (!state[w]) { visit(w); } });
      state[v] = 2;
      order.push(v);
    }
    g.nodes.forEach(function (x) { if (!state[x.name]) { visit(x.name); } });
    order.reverse();
    var rank = {};
    order.forEach(function (v) { rank[v] = rank[v] || 0; });
    order.forEach(function (v) {
      succ[v].forEach(function (w) {
        if (order.indexOf(w) > order.indexOf(v)) { rank[w] = Math.max(rank[w], rank[v] + 1); }
      });
    });
    var layers = [];
    g.nodes.forEach(function (x) {
      var k = rank[x.name];
      (layers[k] = layers[k] || []).push(x.name);
    });
    layers.forEach(function (layer, k) {
      var total = layer.reduce(function (s, v) { return s + widths[v] + 40; }, -40);
      var x = -total / 2;
      layer.forEach(function (v) {
        pos[v] = { x: x + widths[v] / 2, y: k * 90 };
        x += widths[v] + 40;
      });
    });
    return pos;
  }

  function border(p, q, w) {
    // where the segment from the centre p towards q leaves p's box
    var dx = q.x - p.x, dy = q.y - p.y;
    if (!dx && !dy) { return { x: p.x, y: p.y }; }
    var sx = dx ? (w / 2 + 3) / Math.abs(dx) : Infinity;
    var sy = dy ? (NODE_H / 2 + 3) / Math.abs(dy) : Infinity;
    var s = Math.min(sx, sy);
    return { x: p.x + dx * s, y: p.y + dy * s };
  }

  function drawGraph(box, f) {
    box.textContent = "";
    var g = f.graph;
    if (!g || !g.nodes.length) { return; }
    var widths = {};
    g.nodes.forEach(function (x) { widths[x.name] = Math.min(280, 16 + 7.1 * x.name.length); });
    var pos = layout(g, widths);
    var root = svg("svg", { role: "img", "aria-label": f.title });
    var defs = svg("defs");
    ["dependency", "closing", "held", "released", "exit", "violation", "declared"].forEach(function (s) {
      var marker = svg("marker", {
        id: "arrow-" + s, viewBox: "0 0 10 10", refX: "9", refY: "5",
        markerWidth: "11", markerHeight: "11", markerUnits: "userSpaceOnUse",
        orient: "auto-start-reverse"
      });
      marker.appendChild(svg("path", { d: "M0,0 L10,5 L0,10 z", "class": "head-" + s }));
      defs.appendChild(marker);
    });
    root.appendChild(defs);
    var pairs = {};
    g.arcs.forEach(function (a) { pairs[a.source + "\u0000" + a.target] = true; });
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    function extend(x, y) {
      minX = Math.min(minX, x); maxX = Math.max(maxX, x);
      minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
    g.nodes.forEach(function (x) {
      var p = pos[x.name];
      extend(p.x - widths[x.name] / 2, p.y - NODE_H / 2);
      extend(p.x + widths[x.name] / 2, p.y + NODE_H / 2);
    });
    var arcs = svg("g", { "class": "arcs" });
    g.arcs.forEach(function (a) {
      var group = svg("g", { "class": "arc " + a.style });
      var p = pos[a.source], q = pos[a.target], d, lx, ly;
      if (a.source === a.target) {
        var w = widths[a.source] / 2;
        d = "M" + (p.x + w * 0.4) + "," + (p.y - NODE_H / 2) + " C" + (p.x + w * 0.4) + "," +
          (p.y - NODE_H * 2.2) + " " + (p.x - w * 0.4) + "," + (p.y - NODE_H * 2.2) + " " +
          (p.x - w * 0.4) + "," + (p.y - NODE_H / 2 - 2);
        lx = p.x; ly = p.y - NODE_H * 1.9;
      } else {
        var a0 = border(p, q, widths[a.source]), b0 = border(q, p, widths[a.target]);
        var mx = (a0.x + b0.x) / 2, my = (a0.y + b0.y) / 2;
        var bend = pairs[a.target + "\u0000" + a.source] ? 28 : 0;
        var len = Math.sqrt((b0.x - a0.x) * (b0.x - a0.x) + (b0.y - a0.y) * (b0.y - a0.y)) || 1;
        var cx = mx - ((b0.y - a0.y) / len) * bend, cy = my + ((b0.x - a0.x) / len) * bend;
        d = "M" + a0.x + "," + a0.y + " Q" + cx + "," + cy + " " + b0.x + "," + b0.y;
        lx = (mx + cx) / 2; ly = (my + cy) / 2 - 4;
      }
      extend(lx - 40, ly - 12);
      extend(lx + 40, ly + 6);
      var path = svg("path", { d: d, "marker-end": "url(#arrow-" + a.style + ")" });
      group.appendChild(path);
      if (a.label) { group.appendChild(svg("text", { x: lx, y: ly, "text-anchor": "middle" }, a.label)); }
      var tip = a.source + " \u2192 " + a.target + (a.label ? " (" + a.label + ")" : "");
      group.appendChild(svg("title", null, tip));
      if (a.index >= 0) {
        group.addEventListener("click", function () { flash(a.index); });
      }
      arcs.appendChild(group);
    });
    var nodes = svg("g", { "class": "nodes" });
    g.nodes.forEach(function (x) {
      var p = pos[x.name], w = widths[x.name];
      var group = svg("g", { "class": "node " + x.kind, "data-name": x.name });
      group.appendChild(svg("rect", {
        x: p.x - w / 2, y: p.y - NODE_H / 2, width: w, height: NODE_H, rx: 6, ry: 6
      }));
      var label = x.name.length > 38 ? x.name.slice(0, 36) + "\u2026" : x.name;
      group.appendChild(svg("text", {
        x: p.x, y: p.y + 4, "text-anchor": "middle"
      }, label));
      group.appendChild(svg("title", null, x.name + " (click: filter by this lock class)"));
      group.addEventListener("click", function () {
        if (x.kind === "end") { return; }
        classFilter.value = x.name;
        applyFilters();
      });
      nodes.appendChild(group);
    });
    root.appendChild(arcs);
    root.appendChild(nodes);
    var m = 16;
    root.setAttribute("viewBox", [minX - m, minY - m, maxX - minX + 2 * m, maxY - minY + 2 * m].join(" "));
    root.setAttribute("height", String(Math.min(460, maxY - minY + 2 * m)));
    box.appendChild(root);
  }

  /* -- start ---------------------------------------------------------------------- */

  items.forEach(function (item) {
    item.querySelector("a").addEventListener("click", function () {
      select(Number(item.getAttribute("data-index")), false);
    });
  });
  applyFilters();
  if (!fromHash() && findings.length) {
    select(data.selected && byId[data.selected] !== undefined ? byId[data.selected] : 0, true);
  }
  document.documentElement.setAttribute("data-ready", "1");
})();
