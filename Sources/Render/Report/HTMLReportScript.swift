/// The HTML report's script: draws the timeline (hover values, drag to select a time range) and
/// the flame graphs (kind switch, click to zoom, search) from the page's JSON block, and sorts the
/// tables. A selected range zooms the timeline and, from the figures by time slice, filters the
/// call sites' allocations and bytes and the allocated and allocations flame graphs. Marks
/// `<body data-ready="1">` when done; errors go to `data-errors` on `<html>` (see the page head).
enum HTMLReportScript {
    static let source = #"""
    (function () {
      "use strict";
      var data = JSON.parse(document.getElementById("report-data").textContent);
      var SVG = "http://www.w3.org/2000/svg";

      function count(v) { return String(Math.round(v)).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
      function bytes(v) {
        if (v < 1024) return Math.round(v) + " B";
        var units = ["KiB", "MiB", "GiB", "TiB", "PiB"], u = 0;
        v /= 1024;
        while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
        return v.toFixed(1) + " " + units[u];
      }
      function seconds(ns) { return (ns / 1e9).toFixed(3) + " s"; }
      function el(name, attrs, parent) {
        var e = document.createElementNS(SVG, name);
        for (var k in attrs) e.setAttribute(k, attrs[k]);
        if (parent) parent.appendChild(e);
        return e;
      }

      // ---- Time range: the whole slices a selection overlaps, and what redraws for it ----
      var range = null, rangeListeners = [];
      function sliceSpan(r) { return seconds(r.k1 * data.slices.widthNs) + "\u2013" + seconds((r.k2 + 1) * data.slices.widthNs); }
      function rangeText(r) {
        return seconds(r.a) + "\u2013" + seconds(r.b) + " (slices " + r.k1 + "\u2013" + r.k2 + " of " + data.slices.count + ": " + sliceSpan(r) + ")";
      }
      // Selects [a, b] in ns (null: the whole run) and tells every listener.
      function setRange(a, b) {
        if (!data.slices) return;
        var w = data.slices.widthNs, last = data.slices.count - 1;
        function slice(ns) { return Math.min(last, Math.max(0, Math.floor(ns / w))); }
        range = a === null ? null : { a: a, b: b, k1: slice(a), k2: slice(b) };
        for (var i = 0; i < rangeListeners.length; i++) rangeListeners[i](range);
      }
      function onRange(f) { rangeListeners.push(f); }

      // ---- Sorting tables (by a column's data-v) ----
      function sortRows(table, col, desc, numeric) {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col] ? a.cells[col].getAttribute("data-v") || "" : "", y = b.cells[col] ? b.cells[col].getAttribute("data-v") || "" : "";
          var r = numeric ? (Number(x) - Number(y)) : (x < y ? -1 : x > y ? 1 : 0);
          return desc ? -r : r;
        });
        for (var r = 0; r < rows.length; r++) body.appendChild(rows[r]);
      }

