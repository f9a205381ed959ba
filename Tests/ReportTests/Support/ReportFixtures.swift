import Analysis
import Foundation
import Testing
import TraceIO
import TraceModel

/// Small reports built in code for the renderer's tests.
enum ReportFixtures {
    /// A symbol crafted to break out of a script or an attribute if it were not escaped.
    static let hostile = "</script><script>alert(1)</script><!--\"'&\u{2028}"

    static func figures(_ allocations: UInt64, _ bytes: UInt64, temporary: UInt64 = 0, peak: UInt64 = 0, leaked: UInt64 = 0) -> StackStatistics {
        var s = StackStatistics()
        s.allocations = allocations
        s.allocatedBytes = bytes
        s.temporary = temporary
        s.peakBytes = peak
        s.peakBlocks = peak > 0 ? 1 : 0
        s.leakedBytes = leaked
        s.leakedBlocks = leaked > 0 ? 1 : 0
        return s
    }

    /// main -> parse -> tokenize, main -> cache_insert, main -> hostile name.
    static func profile() -> StackProfile {
        var stacks = StackTable()
        let a = stacks.append([0x1003, 0x1002, 0x1001])  // tokenize <- parse <- main (innermost first)
        let b = stacks.append([0x1004, 0x1001])  // cache_insert <- main
        let c = stacks.append([0x1005, 0x1001])  // hostile <- main
        let symbols: [UInt64: [SymbolizedFrame]] = [
            0x1001: [SymbolizedFrame(function: "main", file: "/src/demo.c", line: 40, module: "/bin/demo")],
            0x1002: [SymbolizedFrame(function: "parse", file: "/src/demo.c", line: 20, module: "/bin/demo")],
            0x1003: [SymbolizedFrame(function: "tokenize", file: "/src/demo.c", line: 10, module: "/bin/demo")],
            0x1004: [SymbolizedFrame(function: "cache_insert", file: "/src/cache.c", line: 7, module: "/bin/demo")],
            0x1005: [SymbolizedFrame(function: hostile, file: nil, line: nil, module: "/lib/<evil>.so")],
        ]
        return StackProfile(samples: [
            .init(stack: a, figures: figures(100, 6_400, temporary: 90, peak: 640)),
            .init(stack: b, figures: figures(10, 50_000, peak: 50_000, leaked: 12_288)),
            .init(stack: c, figures: figures(1, 32, leaked: 32)),
        ], stacks: stacks, symbols: symbols)
    }

    /// `profile()`'s allocations by time slice (500 ms wide): parse/tokenize in slices 0 and 1,
    /// cache_insert in slice 2, the hostile frame in slice 4.
    static func slices() -> AllocationSlices {
        AllocationSlices(widthNs: 500_000_000, count: 6, entries: [
            .init(stack: StackID(1), slice: 0, allocations: 40, bytes: 2_560),
            .init(stack: StackID(1), slice: 1, allocations: 60, bytes: 3_840),
            .init(stack: StackID(2), slice: 2, allocations: 10, bytes: 50_000),
            .init(stack: StackID(3), slice: 4, allocations: 1, bytes: 32),
        ])
    }

    static func report() -> MemoryReport {
        let summary = ReportSummary(
            program: "/bin/demo", arguments: ["/bin/demo", "--name", hostile], pid: 4242, trace: "/tmp/demo & co.trace", durationNs: 2_500_000_000,
            peakHeapBytes: 50_640, peakHeapTimeNs: 1_200_000_000, peakResidentBytes: 3_145_728, peakResidentTimeNs: 1_300_000_000,
            allocatedBytes: 56_432, allocations: 111, calls: 200, leakedBytes: 12_320, leakedBlocks: 2, temporaryAllocations: 90, events: 200)
        var report = MemoryReport(summary: summary)
        let heap: [UInt64] = [0, 640, 50_640, 20_000, 12_320, 12_320]
        for i in 0..<heap.count {
            report.timeline.append(.point(timeNs: UInt64(i) * 500_000_000, heapBytes: heap[i], residentBytes: UInt64(i) * 600_000))
        }
        ReportBuilder().addFlameGraphs(profile(), slices: slices(), to: &report)
        report.timeSlices = ReportTimeSlices(widthNs: 500_000_000, count: 6)
        report.callSites = [
            ReportCallSite(function: "cache_insert", location: "cache.c:7", figures: figures(10, 50_000, peak: 50_000, leaked: 12_288),
                           stack: ["cache_insert (cache.c:7)", "main (demo.c:40)"], slices: [ReportSliceFigures(slice: 2, allocations: 10, bytes: 50_000)]),
            ReportCallSite(function: hostile, location: "<evil>.so", figures: figures(1, 32, leaked: 32), stack: [hostile + " (<evil>.so)"],
                           slices: [ReportSliceFigures(slice: 4, allocations: 1, bytes: 32)]),
        ]
        report.leaks = [ReportLeak(bytes: 12_288, blocks: 1, stack: ["cache_insert (cache.c:7)", "main (demo.c:40)"]),
                        ReportLeak(bytes: 32, blocks: 1, stack: [hostile + " (<evil>.so)", "main (demo.c:40)"])]
        report.leakCount = 2
        var sizes = Histogram.powersOfTwo(upToExponent: 16)
        sizes.buckets[7].count = 100
        sizes.buckets[7].bytes = 6_400
        sizes.buckets[14].count = 10
        sizes.buckets[14].bytes = 50_000
        report.sizeHistogram = sizes
        var life = Histogram.powersOfTen(from: 3, upToExponent: 9)
        life.buckets[0].count = 90
        life.buckets[5].count = 19
        report.lifetimeHistogram = life
        var between = Histogram.powersOfTwo(upToExponent: 8)
        between.buckets[0].count = 90
        between.buckets[4].count = 19
        report.lifetimeAllocationsHistogram = between
        report.neverFreed = 2
        report.threads = [ReportThread(id: 4242, name: "demo", calls: 150), ReportThread(id: 4243, name: hostile, calls: 50)]
        report.modules = [ReportModule(path: "/bin/demo", buildID: "0a1b2c", loadBias: 0x5555_5555_0000),
                          ReportModule(path: "/lib/<evil>.so", buildID: "", loadBias: 0x7fff_0000_0000)]
        return report
    }
}

enum Golden {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Golden")

    static func check(_ text: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let url = directory.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["MEMATLAS_RECORD_GOLDEN"] == "1" {
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try? text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try? String(contentsOf: url, encoding: .utf8)
        #expect(expected != nil, "missing golden file \(name): run with MEMATLAS_RECORD_GOLDEN=1", sourceLocation: sourceLocation)
        if let expected, expected != text {
            let a = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let b = text.split(separator: "\n", omittingEmptySubsequences: false)
            let line = Array(zip(a, b)).firstIndex { $0 != $1 } ?? min(a.count, b.count)
            Issue.record("\(name) differs from its golden file at line \(line + 1) (re-record with MEMATLAS_RECORD_GOLDEN=1)", sourceLocation: sourceLocation)
        }
    }
}

/// The JSON block of a rendered page, parsed.
func embeddedData(_ html: String) throws -> [String: Any] {
    let open = "<script type=\"application/json\" id=\"report-data\">"
    let start = try #require(html.range(of: open))
    let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
    let json = String(html[start.upperBound..<end.lowerBound])
    return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
}
