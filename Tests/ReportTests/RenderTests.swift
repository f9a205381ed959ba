import Analysis
import Foundation
import Render
import Testing
import TraceIO
import TraceModel

/// The HTML renderer on a small report built in code: golden file, escaping, caps.
@Suite struct RenderTests {
    @Test func pageMatchesGoldenAndIsStable() {
        let html = HTMLReport().render(ReportFixtures.report())
        #expect(html == HTMLReport().render(ReportFixtures.report()))
        Golden.check(html, "report.html")
    }

    @Test func hostileSymbolCannotCloseTheScriptOrAnAttribute() throws {
        let html = HTMLReport().render(ReportFixtures.report())
        // Exactly our three scripts: the error hook, the JSON block and the page script.
        #expect(html.components(separatedBy: "<script").count == 4)
        #expect(html.components(separatedBy: "</script>").count == 4)
        #expect(!html.contains("<script>alert"))
        #expect(!html.contains("<!--"))
        #expect(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!--&quot;&#39;&amp;"))
        // The JSON block parses back to the exact name.
        let data = try embeddedData(html)
        let names = try #require(data["names"] as? [String])
        #expect(names.contains(ReportFixtures.hostile))
        #expect(html.contains("\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"))
        #expect(HTMLEscaping.jsonString("a\u{2028}b\u{1}") == "\"a\\u2028b\\u0001\"")
        #expect(HTMLEscaping.html("x\u{0}y") == "x\u{fffd}y")
    }

    @Test func everySectionAndCardIsThere() throws {
        let html = HTMLReport().render(ReportFixtures.report())
        for id in ["summary", "timeline", "flamegraph", "callsites", "leaks", "histograms", "heapmap", "threads", "modules"] {
            #expect(html.contains("<section id=\"\(id)\">"), "\(id)")
        }
        #expect(html.contains("id=\"card-peak-heap\" data-value=\"50640\""))
        #expect(html.contains("id=\"card-peak-rss\" data-value=\"3145728\""))
        #expect(html.contains("id=\"card-allocated\" data-value=\"56432\""))
        #expect(html.contains("id=\"card-calls\" data-value=\"200\""))
        #expect(html.contains("id=\"card-leaked\" data-value=\"12320\""))
        #expect(html.contains("id=\"card-temporary\" data-value=\"90\""))
        #expect(html.contains("id=\"card-duration\" data-value=\"2500000000\""))
        #expect(html.contains("id=\"heapmap-placeholder\""))
        // No network: nothing is fetched.
        #expect(!html.contains("http://") || html.components(separatedBy: "http://").count == 2)  // only the SVG namespace
        #expect(!html.contains("https://"))
        let data = try embeddedData(html)
        let graphs = try #require(data["graphs"] as? [String: Any])
        #expect(Set(graphs.keys) == Set(FlameGraphKind.allCases.map(\.rawValue)))
        let allocated = try #require((graphs["allocated"] as? [String: Any])?["nodes"] as? [Int])
        #expect(allocated.count % 6 == 0)
        #expect(allocated[3] == 56_432)  // the root's weight
        // Figures by time slice: slice indices delta-coded.
        let slices = try #require(data["slices"] as? [String: Any])
        #expect(slices["widthNs"] as? Int == 500_000_000 && slices["count"] as? Int == 6)
        #expect(data["sites"] as? [[Int]] == [[2, 10, 50_000], [4, 1, 32]])
        #expect(html.contains("<tr data-site=\"1\"><td data-v=\"&lt;/script&gt;"))
        let sliced = try #require((graphs["allocated"] as? [String: Any])?["sliced"] as? [String: Any])
        let values = try #require(sliced["values"] as? [Int])
        #expect(Array(values.prefix(9)) == [4, 0, 2_560, 1, 3_840, 1, 50_000, 2, 32])  // the root
        #expect((sliced["nodes"] as? [Int])?.prefix(2) == [-1, 0])
        #expect((graphs["peak"] as? [String: Any])?["sliced"] == nil)
    }

    @Test func aReportWithoutTimeSlicesSaysTheSelectionFiltersNothing() {
        var report = ReportFixtures.report()
        report.timeSlices = nil
        let html = HTMLReport().render(report)
        #expect(html.contains("This report has no figures by time"))
        #expect(!html.contains("id=\"callsites-range\"") && !html.contains("\"sites\":"))
    }
}

