import Analysis
import Foundation
import Render
import TestSupport
import Testing
import TraceIO

/// Opens the report of a real recorded example in headless Chromium: the script runs without an
/// error, every section is there, the cards show the `summary --json` figures, the flame-graph kind
/// switch, timeline zoom and table sorting work; a screenshot is saved. A drag across the timeline
/// of a program with phases filters the call sites and the allocation flame graphs to exactly the
/// figures counted from the trace. Skipped (with a message) when Chromium is not installed
/// (`apt-get install chromium`).
@Suite struct ChromiumTests {
    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    static let flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                        "--virtual-time-budget=5000"]

    static func dumpDOM(_ path: String) throws -> String {
        try TestProcess.run(chromium!, flags + ["--dump-dom", "file://" + path]).stdout
    }

    /// The value of `attribute` on the element with `id` in a dumped DOM.
    static func attribute(_ attribute: String, of id: String, in dom: String) -> String? {
        guard let tag = dom.range(of: "id=\"\(id)\"") else { return nil }
        let start = dom[..<tag.lowerBound].lastIndex(of: "<") ?? tag.lowerBound
        let end = dom[tag.upperBound...].firstIndex(of: ">") ?? dom.endIndex
        let element = dom[start..<end]
        guard let a = element.range(of: " \(attribute)=\"") else { return nil }
        return String(element[a.upperBound...].prefix { $0 != "\"" })
    }

    /// The value of the first `attribute="..."` anywhere in a dumped DOM.
    static func firstAttribute(_ attribute: String, in dom: String) -> String? {
        guard let a = dom.range(of: " \(attribute)=\"") else { return nil }
        return String(dom[a.upperBound...].prefix { $0 != "\"" })
    }

    /// Runs `driver` (a script that stores a JSON object in `<body data-test>`) on the page and
    /// returns that object.
    static func drive(_ html: String, _ driver: String, in dir: String, name: String) throws -> [String: Any] {
        let driven = dir + "/" + name + ".html"
        try html.replacingOccurrences(of: "</body>", with: driver + "</body>").write(toFile: driven, atomically: true, encoding: .utf8)
        let dom = try dumpDOM(driven)
        #expect(!dom.contains("data-errors="), "script errors: \(firstAttribute("data-errors", in: dom) ?? "")")
        let raw = try #require(firstAttribute("data-test", in: dom))
        let json = raw.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(json)")
    }

    @Test func realReportOpensWithoutErrorsAndShowsTheSummaryFigures() throws {
        guard Self.chromium != nil else {
            print("ReportTests.ChromiumTests: skipped, chromium is not installed (apt-get install -y chromium)")
            return
        }
        let dir = Tracing.scratchDirectory()
        let program = try ExamplePrograms.build("c/demo_allocations.c")
        let (recording, summary) = try Tracing.recordAndSummarize(program, in: dir)
        let result = try ReportBuilder().load(path: recording.mainTrace)
        let html = HTMLReport().render(result.report)
        let page = dir + "/report.html"
        try html.write(toFile: page, atomically: true, encoding: .utf8)

        let dom = try Self.dumpDOM(page)
        #expect(dom.contains("data-ready=\"1\""), "the page's script did not finish")
        #expect(!dom.contains("data-errors="), "script errors: \(Self.firstAttribute("data-errors", in: dom) ?? "")")
        for id in ["summary", "timeline", "flamegraph", "callsites", "leaks", "histograms", "heapmap", "threads", "modules"] {
            #expect(dom.contains("<section id=\"\(id)\">"), "section \(id) missing")
        }
        let calls = summary.calls.values.reduce(0, +)
        let expected: [(String, UInt64)] = [
            ("card-peak-heap", summary.peakHeapBytes), ("card-peak-rss", summary.peakResidentBytes),
            ("card-allocated", summary.allocatedBytes), ("card-calls", calls), ("card-leaked", summary.leakedBytes),
            ("card-temporary", summary.temporaryAllocations),
        ]
        for (id, value) in expected {
            #expect(Self.attribute("data-value", of: id, in: dom) == String(value), "\(id)")
        }
        let duration = try #require(Double(Self.attribute("data-value", of: "card-duration", in: dom) ?? ""))
        #expect(abs(duration / 1e9 - summary.durationSeconds) < 1e-9)
        #expect(summary.peakHeapBytes > 0 && summary.leakedBytes > 0)
        // The script drew the timeline and the allocated flame graph.
        #expect(dom.contains("id=\"timeline-heap\"") && dom.contains("id=\"timeline-peak\""))
        #expect(Self.attribute("data-kind", of: "fg", in: dom) == "allocated")
        #expect(Self.attribute("data-total", of: "fg", in: dom) == String(summary.allocatedBytes))
        #expect(Int(Self.attribute("data-frames", of: "fg", in: dom) ?? "0")! > 3)
        #expect(Self.attribute("data-total", of: "hist-sizes", in: dom) == String(summary.allocations))
        #expect(Self.attribute("data-bytes", of: "leaks-total", in: dom) == String(summary.leakedBytes))
        if result.report.heapMap != nil {
            #expect(Self.attribute("data-live", of: "heapmap-figures", in: dom) == String(summary.peakHeapBytes))
        }

        // Drive the page: every flame-graph kind, a timeline zoom, a sort.
        let driver = """
        <script>
        (function () {
          var r = { totals: {} };
          try {
            var kinds = ["allocated", "allocations", "peak", "leaked", "temporary"];
            for (var i = 0; i < kinds.length; i++) {
              document.querySelector('#fg-tabs button[data-kind="' + kinds[i] + '"]').click();
              r.totals[kinds[i]] = document.getElementById("fg").getAttribute("data-total");
            }
            window.reportFlameGraph.show("allocated");
            window.reportFlameGraph.search("main");
            r.search = document.getElementById("fg-details").textContent;
            r.matches = document.querySelectorAll("#fg .match").length;
            window.reportTimeline.zoomTo(0, \(result.report.summary.durationNs / 2));
            r.zoom = document.getElementById("timeline-chart").getAttribute("data-zoom");
            window.reportTimeline.zoomTo(0, \(result.report.summary.durationNs));
            r.rangePeak = document.getElementById("timeline-chart").getAttribute("data-range-peak");
            var th = document.querySelectorAll("#callsites-table th")[1];
            th.click();
            var rows = document.querySelectorAll("#callsites-table tbody tr");
            r.sorted = [];
            for (var j = 0; j < rows.length; j++) r.sorted.push(Number(rows[j].cells[1].getAttribute("data-v")));
          } catch (e) { r.exception = String(e); }
          document.body.setAttribute("data-test", JSON.stringify(r));
        })();
        </script>
        """
        let driven = dir + "/driven.html"
        try html.replacingOccurrences(of: "</body>", with: driver + "</body>").write(toFile: driven, atomically: true, encoding: .utf8)
        let drivenDOM = try Self.dumpDOM(driven)
        #expect(!drivenDOM.contains("data-errors="), "script errors: \(Self.firstAttribute("data-errors", in: drivenDOM) ?? "")")
        let raw = try #require(Self.firstAttribute("data-test", in: drivenDOM))
        let json = raw.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
        let r = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(json)")
        #expect(r["exception"] == nil, "\(r["exception"] ?? "")")
        let totals = try #require(r["totals"] as? [String: String])
        #expect(totals["allocated"] == String(summary.allocatedBytes))
        #expect(totals["allocations"] == String(summary.allocations))
        #expect(totals["peak"] == String(summary.peakHeapBytes))
        #expect(totals["leaked"] == String(summary.leakedBytes))
        #expect(totals["temporary"] == String(summary.temporaryAllocations))
        #expect(r["zoom"] as? String == "0-\(result.report.summary.durationNs / 2)")
        #expect(r["search"] as? String == "matched 100.0% for \u{201c}main\u{201d}")
        #expect((r["matches"] as? Int ?? 0) >= 1)
        // The whole run selected: its highest point is the heap's peak (the timeline carries it).
        #expect(r["rangePeak"] as? String == String(summary.peakHeapBytes))
        let sorted = try #require(r["sorted"] as? [Double])
        #expect(sorted == sorted.sorted(by: >) && !sorted.isEmpty)

        // A screenshot to look at (MEMATLAS_REPORT_SCREENSHOT chooses where).
        let shot = ProcessInfo.processInfo.environment["MEMATLAS_REPORT_SCREENSHOT"] ?? dir + "/report.png"
        _ = try TestProcess.run(Self.chromium!, Self.flags + ["--screenshot=" + shot, "--window-size=1400,2400", "file://" + page])
        #expect(FileManager.default.fileExists(atPath: shot))
        print("ReportTests.ChromiumTests: report \(page), screenshot \(shot)")
    }

    /// Records a program with three phases, drags across the middle of its timeline (mouse events
    /// on the chart), and checks that the call-site table then shows, for the slices the range
    /// overlaps, exactly the allocations and bytes per call site counted from the trace, re-sorted,
    /// and that the allocated and allocations flame graphs total the range's figures; "Whole run"
    /// brings the whole-run figures back.
    @Test func dragOnTheTimelineFiltersTheCallSitesAndAllocationFlameGraphs() throws {
        guard Self.chromium != nil else {
            print("ReportTests.ChromiumTests: skipped, chromium is not installed (apt-get install -y chromium)")
            return
        }
        let dir = Tracing.scratchDirectory()
        let program = try ExamplePrograms.build("c/phases.c")
        let (recording, _) = try Tracing.recordAndSummarize(program, in: dir)
        let result = try ReportBuilder().load(path: recording.mainTrace, heapMap: false)
        let html = HTMLReport().render(result.report)
        let slices = try #require(result.report.timeSlices)

        // Drag from 35% to 60% of the plot's width (the second phase), as a user would.
        let driver = """
        <script>
        (function () {
          var r = {};
          function rows() {
            var out = [], all = document.querySelectorAll("#callsites-table tbody tr[data-site]");
            for (var i = 0; i < all.length; i++) {
              if (all[i].hidden) continue;
              var c = all[i].cells;
              out.push([c[0].getAttribute("data-v") + " " + c[0].querySelector(".loc").textContent, c[1].getAttribute("data-v"), c[2].getAttribute("data-v")]);
            }
            return out;
          }
          try {
            r.before = rows();
            var svg = document.getElementById("timeline-svg"), box = svg.getBoundingClientRect();
            var plot = svg.getAttribute("data-plot").split(" ").map(Number), view = svg.viewBox.baseVal.width;
            function x(f) { return box.left + (plot[0] + f * (plot[1] - plot[0])) / view * box.width; }
            var y = box.top + box.height / 2;
            svg.dispatchEvent(new MouseEvent("mousedown", { clientX: x(0.35), clientY: y, bubbles: true }));
            svg.dispatchEvent(new MouseEvent("mousemove", { clientX: x(0.6), clientY: y, bubbles: true }));
            window.dispatchEvent(new MouseEvent("mouseup", { clientX: x(0.6), clientY: y, bubbles: true }));
            r.zoom = document.getElementById("timeline-chart").getAttribute("data-zoom");
            r.range = document.getElementById("callsites-table").getAttribute("data-range");
            r.info = document.getElementById("callsites-range").textContent;
            r.rows = rows();
            r.hidden = document.querySelectorAll("#callsites-table tbody tr[hidden]").length;
            r.fgRange = document.getElementById("fg").getAttribute("data-range");
            r.allocated = document.getElementById("fg").getAttribute("data-total");
            r.frames = Number(document.getElementById("fg").getAttribute("data-frames"));
            document.querySelector('#fg-tabs button[data-kind="allocations"]').click();
            r.allocations = document.getElementById("fg").getAttribute("data-total");
            document.querySelector('#fg-tabs button[data-kind="peak"]').click();
            r.peakRange = document.getElementById("fg").getAttribute("data-range");
            r.peakCaption = document.getElementById("fg-caption").textContent;
            document.querySelector("#callsites button.whole-run").click();
            r.after = rows();
            r.afterRange = document.getElementById("callsites-table").getAttribute("data-range");
            r.afterZoom = document.getElementById("timeline-chart").getAttribute("data-zoom");
          } catch (e) { r.exception = String(e) + " " + e.stack; }
          document.body.setAttribute("data-test", JSON.stringify(r));
        })();
        </script>
        """
        let r = try Self.drive(html, driver, in: dir, name: "range")
        #expect(r["exception"] == nil, "\(r["exception"] ?? "")")

        // The slices the drag covers, from the selected times (ns, rounded by the page).
        let zoom = try #require((r["zoom"] as? String)?.split(separator: "-").compactMap { UInt64($0) })
        try #require(zoom.count == 2)
        let first = Int(zoom[0] / slices.widthNs), last = min(Int(zoom[1] / slices.widthNs), slices.count - 1)
        #expect(r["range"] as? String == "\(first)-\(last)")
        #expect(r["fgRange"] as? String == "\(first)-\(last)")
        #expect((r["info"] as? String ?? "").contains("slices \(first)\u{2013}\(last) of \(slices.count)"))
        #expect(first > 0 && last < slices.count - 1, "the drag covers the middle of the run")

        // The same figures, counted from the trace without the report's code.
        var counts = WindowCounts(fromNs: UInt64(first) * slices.widthNs, toNs: UInt64(last + 1) * slices.widthNs)
        let reader = try TraceReader(path: recording.mainTrace)
        try reader.read(into: &counts)
        let expected = WindowCounts.perSite(counts.perStack, reader: reader, program: program).filter { $0.value.allocations > 0 }
        let rows = try #require(r["rows"] as? [[String]])
        var shown: [String: (UInt64, UInt64)] = [:]
        for row in rows { shown[row[0]] = (UInt64(row[1]) ?? 0, UInt64(row[2]) ?? 0) }
        #expect(Set(shown.keys) == Set(expected.keys), "shown \(shown.keys.sorted()), counted \(expected.keys.sorted())")
        for (site, figures) in expected {
            #expect(shown[site]?.0 == figures.allocations && shown[site]?.1 == figures.bytes,
                    "\(site): page \(String(describing: shown[site])), trace \(figures)")
        }
        #expect(!expected.isEmpty && (r["hidden"] as? Int ?? 0) > 0, "the range holds some of the sites, not all")
        let bytes = rows.map { UInt64($0[2]) ?? 0 }
        #expect(bytes == bytes.sorted(by: >), "re-sorted by allocated bytes in the range")
        // The allocation flame graphs show the range's totals.
        let totalBytes = counts.perStack.values.reduce(0) { $0 + $1.bytes }
        let totalAllocations = counts.perStack.values.reduce(0) { $0 + $1.allocations }
        #expect(r["allocated"] as? String == String(totalBytes))
        #expect(r["allocations"] as? String == String(totalAllocations))
        #expect((r["frames"] as? Int ?? 0) > 3)
        #expect(totalBytes < result.report.summary.allocatedBytes)
        // The peak graph is the whole run's, and says so.
        #expect(r["peakRange"] is NSNull)
        #expect((r["peakCaption"] as? String ?? "").contains("a time range filters only the allocated and allocations graphs"))
        // "Whole run" restores the table and the timeline.
        let before = try #require(r["before"] as? [[String]])
        #expect(r["after"] as? [[String]] == before)
        #expect(r["afterRange"] is NSNull && r["afterZoom"] is NSNull)
        #expect(before.count == result.report.callSites.count)
    }
}
