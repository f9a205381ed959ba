import Analysis
import Foundation
import Render
import TestSupport
import Testing

/// Opens the SVG in headless Chromium: no script errors, search highlights the right frames and
/// states their share, zoom widens the clicked frame and hides the others. Skipped (with a
/// message) when Chromium is not installed (`apt-get install chromium`).
@Suite struct ChromiumTests {
    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    static func dumpDOM(_ path: String) throws -> String {
        let result = try TestProcess.run(chromium!, [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
            "--virtual-time-budget=3000", "--dump-dom", "file://" + path,
        ])
        return result.stdout
    }

    @Test func searchAndZoomWorkInARealBrowser() throws {
        guard Self.chromium != nil else {
            print("ChromiumTests: skipped, chromium is not installed (apt-get install -y chromium)")
            return
        }
        let dir = Tracing.scratchDirectory()
        let svg = FlameGraphSVG().render(FlameGraphBuilder(kind: .allocated).build(Fixtures.demo()))
        // The standalone SVG: its script runs to the end and marks the document ready.
        try svg.write(toFile: dir + "/demo.svg", atomically: true, encoding: .utf8)
        let standalone = try Self.dumpDOM(dir + "/demo.svg")
        #expect(standalone.contains("data-ready=\"1\""), "the SVG's script did not finish: \(standalone.prefix(300))")

        // Inlined in HTML, driven by a script that writes what it saw into the DOM.
        let body = svg.components(separatedBy: "\n").dropFirst().joined(separator: "\n")
        let html = """
        <!DOCTYPE html><html><head><meta charset="utf-8"><script>
        window.errors = [];
        window.addEventListener("error", function (e) { window.errors.push(String(e.message)); });
        </script></head><body>
        \(body)
        <pre id="result"></pre>
        <script>
        var r = {};
        try {
          var fg = window.flamegraph;
          r.search = fg.search("^cache_insert$");
          r.matchedText = document.getElementById("matched").textContent;
          r.highlighted = fg.frames().filter(function (f) { return f.match; }).map(function (f) { return f.name; });
          fg.resetSearch();
          r.afterReset = fg.frames().filter(function (f) { return f.match; }).length;
          r.zoomed = fg.zoomByName("parse");
          r.visible = fg.frames();
          fg.unzoom();
          r.afterUnzoom = fg.frames().length;
          r.unzoomHidden = document.getElementById("unzoom").classList.contains("hide");
        } catch (e) { r.exception = String(e); }
        r.errors = window.errors;
        document.getElementById("result").textContent = JSON.stringify(r);
        </script></body></html>
        """
        try html.write(toFile: dir + "/demo.html", atomically: true, encoding: .utf8)
        let dom = try Self.dumpDOM(dir + "/demo.html")
        guard let start = dom.range(of: "<pre id=\"result\">"), let end = dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex) else {
            Issue.record("no result in the dumped DOM: \(dom.suffix(500))")
            return
        }
        let text = String(dom[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
        let r = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
        #expect(r["exception"] == nil, "\(r["exception"] ?? "")")
        #expect((r["errors"] as? [Any])?.isEmpty == true, "\(r["errors"] ?? "")")
        let search = try #require(r["search"] as? [String: Any])
        #expect(search["count"] as? Int == 2)
        // cache_insert: 50,000 + 12,288 of 69,928 bytes.
        let share = try #require(search["share"] as? Double)
        #expect(abs(share - 62_288.0 / 69_928.0) < 1e-9)
        #expect(r["matchedText"] as? String == "Matched: 89.1%")
        #expect(r["highlighted"] as? [String] == ["cache_insert", "cache_insert"])
        #expect(r["afterReset"] as? Int == 0)
        // Zoom on parse: parse spans the width, its callers are shown as parents, its callees scaled,
        // main's other children hidden.
        let visible = try #require(r["visible"] as? [[String: Any]])
        let names = visible.map { $0["name"] as? String ?? "" }
        #expect(Set(names) == ["all", "main", "parse", "tokenize", "cache_insert"])
        let parse = try #require(visible.first { $0["name"] as? String == "parse" })
        #expect(parse["x"] as? Double == 10)
        #expect(parse["width"] as? Double == 1180)
        #expect(visible.first { $0["name"] as? String == "main" }?["parent"] as? Bool == true)
        let cache = try #require(visible.first { $0["name"] as? String == "cache_insert" })
        #expect(abs((cache["width"] as? Double ?? 0) - 1180 * 50_000 / 57_400) < 0.2)
        #expect(r["afterUnzoom"] as? Int == 7)
        #expect(r["unzoomHidden"] as? Bool == true)
    }
}