/// The flame graphs kept in the report: pruned, merged, depth first.
@Suite struct FlameGraphPruningTests {
    @Test func tinyFramesAreMergedAndTotalsKept() {
        var limits = ReportLimits()
        limits.flameGraphMinimumShare = 0.01  // 1%: the 32-byte hostile frame (0.06%) is merged
        var report = MemoryReport(summary: ReportSummary(program: "x"))
        ReportBuilder(limits: limits).addFlameGraphs(ReportFixtures.profile(), to: &report)
        #expect(report.flameGraphs.map(\.kind) == FlameGraphKind.allCases)
        let allocated = report.flameGraphs[0]
        #expect(allocated.nodes[0].weight == 56_432)
        // all, main, cache_insert, parse, tokenize, (1 smaller frames)
        #expect(allocated.nodes.count == 6)
        let merged = allocated.nodes.filter { $0.name < 0 }
        #expect(merged.count == 1)
        #expect(merged.first?.weight == 32)
        #expect(merged.first?.location == 1)
        // Children heaviest first; parents before children.
        let names = allocated.nodes.map { $0.name < 0 ? "*" : report.frameNames[Int($0.name)] }
        #expect(names == ["all", "main", "cache_insert", "parse", "tokenize", "*"])
        for (i, n) in allocated.nodes.enumerated().dropFirst() { #expect(Int(n.parent) < i) }
        // Leaked: only the two leaking stacks.
        #expect(report.flameGraphs[3].nodes[0].weight == 12_320)
    }

    @Test func nodeCapHolds() {
        var stacks = StackTable()
        var samples: [StackProfile.Sample] = []
        var symbols: [UInt64: [SymbolizedFrame]] = [0x10: [SymbolizedFrame(function: "main", module: "m")]]
        for i in 0..<5_000 {
            let ip = UInt64(0x1000 + i)
            symbols[ip] = [SymbolizedFrame(function: "f\(i)", module: "m")]
            samples.append(.init(stack: stacks.append([ip, 0x10]), figures: ReportFixtures.figures(1, UInt64(1 + i % 97))))
        }
        var limits = ReportLimits()
        limits.flameGraphNodes = 300
        var report = MemoryReport(summary: ReportSummary(program: "x"))
        ReportBuilder(limits: limits).addFlameGraphs(StackProfile(samples: samples, stacks: stacks, symbols: symbols), to: &report)
        for g in report.flameGraphs {
            #expect(g.nodes.count <= 300)
            #expect(g.fullNodeCount > 300 || g.nodes[0].weight == 0)
            // Merging keeps the total: the root's children add up to the root.
            let children = g.nodes.filter { $0.parent == 1 }.reduce(0) { $0 + $1.weight }
            if g.nodes.count > 1 { #expect(children == g.nodes[1].weight) }
        }
    }

    @Test func timelineThinningKeepsTheHighestPoints() {
        var samples: [TimelineSample] = []
        for i in 0..<10_000 {
            let heap: UInt64 = i == 4_321 ? 1_000_000 : UInt64(i % 100)
            samples.append(.point(timeNs: UInt64(i), heapBytes: heap, residentBytes: UInt64(i)))
        }
        let thin = ReportBuilder.thin(samples, to: 100)
        #expect(thin.count == 100)
        #expect(thin.contains { $0.heapBytes == 1_000_000 && $0.timeNs == 4_321 })
        #expect(thin.last?.residentBytes == 9_999)
    }
}

/// The page's size is set by the caps, not by the trace.
@Suite struct PageSizeTests {
    @Test func aReportFilledToEveryCapStaysUnderTenMiB() {
        let limits = ReportLimits()
        let long = String(repeating: "VeryLongTemplateName<std::vector<int>>::", count: 3) + "function"
        let stack = (0..<limits.stackDepth).map { "\(long)\($0) (some/deep/source/path/file\($0).cpp:1234)" }
        var report = MemoryReport(summary: ReportSummary(program: "/bin/big"))
        report.callSites = (0..<5 * limits.callSites).map {
            ReportCallSite(function: "\(long)\($0)", location: "file.cpp:\($0)", figures: ReportFixtures.figures(UInt64($0), 1 << 40), stack: stack)
        }
        report.leaks = (0..<limits.leaks).map { _ in ReportLeak(bytes: 1 << 30, blocks: 1 << 20, stack: stack + stack + stack + stack) }
        report.frameNames = ["all"] + (0..<4 * limits.flameGraphNodes).map { "\(long)\($0)" }
        report.frameLocations = (0..<limits.flameGraphNodes).map { "file\($0).cpp:\($0)" }
        report.flameGraphs = FlameGraphKind.allCases.map { kind in
            ReportFlameGraph(kind: kind, nodes: (0..<limits.flameGraphNodes).map {
                .init(parent: Int32($0 - 1), name: Int32($0), location: Int32($0), weight: 1 << 40, bytes: 1 << 40, count: 1 << 30)
            })
        }
        report.timeline = (0..<limits.timelinePoints).map { .point(timeNs: UInt64($0) * 1_000_000_000, heapBytes: 1 << 40, residentBytes: 1 << 41) }
        // Figures by time: every site and every sliced value of the two sliced graphs in use.
        report.timeSlices = ReportTimeSlices(widthNs: 1 << 40, count: limits.timeSlices)
        for i in report.callSites.indices {
            report.callSites[i].slices = (0..<limits.timeSlices).map { ReportSliceFigures(slice: $0, allocations: 1 << 30, bytes: 1 << 40) }
        }
        let perNode = limits.timeSlices
        for i in 0..<2 {
            report.flameGraphs[i].sliced = ReportSlicedFlameGraph(nodes: (0..<limits.slicedFlameGraphValues / perNode).map {
                .init(parent: Int32($0 - 1), source: Int32($0), values: (0..<perNode).map { .init(slice: $0, value: 1 << 40) })
            }, mergedNodes: limits.flameGraphNodes)
        }
        report.threads = (0..<1_000).map { ReportThread(id: UInt32($0), name: "worker-\($0)", calls: 1 << 30) }
        report.modules = (0..<1_000).map { ReportModule(path: "/usr/lib/x86_64-linux-gnu/libmodule\($0).so.1", buildID: String(repeating: "ab", count: 20), loadBias: 1 << 46) }
        let html = HTMLReport().render(report)
        print("PageSizeTests: \(html.utf8.count) bytes")
        #expect(html.utf8.count < 10 << 20, "\(html.utf8.count) bytes")
    }
}
