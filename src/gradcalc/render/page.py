"""--graph FILE.html: the computation graph as one page to explore, offline.

The page is the SVG picture of svg.py, inline, with a few hundred lines of inline script and
style (nothing is fetched): search by name, op or tape id; a click on a box lights up its
inputs, its consumers and every path from it to the output; the boxes of a program line or of a
function call collapse into one box and expand again; drag to pan, the wheel to zoom. The first
screen shows the output and the boxes nearest it at a readable size, not the whole graph shrunk
to fit. The page is also well-formed XML (XHTML syntax), like the SVG inside it.

The page's address can drive it, for links and for tests: `#search=TEXT`, `#select=t5`,
`#fold=line:2`, `#fold=call:c5_7`, `#fold=lines` (every program line), joined with `&`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .svg import TITLE_CHARS, clip, escape

if TYPE_CHECKING:
    from .graph import Graph

_STYLE = """
body { margin: 0; font-family: sans-serif; font-size: 13px; color: #111827; }
header { display: flex; gap: 8px; align-items: center; padding: 6px 10px;
  border-bottom: 1px solid #e5e7eb; height: 28px; }
header input { width: 22em; font-size: 13px; padding: 2px 6px; }
header .hint { color: #6b7280; margin-left: auto; }
main { display: flex; height: calc(100vh - 41px); }
#view { flex: 1; overflow: hidden; cursor: grab; }
#view svg { width: 100%; height: 100%; user-select: none; }
aside { width: 330px; overflow: auto; border-left: 1px solid #e5e7eb; padding: 8px 10px; }
aside h2 { font-size: 13px; margin: 10px 0 4px; }
aside ol, aside ul { margin: 0; padding-left: 0; list-style: none; }
aside li { display: flex; gap: 6px; align-items: baseline; padding: 1px 0; }
aside li code { cursor: pointer; white-space: pre; overflow: hidden; text-overflow: ellipsis; }
aside li .no { color: #9ca3af; min-width: 2.5em; text-align: right; }
aside li.empty code { color: #9ca3af; cursor: default; }
aside li.folded code { background: #e0e7ff; }
aside button.fold { font-size: 11px; padding: 0 4px; min-width: 5.5em; }
#info pre { white-space: pre-wrap; margin: 4px 0; font-size: 12px; }
#info .what { color: #374151; }
svg.dim g.node:not(.lit), svg.dim g.edge:not(.lit) { opacity: 0.15; }
g.node.match rect { fill: #fef08a; stroke: #ca8a04; stroke-width: 4; }
g.node.sel rect { stroke: #db2777; stroke-width: 5; }
g.node.in rect { stroke: #059669; stroke-width: 4; }
g.node.out rect { stroke: #7c3aed; stroke-width: 4; }
g.node.path rect { stroke: #ea580c; stroke-width: 4; }
g.edge.in path { stroke: #059669; stroke-width: 2.5; }
g.edge.out path { stroke: #7c3aed; stroke-width: 2.5; }
g.edge.path path { stroke: #ea580c; stroke-width: 3; }
g.node.fold rect { fill: #e0e7ff; stroke: #4338ca; stroke-width: 2; }
g.node.fold { cursor: pointer; }
line.proxy { stroke: #4338ca; stroke-width: 1.3; stroke-dasharray: 4 3; }
"""

_SCRIPT = r"""//<![CDATA[
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var view = document.getElementById("view"), svg = view.querySelector("svg");
  var graph = svg.querySelector("g.graph"), info = document.getElementById("info");
  var field = document.getElementById("search"), found = document.getElementById("found");
  var full = svg.getAttribute("viewBox").split(" ").map(Number), box = full.slice();
  svg.removeAttribute("width"); svg.removeAttribute("height");
  var shift = /translate\(([-\d.]+) ([-\d.]+)\)/.exec(graph.getAttribute("transform"));
  var ox = shift ? +shift[1] : 0, oy = shift ? +shift[2] : 0;
  var nodes = {}, order = [], edges = [], output = null;
  var proxies = svg.ownerDocument.createElementNS(NS, "g");
  proxies.setAttribute("class", "proxies");
  graph.insertBefore(proxies, graph.firstChild);
  Array.prototype.forEach.call(graph.querySelectorAll("g.node"), function (g) {
    var b = g.getBBox(), tip = g.querySelector("title");
    nodes[g.id] = {el: g, id: g.id, x0: b.x, y0: b.y, x1: b.x + b.width, y1: b.y + b.height,
                   name: (g.getAttribute("data-name") || "").toLowerCase(),
                   op: (g.getAttribute("data-op") || "").toLowerCase(),
                   line: g.getAttribute("data-line"), call: g.getAttribute("data-call"),
                   text: tip ? tip.textContent : g.id, ins: [], outs: [], fold: null};
    order.push(g.id);
    if (g.classList.contains("output")) { output = g.id; }
  });
  Array.prototype.forEach.call(graph.querySelectorAll("g.edge"), function (g) {
    var e = {el: g, tail: g.getAttribute("data-tail"), head: g.getAttribute("data-head")};
    if (nodes[e.tail] && nodes[e.head]) {
      edges.push(e);
      nodes[e.tail].outs.push(e.head);
      nodes[e.head].ins.push(e.tail);
    }
  });

  // ---- the view: a region of the graph at a readable size
  function show() { svg.setAttribute("viewBox", box.join(" ")); }
  function unitsPerPixel() {
    var r = svg.getBoundingClientRect();
    return Math.max(box[2] / r.width, box[3] / r.height);
  }
  function bounds(ids) {
    var b = [Infinity, Infinity, -Infinity, -Infinity];
    ids.forEach(function (id) {
      var n = place(id);
      b = [Math.min(b[0], n.x0), Math.min(b[1], n.y0), Math.max(b[2], n.x1),
           Math.max(b[3], n.y1)];
    });
    return b;
  }
  var READABLE = 0.9;                        // pixels per unit: 12 px text stays >= 10.8 px
  function frame(ids, lean) {                // show these boxes, the first one for sure
    if (!ids.length) { return; }
    var b = bounds(ids), r = svg.getBoundingClientRect(), pad = 30;
    var k = Math.min((r.width - 2 * pad) / Math.max(b[2] - b[0], 1),
                     (r.height - 2 * pad) / Math.max(b[3] - b[1], 1), 1.25);
    var cx = ox + (b[0] + b[2]) / 2, cy = oy + (b[1] + b[3]) / 2;
    if (k < READABLE) {                      // too many to show readably: the first, and
      var f = place(ids[0]);                 // the way its inputs come from (lean: -1 left)
      k = READABLE;
      cx = ox + (f.x0 + f.x1) / 2 + (lean || 0) * 0.3 * r.width / k;
      cy = oy + (f.y0 + f.y1) / 2;
    }
    box = [cx - r.width / k / 2, cy - r.height / k / 2, r.width / k, r.height / k];
    show();
  }
  function near(id, depth) {                 // a box and those within depth edges upstream
    var seen = {}, level = [id], all = [id];
    seen[id] = true;
    for (var d = 0; d < depth; d++) {
      var next = [];
      level.forEach(function (i) {
        nodes[i].ins.forEach(function (t) {
          if (!seen[t]) { seen[t] = true; next.push(t); all.push(t); }
        });
      });
      level = next;
    }
    return all;
  }
  function home() {
    var start = output || order[order.length - 1];
    if (start) { frame(near(start, 2), -1); }
  }
  view.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var r = svg.getBoundingClientRect(), s = unitsPerPixel(), k = ev.deltaY > 0 ? 1.2 : 1 / 1.2;
    var px = box[0] + box[2] / 2 + (ev.clientX - r.left - r.width / 2) * s;
    var py = box[1] + box[3] / 2 + (ev.clientY - r.top - r.height / 2) * s;
    box = [px - (px - box[0]) * k, py - (py - box[1]) * k, box[2] * k, box[3] * k];
    show();
  }, {passive: false});
  var drag = null, moved = false;
  view.addEventListener("mousedown", function (ev) {
    drag = [ev.clientX, ev.clientY, box[0], box[1], unitsPerPixel()]; moved = false;
  });
  window.addEventListener("mousemove", function (ev) {
    if (drag === null) { return; }
    if (Math.abs(ev.clientX - drag[0]) + Math.abs(ev.clientY - drag[1]) > 3) { moved = true; }
    box[0] = drag[2] - (ev.clientX - drag[0]) * drag[4];
    box[1] = drag[3] - (ev.clientY - drag[1]) * drag[4];
    show();
  });
  window.addEventListener("mouseup", function () { drag = null; });
  view.addEventListener("dblclick", function () { box = full.slice(); show(); });

  // ---- marks: selection, inputs, consumers, path to the output, search matches
  function marked(cls) { return Array.prototype.slice.call(svg.querySelectorAll("." + cls)); }
  function unmark(names) {
    names.forEach(function (c) { marked(c).forEach(function (el) { el.classList.remove(c); }); });
  }
  function reach(id, way) {
    var seen = {}, stack = [id];
    seen[id] = true;
    while (stack.length) {
      nodes[stack.pop()][way].forEach(function (j) {
        if (!seen[j]) { seen[j] = true; stack.push(j); }
      });
    }
    return seen;
  }
  function clearSelection() {
    unmark(["sel", "in", "out", "path", "lit"]);
    svg.classList.remove("dim");
    say(["Click a box: its inputs (green), consumers (violet) and the paths from it to " +
         "the output (orange) light up."], null);
  }
  function select(id) {
    if (!nodes[id]) { return; }
    if (nodes[id].fold) { unfold(nodes[id].fold); }
    clearSelection();
    var n = nodes[id], down = reach(id, "outs"), up = output ? reach(output, "ins") : {};
    svg.classList.add("dim");
    n.el.classList.add("sel", "lit");
    var onPath = 0;
    order.forEach(function (j) {
      if (down[j] && up[j] && j !== id) { nodes[j].el.classList.add("path", "lit"); onPath++; }
    });
    n.ins.forEach(function (j) { nodes[j].el.classList.add("in", "lit"); });
    n.outs.forEach(function (j) { nodes[j].el.classList.add("out", "lit"); });
    edges.forEach(function (e) {
      if (e.head === id) { e.el.classList.add("in", "lit"); }
      else if (e.tail === id) { e.el.classList.add("out", "lit"); }
      if (down[e.tail] && up[e.tail] && down[e.head] && up[e.head]) {
        e.el.classList.add("path", "lit");
      }
    });
    var lines = n.text.split("\n");
    lines.push(n.ins.length + " input" + (n.ins.length === 1 ? "" : "s") + ", " +
               n.outs.length + " consumer" + (n.outs.length === 1 ? "" : "s") + "; " +
               (id === output ? "this is the output" : down[output] ?
                onPath + " more boxes on the paths to the output" :
                "no path to the output"));
    say(lines, n);
  }
  function say(lines, n) {
    info.textContent = "";
    var pre = document.createElement("pre");
    pre.textContent = lines.join("\n");
    info.appendChild(pre);
    if (n === null) { return; }
    [["line", n.line, "line " + n.line], ["call", n.call, "this call"]].forEach(function (g) {
      if (!g[1]) { return; }
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = "collapse " + g[2];
      b.addEventListener("click", function () { fold(g[0] + ":" + g[1]); });
      info.appendChild(b);
    });
  }
  var hits = [], at = 0;
  function search(text) {
    unmark(["match"]);
    var q = text.trim().toLowerCase();
    hits = [];
    if (q) {
      var exact = [], partial = [];
      order.forEach(function (id) {
        var n = nodes[id];
        if (id.toLowerCase() === q || n.name === q || n.op === q) { exact.push(id); }
        else if (n.name.indexOf(q) >= 0) { partial.push(id); }
      });
      hits = exact.concat(partial);
    }
    hits.forEach(function (id) {
      var n = nodes[id];
      if (n.fold) { unfold(n.fold); }
      n.el.classList.add("match");
    });
    found.textContent = q ? hits.length + (hits.length === 1 ? " box" : " boxes") : "";
    at = 0;
    if (hits.length) { frame(near(hits[0], 1)); }
    return hits;
  }
  field.addEventListener("input", function () { search(field.value); });
  field.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && hits.length) {
      at = (at + (ev.shiftKey ? hits.length - 1 : 1)) % hits.length;
      frame(near(hits[at], 1));
      found.textContent = (at + 1) + " of " + hits.length;
    } else if (ev.key === "Escape") { field.value = ""; search(""); }
  });
  window.addEventListener("keydown", function (ev) {
    if (ev.key === "/" && document.activeElement !== field) { ev.preventDefault(); field.focus(); }
  });

  // ---- collapse and expand: a program line's or a call's boxes as one box
  var folds = {};
  function place(id) {                       // where a box is drawn now (its fold's box)
    var n = nodes[id];
    return n.fold ? folds[n.fold] : n;
  }
  function members(key) {
    var kind = key.slice(0, key.indexOf(":")), value = key.slice(key.indexOf(":") + 1);
    return order.filter(function (id) {
      return (kind === "line" ? nodes[id].line : nodes[id].call) === value;
    });
  }
  function fold(key, quiet) {
    var ids = members(key);
    if (!ids.length || folds[key]) { return false; }
    Object.keys(folds).forEach(function (k) {
      if (folds[k].ids.some(function (id) { return ids.indexOf(id) >= 0; })) { unfold(k, true); }
    });
    clearSelection();
    var b = [Infinity, Infinity, -Infinity, -Infinity], last = nodes[ids[ids.length - 1]];
    ids.forEach(function (id) {
      var n = nodes[id];
      b = [Math.min(b[0], n.x0), Math.min(b[1], n.y0), Math.max(b[2], n.x1),
           Math.max(b[3], n.y1)];
      n.fold = key;
      n.el.style.display = "none";
    });
    var label = document.querySelector("[data-group='" + key + "'] code");
    var head = (key.indexOf("line:") === 0 ? "line " + key.slice(5) + ": " : "") +
               (label ? label.textContent.trim() : key);
    var text = [head.length > 44 ? head.slice(0, 41) + "..." : head,
                ids.length + " boxes (click to expand)",
                (last.text.split("\n").filter(function (s) {
                  return s.indexOf("value ") === 0;
                })[0] || "")];
    var w = 16 + 7.25 * Math.max.apply(null, text.map(function (s) { return s.length; }));
    var h = 12 + 15 * text.length, cx = (b[0] + b[2]) / 2, cy = (b[1] + b[3]) / 2;
    var g = document.createElementNS(NS, "g");
    g.setAttribute("class", "node fold");
    g.setAttribute("data-fold", key);
    var r = document.createElementNS(NS, "rect");
    [["x", cx - w / 2], ["y", cy - h / 2], ["width", w], ["height", h], ["rx", 6]]
      .forEach(function (a) { r.setAttribute(a[0], a[1]); });
    g.appendChild(r);
    text.forEach(function (s, k) {
      var t = document.createElementNS(NS, "text");
      t.setAttribute("x", cx - w / 2 + 8);
      t.setAttribute("y", cy - h / 2 + 6 + 15 * (k + 1) - 4);
      t.textContent = s;
      g.appendChild(t);
    });
    g.addEventListener("click", function (ev) { ev.stopPropagation(); unfold(key); });
    graph.appendChild(g);
    folds[key] = {ids: ids, el: g, x0: cx - w / 2, y0: cy - h / 2, x1: cx + w / 2,
                  y1: cy + h / 2};
    var item = document.querySelector("[data-group='" + key + "']");
    if (item) {
      item.classList.add("folded");
      item.querySelector("button").textContent = "expand";
    }
    rewire();
    if (!quiet) { frame([ids[0]]); }         // the folded box, in view
    return true;
  }
  function unfold(key, quiet) {
    var f = folds[key];
    if (!f) { return; }
    f.ids.forEach(function (id) { nodes[id].fold = null; nodes[id].el.style.display = ""; });
    f.el.parentNode.removeChild(f.el);
    delete folds[key];
    var item = document.querySelector("[data-group='" + key + "']");
    if (item) {
      item.classList.remove("folded");
      item.querySelector("button").textContent = "collapse";
    }
    if (!quiet) { rewire(); }
  }
  function rewire() {                        // edges into folded boxes become straight lines
    while (proxies.firstChild) { proxies.removeChild(proxies.firstChild); }
    var drawn = {};
    edges.forEach(function (e) {
      var t = nodes[e.tail].fold, h = nodes[e.head].fold;
      e.el.style.display = t || h ? "none" : "";
      if (!(t || h) || t === h) { return; }
      var a = place(e.tail), b = place(e.head), key = (t || e.tail) + ">" + (h || e.head);
      if (drawn[key]) { return; }
      drawn[key] = true;
      var l = document.createElementNS(NS, "line");
      l.setAttribute("class", "proxy");
      l.setAttribute("x1", a.x1); l.setAttribute("y1", (a.y0 + a.y1) / 2);
      l.setAttribute("x2", b.x0); l.setAttribute("y2", (b.y0 + b.y1) / 2);
      proxies.appendChild(l);
    });
  }
  function foldAll(kind) {
    var keys = {};
    order.forEach(function (id) {
      var v = kind === "line" ? nodes[id].line : nodes[id].call;
      if (v) { keys[kind + ":" + v] = (keys[kind + ":" + v] || 0) + 1; }
    });
    Object.keys(keys).forEach(function (k) { if (keys[k] > 1) { fold(k, true); } });
    home();
  }
  function unfoldAll() {
    Object.keys(folds).forEach(function (k) { unfold(k, true); });
    rewire();
  }

  // ---- clicks, the side panel and the buttons
  graph.addEventListener("click", function (ev) {
    if (moved) { return; }
    var g = ev.target.closest ? ev.target.closest("g.node") : null;
    if (g && nodes[g.id]) { select(g.id); ev.stopPropagation(); }
  });
  view.addEventListener("click", function (ev) {
    if (!moved && !(ev.target.closest && ev.target.closest("g.node"))) { clearSelection(); }
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-group]"), function (li) {
    var key = li.getAttribute("data-group"), ids = members(key), b = li.querySelector("button");
    if (ids.length < 2) { li.classList.add("empty"); b.disabled = true; }
    b.addEventListener("click", function () {
      if (folds[key]) { unfold(key); } else { fold(key); }
    });
    li.querySelector("code").addEventListener("click", function () {
      if (!ids.length) { return; }
      unmark(["match"]);
      ids.forEach(function (id) { nodes[id].el.classList.add("match"); });
      frame(ids);
    });
  });
  document.getElementById("fit").addEventListener("click", function () {
    box = full.slice(); show();
  });
  document.getElementById("home").addEventListener("click", home);
  document.getElementById("fold-lines").addEventListener("click", function () {
    foldAll("line");
  });
  document.getElementById("unfold").addEventListener("click", unfoldAll);

  // ---- the first screen, and what the address asks for
  clearSelection();
  home();
  (location.hash || "").replace(/^#/, "").split("&").forEach(function (part) {
    var eq = part.indexOf("=");
    if (eq < 0) { return; }
    var key = part.slice(0, eq), value = decodeURIComponent(part.slice(eq + 1));
    if (key === "search") { field.value = value; search(value); }
    else if (key === "select") { select(value); frame(near(value, 1)); }
    else if (key === "fold") {
      value.split(",").forEach(function (k) {
        if (k === "lines" || k === "calls") { foldAll(k.slice(0, -1)); } else { fold(k); }
      });
    }
  });
  window.gradcalcGraph = {search: search, select: select, fold: fold, unfold: unfold,
                          home: home, view: function () { return box.slice(); },
                          whole: function () { return full.slice(); }};
})();
//]]>"""


def to_html(graph: Graph, picture: str) -> str:
    """One page that opens in any browser, offline: a toolbar (search, fit, output, collapse
    and expand), the SVG inline, and a side panel with the selected box, the program's lines
    and the function calls, each of which collapses into one box."""
    lines = [f'<li data-group="line:{k}"><span class="no">{k}</span>'
             f'<button type="button" class="fold">collapse</button>'
             f"<code>{escape(clip(text, TITLE_CHARS))}</code></li>"
             for k, text in enumerate(graph.source, 1)]
    calls = [f'<li data-group="call:{escape(key)}"><button type="button" class="fold">collapse'
             f"</button><code>{escape(label)}</code></li>" for key, label in graph.calls.items()]
    side = ['<aside>', '<section id="info"></section>', "<h2>program lines</h2>",
            "<ol>", *lines, "</ol>"]
    if calls:
        side += ["<h2>function calls</h2>", "<ul>", *calls, "</ul>"]
    side.append("</aside>")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8"/>',
        f"<title>{escape(clip('gradcalc: ' + graph.title, TITLE_CHARS))}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<header>",
        '<input id="search" type="search" placeholder="search a name, op or id (t5); '
        'Enter: next" aria-label="search"/>',
        '<span id="found"></span>',
        '<button type="button" id="home">output</button>',
        '<button type="button" id="fit">whole graph</button>',
        '<button type="button" id="fold-lines">collapse every line</button>',
        '<button type="button" id="unfold">expand all</button>',
        '<span class="hint">drag to pan, wheel to zoom, click a box; / to search</span>',
        "</header>",
        "<main>",
        '<div id="view">',
        picture.rstrip("\n"),
        "</div>",
        *side,
        "</main>",
        f"<script>\n{_SCRIPT}\n</script>",
        "</body>",
        "</html>",
    ]) + "\n"
