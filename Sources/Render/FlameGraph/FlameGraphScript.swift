/// The flame graph SVG's script: zoom on click, search with highlighted matches and their share,
/// details on hover. Works in a standalone SVG and in an SVG inlined in HTML; exposes
/// `window.flamegraph` (`search`, `resetSearch`, `zoom`, `unzoom`, `frames`) for scripted use.
enum FlameGraphScript {
    static let source = #"""
    (function () {
      "use strict";
      var svg = document.getElementById("flamegraph");
      var details = document.getElementById("details");
      var matchedText = document.getElementById("matched");
      var unzoomButton = document.getElementById("unzoom");
      var searchButton = document.getElementById("search");
      var total = parseFloat(svg.getAttribute("data-total")) || 0;
      var pad = parseFloat(svg.getAttribute("data-pad"));
      var charWidth = parseFloat(svg.getAttribute("data-cw"));
      var plotWidth = parseFloat(svg.getAttribute("width")) - 2 * pad;
      var frames = [];
      var groups = document.getElementById("frames").getElementsByTagName("g");
      for (var i = 0; i < groups.length; i++) {
        var g = groups[i];
        var rect = g.getElementsByTagName("rect")[0];
        var title = g.getElementsByTagName("title")[0].textContent;
        var f = {
          g: g, rect: rect, text: g.getElementsByTagName("text")[0] || null,
          name: title.split("\n")[0], info: title.replace(/\n/g, "  |  "),
          x: parseFloat(rect.getAttribute("x")), w: parseFloat(rect.getAttribute("width")),
          depth: parseInt(g.getAttribute("data-d"), 10), value: parseFloat(g.getAttribute("data-v")),
          fill: rect.getAttribute("fill"), index: i
        };
        frames.push(f);
        g.addEventListener("click", clickHandler(f));
        g.addEventListener("mouseover", hoverHandler(f));
        g.addEventListener("mouseout", function () { details.textContent = " "; });
      }
      function clickHandler(f) { return function () { zoom(f.index); }; }
      function hoverHandler(f) { return function () { details.textContent = f.info; }; }

      function setLabel(f, width) {
        if (!f.text) {
          f.text = document.createElementNS("http://www.w3.org/2000/svg", "text");
          f.text.setAttribute("y", (parseFloat(f.rect.getAttribute("y")) + parseFloat(f.rect.getAttribute("height")) - 3.5).toFixed(1));
          f.g.appendChild(f.text);
        }
        var fits = Math.floor((width - 6) / charWidth);
        var label = "";
        if (fits >= 3) label = f.name.length <= fits ? f.name : f.name.substring(0, fits - 2) + "..";
        f.text.textContent = label;
      }

      function place(f, x, w) {
        f.rect.setAttribute("x", x.toFixed(1));
        f.rect.setAttribute("width", w.toFixed(1));
        if (f.text || w >= 3 * charWidth + 6) {
          setLabel(f, w);
          f.text.setAttribute("x", (x + 3).toFixed(1));
        }
      }

      var zoomed = null;
      function zoom(index) {
        var target = frames[index];
        if (!target) return [];
        var scale = plotWidth / target.w;
        var eps = 0.0001;
        var shown = [];
        for (var i = 0; i < frames.length; i++) {
          var f = frames[i];
          var inside = f.x >= target.x - eps && f.x + f.w <= target.x + target.w + eps;
          var covers = f.x <= target.x + eps && f.x + f.w >= target.x + target.w - eps;
          f.g.classList.remove("hide");
          f.g.classList.remove("parent");
          if (f.depth > target.depth && inside) {
            place(f, pad + (f.x - target.x) * scale, f.w * scale);
            shown.push(f.name);
          } else if (f.depth <= target.depth && covers) {
            place(f, pad, plotWidth);
            if (f.depth < target.depth) f.g.classList.add("parent");
            shown.push(f.name);
          } else {
            f.g.classList.add("hide");
          }
        }
        zoomed = target;
        unzoomButton.classList.remove("hide");
        if (currentTerm !== null) search(currentTerm);
        return shown;
      }

      function unzoom() {
        for (var i = 0; i < frames.length; i++) {
          var f = frames[i];
          f.g.classList.remove("hide");
          f.g.classList.remove("parent");
          place(f, f.x, f.w);
        }
        zoomed = null;
        unzoomButton.classList.add("hide");
        if (currentTerm !== null) search(currentTerm);
      }

      var currentTerm = null;
      function search(term) {
        var re;
        try { re = new RegExp(term); } catch (e) { re = new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")); }
        currentTerm = term;
        var matches = [];
        for (var i = 0; i < frames.length; i++) {
          var f = frames[i];
          if (re.test(f.name)) {
            f.rect.setAttribute("fill", "rgb(230,0,230)");
            f.g.setAttribute("data-match", "1");
            matches.push(f);
          } else {
            f.rect.setAttribute("fill", f.fill);
            f.g.removeAttribute("data-match");
          }
        }
        // The matched share: frames not inside an outer match (by their original extent), over
        // the zoomed frame (or the whole graph).
        matches.sort(function (a, b) { return a.x - b.x || a.depth - b.depth; });
        var sum = 0, end = -1, base = zoomed ? zoomed.value : total;
        for (var j = 0; j < matches.length; j++) {
          var m = matches[j];
          if (zoomed && !(m.x >= zoomed.x - 0.0001 && m.x + m.w <= zoomed.x + zoomed.w + 0.0001)) continue;
          if (m.x + 0.0001 < end) continue;
          sum += m.value;
          end = m.x + m.w;
        }
        var share = base > 0 ? sum / base : 0;
        matchedText.textContent = matches.length ? "Matched: " + (share * 100).toFixed(1) + "%" : "No match";
        searchButton.textContent = matches.length ? "Reset Search" : "Search";
        return { count: matches.length, share: share, names: matches.map(function (m) { return m.name; }) };
      }

      function resetSearch() {
        currentTerm = null;
        for (var i = 0; i < frames.length; i++) {
          frames[i].rect.setAttribute("fill", frames[i].fill);
          frames[i].g.removeAttribute("data-match");
        }
        matchedText.textContent = " ";
        searchButton.textContent = "Search";
      }

      function promptSearch() {
        if (currentTerm !== null) { resetSearch(); return; }
        var term = window.prompt("Search for a function (regular expression):", "");
        if (term) search(term);
      }
      searchButton.addEventListener("click", promptSearch);
      unzoomButton.addEventListener("click", unzoom);
      window.addEventListener("keydown", function (e) {
        if ((e.ctrlKey || e.metaKey) && e.keyCode === 70) { e.preventDefault(); promptSearch(); }
        else if (e.keyCode === 27) { unzoom(); resetSearch(); }
      });

      function zoomByName(name) {
        for (var i = 0; i < frames.length; i++) if (frames[i].name === name) return zoom(i);
        return [];
      }
      function visible() {
        return frames.filter(function (f) { return !f.g.classList.contains("hide"); }).map(function (f) {
          return { name: f.name, x: parseFloat(f.rect.getAttribute("x")), width: parseFloat(f.rect.getAttribute("width")),
                   parent: f.g.classList.contains("parent"), match: f.g.hasAttribute("data-match") };
        });
      }
      window.flamegraph = { search: search, resetSearch: resetSearch, zoom: zoom, zoomByName: zoomByName,
                            unzoom: unzoom, frames: visible };
      svg.setAttribute("data-ready", "1");
    })();

    """#
}