      // ---- Timeline ----
      (function timeline() {
        var box = document.getElementById("timeline-chart");
        var info = document.getElementById("timeline-info");
        var t = data.timeline.t, heap = data.timeline.heap, rss = data.timeline.rss;
        var W = 1200, H = 300, L = 78, R = 40, T = 16, B = 34;
        var full = [0, Math.max(data.durationNs, t.length ? t[t.length - 1] : 0, 1)];
        var domain = full.slice();
        // The plot spans x from L to W - R of the view box (data-plot: for tests that drag across it).
        var svg = el("svg", { viewBox: "0 0 " + W + " " + H, id: "timeline-svg", "data-plot": L + " " + (W - R) }, box);
        var maxY = 1;
        for (var i = 0; i < t.length; i++) maxY = Math.max(maxY, heap[i], rss[i]);
        maxY = Math.max(maxY, data.peakHeap.v, data.peakRSS.v) * 1.05;
        var g = el("g", {}, svg);
        var cursor = el("line", { y1: T, y2: H - B, stroke: "#888", "stroke-dasharray": "3,3", visibility: "hidden" }, svg);
        var band = el("rect", { y: T, height: H - T - B, fill: "rgba(26,95,180,0.15)", visibility: "hidden" }, svg);
        function x(v) { return L + (v - domain[0]) / (domain[1] - domain[0]) * (W - L - R); }
        function y(v) { return H - B - v / maxY * (H - T - B); }
        function tAt(px) { return domain[0] + (px - L) / (W - L - R) * (domain[1] - domain[0]); }
        function draw() {
          while (g.firstChild) g.removeChild(g.firstChild);
          var axis = el("g", { "class": "axis" }, g);
          for (var k = 0; k <= 4; k++) {
            var v = maxY / 1.05 * k / 4;
            el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), "class": "grid" }, axis);
            el("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, axis).textContent = bytes(v);
          }
          // Time ticks at a round step (1, 2 or 5 times a power of ten), labelled with enough decimals.
          var raw = (domain[1] - domain[0]) / 6e9, step = Math.pow(10, Math.floor(Math.log10(raw)));
          if (raw / step >= 5) step *= 5; else if (raw / step >= 2) step *= 2;
          var decimals = Math.max(0, Math.min(9, -Math.floor(Math.log10(step) + 1e-9)));
          for (var tv = Math.ceil(domain[0] / 1e9 / step) * step; tv * 1e9 <= domain[1] + 1; tv += step) {
            el("text", { x: x(tv * 1e9), y: H - B + 16, "text-anchor": "middle" }, axis).textContent = tv.toFixed(decimals) + " s";
          }
          el("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#999" }, axis);
          var clip = "timeline-clip";
          var defs = el("defs", {}, g);
          el("rect", { x: L, y: 0, width: W - L - R, height: H }, el("clipPath", { id: clip }, defs));
          var plot = el("g", { "clip-path": "url(#" + clip + ")" }, g);
          // Steps: a sample's value holds until the next sample (events carry the last tick's time).
          function line(values, colour, id) {
            var pts = [];
            for (var i = 0; i < t.length; i++) {
              if (i > 0) pts.push(x(t[i]).toFixed(1) + "," + y(values[i - 1]).toFixed(1));
              pts.push(x(t[i]).toFixed(1) + "," + y(values[i]).toFixed(1));
            }
            el("polyline", { points: pts.join(" "), fill: "none", stroke: colour, "stroke-width": 1.6, id: id }, plot);
            if (t.length < 60) for (var j = 0; j < t.length; j++) el("circle", { cx: x(t[j]), cy: y(values[j]), r: 2.5, fill: colour }, plot);
          }
          line(rss, "#1a5fb4", "timeline-rss");
          line(heap, "#d9480f", "timeline-heap");
          var px = x(data.peakHeap.t);
          el("line", { x1: px, x2: px, y1: T, y2: H - B, stroke: "#d9480f", "stroke-width": 1, "stroke-dasharray": "5,3" }, plot);
          el("circle", { cx: px, cy: y(data.peakHeap.v), r: 4, fill: "#d9480f", id: "timeline-peak" }, plot);
          if (data.peakHeap.t >= domain[0] && data.peakHeap.t <= domain[1]) {
            el("text", { x: Math.min(px + 6, W - 190), y: y(data.peakHeap.v) - 6, fill: "#d9480f", "font-size": 12 }, plot)
              .textContent = "heap peak " + bytes(data.peakHeap.v) + " at " + seconds(data.peakHeap.t);
          }
          var legend = el("g", { "class": "legend" }, g);
          el("rect", { x: W - R - 210, y: T + 2, width: 12, height: 3, fill: "#d9480f" }, legend);
          el("text", { x: W - R - 194, y: T + 7, "font-size": 12 }, legend).textContent = "live heap";
          el("rect", { x: W - R - 120, y: T + 2, width: 12, height: 3, fill: "#1a5fb4" }, legend);
          el("text", { x: W - R - 104, y: T + 7, "font-size": 12 }, legend).textContent = "RSS";
        }
        function toSVG(ev) {
          var r = svg.getBoundingClientRect();
          return (ev.clientX - r.left) / r.width * W;
        }
        function nearest(tv) {
          var lo = 0, hi = t.length - 1;
          while (lo < hi) { var mid = (lo + hi) >> 1; if (t[mid] < tv) lo = mid + 1; else hi = mid; }
          if (lo > 0 && Math.abs(t[lo - 1] - tv) < Math.abs(t[lo] - tv)) lo--;
          return lo;
        }
        var dragFrom = null;
        svg.addEventListener("mousemove", function (ev) {
          var px = toSVG(ev);
          if (dragFrom !== null) {
            band.setAttribute("x", Math.min(dragFrom, px));
            band.setAttribute("width", Math.abs(px - dragFrom));
            band.setAttribute("visibility", "visible");
          }
          if (!t.length || px < L || px > W - R) { cursor.setAttribute("visibility", "hidden"); return; }
          var i = nearest(tAt(px));
          cursor.setAttribute("x1", x(t[i])); cursor.setAttribute("x2", x(t[i]));
          cursor.setAttribute("visibility", "visible");
          info.textContent = "t " + seconds(t[i]) + "   live heap " + bytes(heap[i]) + "   RSS " + bytes(rss[i]);
        });
        svg.addEventListener("mouseleave", function () { cursor.setAttribute("visibility", "hidden"); });
        svg.addEventListener("mousedown", function (ev) { dragFrom = toSVG(ev); ev.preventDefault(); });
        window.addEventListener("mouseup", function (ev) {
          if (dragFrom === null) return;
          var a = tAt(Math.min(dragFrom, toSVG(ev))), b = tAt(Math.max(dragFrom, toSVG(ev)));
          dragFrom = null;
          band.setAttribute("visibility", "hidden");
          if (b - a > (domain[1] - domain[0]) / 200) zoomTo(Math.max(full[0], a), Math.min(full[1], b));
        });
        function zoomTo(a, b) {
          domain = [a, b];
          box.setAttribute("data-zoom", Math.round(a) + "-" + Math.round(b));
          // Figures of the selected range, from the timeline's points inside it.
          var first = -1, last = -1, top = 0;
          for (var i = 0; i < t.length; i++) if (t[i] >= a && t[i] <= b) { if (first < 0) first = i; last = i; top = Math.max(top, heap[i]); }
          var figures = first < 0 ? "no samples in the range" :
            "highest live heap " + bytes(top) + ", heap " + (heap[last] >= heap[first] ? "+" : "-") + bytes(Math.abs(heap[last] - heap[first]))
            + ", RSS " + (rss[last] >= rss[first] ? "+" : "-") + bytes(Math.abs(rss[last] - rss[first]));
          box.setAttribute("data-range-peak", String(top));
          setRange(a, b);
          info.textContent = "showing " + seconds(a) + " to " + seconds(b) + ": " + figures
            + (range ? "; call sites and allocation flame graphs: slices " + range.k1 + "\u2013" + range.k2 + " (" + sliceSpan(range) + ")" : " (timeline only)");
          draw();
        }
        function wholeRun() {
          domain = full.slice();
          box.removeAttribute("data-zoom");
          info.textContent = "\u00a0";
          setRange(null);
          draw();
        }
        svg.addEventListener("dblclick", wholeRun);
        var resets = document.querySelectorAll("button.whole-run");
        for (var r = 0; r < resets.length; r++) resets[r].addEventListener("click", wholeRun);
        window.reportTimeline = { zoomTo: zoomTo, wholeRun: wholeRun };
        draw();
      })();

      // ---- Flame graphs ----
      (function flameGraphs() {
        var box = document.getElementById("fg");
        var caption = document.getElementById("fg-caption");
        var details = document.getElementById("fg-details");
        var search = document.getElementById("fg-search");
        var buttons = document.getElementById("fg-tabs").getElementsByTagName("button");
        var ROW = 18;
        var current = null, zoomed = 0, graphs = {};
        function load(kind) {
          if (graphs[kind]) return graphs[kind];
          var src = data.graphs[kind], a = src.nodes, n = a.length / 6;
          var nodes = [];
          for (var i = 0; i < n; i++) {
            var p = a[6 * i];
            nodes.push({ parent: p, name: a[6 * i + 1], loc: a[6 * i + 2], weight: a[6 * i + 3], bytes: a[6 * i + 4], count: a[6 * i + 5],
                         depth: p < 0 ? 0 : nodes[p].depth + 1, children: [] });
            if (p >= 0) nodes[p].children.push(i);
          }
          graphs[kind] = { kind: kind, src: src, nodes: nodes };
          return graphs[kind];
        }
        // The graph of the selected slices: each sliced frame's figure summed over them.
        function rangeGraph(kind) {
          var base = load(kind), src = data.graphs[kind].sliced, a = src.nodes, v = src.values, nodes = [], at = 0;
          for (var i = 0; i < a.length / 2; i++) {
            var p = a[2 * i], s = a[2 * i + 1], n = v[at++], k = 0, w = 0;
            for (var j = 0; j < n; j++) {
              k += v[at++];
              if (k >= range.k1 && k <= range.k2) w += v[at];
              at++;
            }
            var from = s >= 0 ? base.nodes[s] : null;
            nodes.push({ parent: p, name: from ? from.name : -1, loc: from ? from.loc : -s, weight: w,
                         depth: p < 0 ? 0 : nodes[p].depth + 1, children: [] });
            if (p >= 0) nodes[p].children.push(i);
          }
          // Heaviest in the range first, merged frames last.
          function order(x, y) {
            var mx = nodes[x].name < 0, my = nodes[y].name < 0;
            return mx !== my ? (mx ? 1 : -1) : (nodes[y].weight - nodes[x].weight) || (x - y);
          }
          for (var q = 0; q < nodes.length; q++) nodes[q].children.sort(order);
          return { kind: kind, src: data.graphs[kind], nodes: nodes, range: range, merged: src.merged };
        }
        function nameOf(node) { return node.name < 0 ? "(" + node.loc + " smaller frames)" : data.names[node.name]; }
        function colour(name) {
          var h = 0x811c9dc5;
          for (var i = 0; i < name.length; i++) { h ^= name.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
          return "rgb(" + (205 + (h & 0x31)) + "," + (60 + ((h >>> 8) % 160)) + "," + ((h >>> 16) % 55) + ")";
        }
        function describe(g, node) {
          var total = g.nodes[0].weight;
          var share = total ? (node.weight * 100 / total).toFixed(1) + "%" : "0.0%";
          var where = node.name >= 0 && node.loc >= 0 ? " (" + data.locations[node.loc] + ")" : "";
          var fig;
          if (g.range) return nameOf(node) + where + ": " + (g.src.bytes ? bytes(node.weight) + " allocated" : count(node.weight) + " allocations")
            + " in slices " + g.range.k1 + "\u2013" + g.range.k2 + ", " + share;
          switch (g.kind) {
            case "allocated": fig = bytes(node.bytes) + " in " + count(node.count) + " allocations"; break;
            case "allocations": fig = count(node.count) + " allocations (" + bytes(node.bytes) + ")"; break;
            case "peak": case "leaked": fig = bytes(node.bytes) + " in " + count(node.count) + " blocks"; break;
            default: fig = count(node.count) + " temporary allocations";
          }
          return nameOf(node) + where + ": " + fig + ", " + share;
        }
        function render() {
          var g = current;
          while (box.firstChild) box.removeChild(box.firstChild);
          var width = box.clientWidth || 1200;
          var top = g.nodes[zoomed];
          var maxDepth = 0;
          for (var i = 0; i < g.nodes.length; i++) maxDepth = Math.max(maxDepth, g.nodes[i].depth);
          box.style.height = ((maxDepth + 1) * ROW + 2) + "px";
          var drawn = 0;
          var frag = document.createDocumentFragment();
          function frame(i, x, w, ancestor) {
            var node = g.nodes[i];
            var d = document.createElement("div");
            d.className = "fr" + (ancestor ? " ancestor" : "");
            d.style.left = x.toFixed(1) + "px";
            d.style.width = Math.max(w - 1, 1).toFixed(1) + "px";
            d.style.top = (node.depth * ROW) + "px";
            var name = nameOf(node);
            d.style.background = node.name < 0 ? "rgb(190,190,190)" : (i === 0 ? "rgb(240,180,100)" : colour(name));
            if (w > 24) d.textContent = name;
            d.setAttribute("data-i", i);
            frag.appendChild(d);
            drawn++;
          }
          // Ancestors of the zoomed frame span the width, dimmed.
          for (var a = top.parent; a >= 0; a = g.nodes[a].parent) frame(a, 0, width, true);
          var scale = top.weight ? width / top.weight : 0;
          var pending = [[zoomed, 0]];
          while (pending.length) {
            var item = pending.pop(), idx = item[0], x0 = item[1];
            var w0 = g.nodes[idx].weight * scale;
            if (w0 < 0.4) continue;
            frame(idx, x0, w0, false);
            var cx = x0, kids = g.nodes[idx].children;
            for (var c = 0; c < kids.length; c++) {
              pending.push([kids[c], cx]);
              cx += g.nodes[kids[c]].weight * scale;
            }
          }
          box.appendChild(frag);
          box.setAttribute("data-kind", g.kind);
          box.setAttribute("data-frames", drawn);
          box.setAttribute("data-total", g.nodes[0].weight);
          if (g.range) box.setAttribute("data-range", g.range.k1 + "-" + g.range.k2); else box.removeAttribute("data-range");
          var total = g.src.bytes ? bytes(g.nodes[0].weight) : count(g.nodes[0].weight);
          if (g.range) {
            caption.textContent = "Flame graph of " + g.src.caption + " in " + rangeText(g.range) + ": total " + total + " (" + count(g.nodes.length)
              + " frames" + (g.merged ? "; " + count(g.merged) + " lighter frames of the whole-run graph merged for time ranges" : "") + ")";
          } else {
            caption.textContent = "Flame graph of " + g.src.caption + ": total " + total + " (" + count(g.nodes.length) + " of " + count(g.src.full)
              + " frames kept)" + (range ? "; the whole run: a time range filters only the allocated and allocations graphs" : "");
          }
          if (zoomed) caption.textContent += "; zoomed on " + nameOf(top);
          if (search.value) highlight(search.value);
        }
        function show(kind) {
          current = range && data.graphs[kind].sliced ? rangeGraph(kind) : load(kind);
          zoomed = 0;
          for (var i = 0; i < buttons.length; i++) buttons[i].className = buttons[i].getAttribute("data-kind") === kind ? "active" : "";
          render();
        }
        function highlight(text) {
          var divs = box.getElementsByClassName("fr"), total = 0, seen = {};
          for (var i = 0; i < divs.length; i++) {
            var idx = +divs[i].getAttribute("data-i"), node = current.nodes[idx];
            var match = text && nameOf(node).indexOf(text) >= 0;
            divs[i].className = divs[i].className.replace(/ ?match/, "") + (match ? " match" : "");
            if (match) {
              var covered = false;
              for (var a = node.parent; a >= 0; a = current.nodes[a].parent) if (seen[a]) { covered = true; break; }
              seen[idx] = true;
              if (!covered) total += node.weight;
            }
          }
          details.textContent = text ? "matched " + (current.nodes[0].weight ? (total * 100 / current.nodes[0].weight).toFixed(1) : "0.0") + "% for \u201c" + text + "\u201d" : "\u00a0";
        }
        box.addEventListener("click", function (ev) {
          var i = ev.target.getAttribute && ev.target.getAttribute("data-i");
          if (i === null || i === undefined) return;
          i = +i;
          zoomed = (i === zoomed) ? Math.max(current.nodes[i].parent, 0) : i;
          render();
        });
        box.addEventListener("mouseover", function (ev) {
          var i = ev.target.getAttribute && ev.target.getAttribute("data-i");
          if (i !== null && i !== undefined) details.textContent = describe(current, current.nodes[+i]);
        });
        search.addEventListener("input", function () { highlight(search.value); });
        for (var b = 0; b < buttons.length; b++) {
          buttons[b].addEventListener("click", function () { show(this.getAttribute("data-kind")); });
        }
        onRange(function () { if (current) show(current.kind); });
        window.reportFlameGraph = { show: show, zoom: function (i) { zoomed = i; render(); }, search: highlight };
        if (buttons.length) show(buttons[0].getAttribute("data-kind"));
        var resized = null;
        window.addEventListener("resize", function () { clearTimeout(resized); resized = setTimeout(render, 150); });
      })();

      // ---- Sortable tables ----
      (function tables() {
        var tables = document.querySelectorAll("table.sortable");
        for (var k = 0; k < tables.length; k++) (function (table) {
          var heads = table.tHead.rows[0].cells;
          for (var c = 0; c < heads.length; c++) (function (col, th) {
            th.addEventListener("click", function () {
              var desc = th.className !== "desc";
              for (var j = 0; j < heads.length; j++) heads[j].className = "";
              th.className = desc ? "desc" : "asc";
              sortRows(table, col, desc, th.getAttribute("data-type") === "num");
            });
          })(c, heads[c]);
        })(tables[k]);
      })();

      // ---- Call sites of a time range: allocations and bytes in the selected slices ----
      (function callSiteRange() {
        var table = document.getElementById("callsites-table"), info = document.getElementById("callsites-range");
        if (!table || !info || !data.sites) return;
        var reset = info.parentNode.getElementsByTagName("button")[0];
        var heads = table.tHead.rows[0].cells;
        var rows = Array.prototype.slice.call(table.tBodies[0].rows).filter(function (r) { return r.hasAttribute("data-site"); });
        var whole = rows.map(function (r) { return [r.cells[1].getAttribute("data-v"), r.cells[1].textContent, r.cells[2].getAttribute("data-v"), r.cells[2].textContent]; });
        function set(cell, v, text) { cell.setAttribute("data-v", String(v)); cell.textContent = text; }
        onRange(function (r) {
          var shown = 0;
          for (var i = 0; i < rows.length; i++) {
            var row = rows[i];
            if (!r) {
              set(row.cells[1], whole[i][0], whole[i][1]);
              set(row.cells[2], whole[i][2], whole[i][3]);
              row.hidden = false;
              continue;
            }
            var s = data.sites[+row.getAttribute("data-site")], k = 0, n = 0, b = 0;
            for (var j = 0; j < s.length; j += 3) {
              k += s[j];
              if (k >= r.k1 && k <= r.k2) { n += s[j + 1]; b += s[j + 2]; }
            }
            set(row.cells[1], n, count(n));
            set(row.cells[2], b, bytes(b));
            row.hidden = n === 0;
            if (n) shown++;
          }
          // Re-sort: by the chosen column, else by allocated bytes (the whole run's order).
          var col = -1;
          for (var h = 0; h < heads.length; h++) if (heads[h].className) col = h;
          if (col < 0 && r) { col = 2; heads[2].className = "desc"; }
          if (col >= 0) sortRows(table, col, heads[col].className === "desc", heads[col].getAttribute("data-type") === "num");
          table.className = r ? "sortable in-range" : "sortable";
          if (r) table.setAttribute("data-range", r.k1 + "-" + r.k2); else table.removeAttribute("data-range");
          reset.hidden = !r;
          info.textContent = r ? "Time range " + rangeText(r) + ": allocations and allocated bytes made in these slices, by "
            + (shown === rows.length ? "every site listed" : shown + " of the " + rows.length + " sites listed (the others, with none, are hidden)")
            + "; temporary, peak and leaked figures are the whole run's." : "Whole run.";
        });
      })();

      document.body.setAttribute("data-ready", "1");
      // ms from navigation start until the page was drawn (for the load-time benchmark).
      if (window.performance && performance.now) document.body.setAttribute("data-ready-ms", String(Math.round(performance.now())));
    })();

    """#
}
