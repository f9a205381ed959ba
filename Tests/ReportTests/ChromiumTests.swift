import Analysis
import Foundation
import Render
import TestSupport
import Testing

/// Opens the report of a real recorded example in headless Chromium: the script runs without an
/// error, every section is there, the cards show the `summary --json` figures, the flame-graph kind
/// switch, timeline zoom and table sorting work; a screenshot is saved. Skipped (with a message)
/// when Chromium is not installed (`apt-get install chromium`).
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
}
