import Analysis
import Foundation
import TestSupport
import Testing
import TraceIO
import TraceModel

/// The figures by time slice: the streaming pass (events built in code), the call sites' and flame
/// graphs' slices built from it, and their sums on a real recording.
@Suite struct TimeSliceTests {
    static func event(_ function: AllocationFunction, _ address: UInt64, stack: UInt32 = 1, size: UInt64 = 0, old: UInt64 = 0, at ns: UInt64)
        -> TraceEvent
    {
        var e = TraceEvent()
        e.function = function
        e.address = Address(address)
        e.oldAddress = Address(old)
        e.size = size
        e.stack = StackID(stack)
        e.thread = ThreadID(1)
        e.timeNs = ns
        return e
    }

    @Test func slicesWidenAsTheRunGrowsAndMergeTheirEntries() {
        var pass = AllocationSliceAnalysis(maxSlices: 4, initialWidthNs: 10)
        pass.visit(Self.event(.malloc, 0x10, size: 1, at: 0))
        pass.visit(Self.event(.malloc, 0x20, stack: 2, size: 100, at: 5))
        pass.visit(Self.event(.malloc, 0x30, size: 2, at: 15))
        pass.visit(Self.event(.free, 0x10, at: 15))  // not an allocation
        pass.visit(Self.event(.malloc, 0, size: 9, at: 15))  // failed: not counted
        pass.visit(Self.event(.realloc, 0x40, size: 4, old: 0x30, at: 35))  // a realloc result counts
        pass.visit(Self.event(.mmap, 0x9000, size: 4096, at: 35))  // not heap
        #expect(pass.widthNs == 10)
        pass.visit(Self.event(.calloc, 0x50, size: 8, at: 85))  // 85 ns: slices of 10, 20, then 40 ns
        #expect(pass.widthNs == 40)
        pass.visit(Self.event(.malloc, 0x60, size: 16, at: 30))  // a thread's event that arrives late: slice 0 again
        let slices = pass.finish(durationNs: 100)
        #expect(slices.widthNs == 40)
        #expect(slices.count == 3)  // 0-40, 40-80, 80-120 ns
        #expect(slices.entries == [
            .init(stack: StackID(1), slice: 0, allocations: 4, bytes: 1 + 2 + 4 + 16),
            .init(stack: StackID(1), slice: 2, allocations: 1, bytes: 8),
            .init(stack: StackID(2), slice: 0, allocations: 1, bytes: 100),
        ])
        #expect(slices.slice(at: 119) == 2 && slices.slice(at: 1_000) == 2)
    }

    @Test func theEndOfTheRunWidensTheSlicesToo() {
        var pass = AllocationSliceAnalysis(maxSlices: 64, initialWidthNs: 1_000_000)
        pass.visit(Self.event(.malloc, 0x10, size: 1, at: 0))
        let slices = pass.finish(durationNs: 1_000_000_000)  // 1 s: 16 ms slices, 63 of them
        #expect(slices.widthNs == 16_000_000)
        #expect(slices.count == 63)
        #expect(slices.entries == [.init(stack: StackID(1), slice: 0, allocations: 1, bytes: 1)])
    }

    /// Random events from many stacks: every stack's slices add up to HeapAnalysis's figures.
    @Test func slicesAddUpToTheHeapAnalysisFigures() {
        var pass = VisitorPair(HeapAnalysis(), AllocationSliceAnalysis(maxSlices: 16, initialWidthNs: 1_000))
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var live: [UInt64] = []
        var address: UInt64 = 0x1000
        var time: UInt64 = 0
        for _ in 0..<20_000 {
            time += next() % 50
            let stack = UInt32(1 + next() % 300)
            if !live.isEmpty && next() % 3 == 0 {
                live.swapAt(Int(next() % UInt64(live.count)), live.count - 1)
                pass.visit(Self.event(.free, live.removeLast(), at: time))
            } else if !live.isEmpty && next() % 5 == 0 {
                address += 64
                let old = live.removeLast()
                pass.visit(Self.event(.realloc, address, stack: stack, size: next() % 500, old: old, at: time))
                live.append(address)
            } else {
                address += 64
                pass.visit(Self.event(.malloc, address, stack: stack, size: next() % 500, at: time))
                live.append(address)
            }
        }
        let profile = pass.first.finish()
        let slices = pass.second.finish(durationNs: time)
        #expect(slices.count <= 16 && slices.count > 8)
        var sums: [StackID: (UInt64, UInt64)] = [:]
        var previous: AllocationSlices.Entry?
        for e in slices.entries {
            if let p = previous { #expect(p.stack < e.stack || (p.stack == e.stack && p.slice < e.slice)) }
            previous = e
            let s = sums[e.stack] ?? (0, 0)
            sums[e.stack] = (s.0 + e.allocations, s.1 + e.bytes)
        }
        for (i, figures) in profile.stacks.enumerated() where figures.allocations > 0 {
            let s = sums[StackID(UInt32(i))] ?? (0, 0)
            #expect(s.0 == figures.allocations && s.1 == figures.allocatedBytes, "stack \(i)")
        }
        #expect(sums.count == profile.stacks.filter { $0.allocations > 0 }.count)
    }

    @Test func slicedFlameGraphsAddUpAndMergeTheLightestFrames() throws {
        var report = MemoryReport(summary: ReportSummary(program: "x"))
        ReportBuilder().addFlameGraphs(ReportFixtures.profile(), slices: ReportFixtures.slices(), to: &report)
        #expect(report.flameGraphs.map { $0.sliced != nil } == [true, true, false, false, false])
        let allocated = try #require(report.flameGraphs[0].sliced)
        #expect(allocated.mergedNodes == 0)
        // all, main, cache_insert, parse, tokenize, hostile: all kept, root first, sums by slice.
        #expect(allocated.nodes.count == 6)
        #expect(allocated.nodes[0].values == [.init(slice: 0, value: 2_560), .init(slice: 1, value: 3_840), .init(slice: 2, value: 50_000),
                                             .init(slice: 4, value: 32)])
        for graph in [allocated, try #require(report.flameGraphs[1].sliced)] { Self.checkSums(graph) }
        let allocations = try #require(report.flameGraphs[1].sliced)
        #expect(allocations.nodes[0].values.map(\.value) == [40, 60, 10, 1])

        // At most 12 values: cache_insert kept, parse (with tokenize) and the hostile frame merged
        // into one `(2 smaller frames)` node under main.
        var limits = ReportLimits()
        limits.slicedFlameGraphValues = 12
        var small = MemoryReport(summary: ReportSummary(program: "x"))
        ReportBuilder(limits: limits).addFlameGraphs(ReportFixtures.profile(), slices: ReportFixtures.slices(), to: &small)
        let merged = try #require(small.flameGraphs[0].sliced)
        Self.checkSums(merged)
        #expect(merged.nodes.count == 4)
        #expect(merged.mergedNodes == 3)
        #expect(merged.nodes.reduce(0) { $0 + $1.values.count } <= 12)
        let names = merged.nodes.map { $0.source < 0 ? "(\(-$0.source))" : small.frameNames[Int(small.flameGraphs[0].nodes[Int($0.source)].name)] }
        #expect(names == ["all", "main", "cache_insert", "(2)"])
        #expect(merged.nodes[3].parent == 1)
        #expect(merged.nodes[3].values == [.init(slice: 0, value: 2_560), .init(slice: 1, value: 3_840), .init(slice: 4, value: 32)])
    }

    /// Every node's values cover its children's in each slice; the root's add up to the graph's total.
    static func checkSums(_ graph: ReportSlicedFlameGraph, sourceLocation: SourceLocation = #_sourceLocation) {
        var children: [Int: [UInt64]] = [:]
        func dense(_ n: ReportSlicedFlameGraph.Node) -> [UInt64] {
            var d = [UInt64](repeating: 0, count: 64)
            for v in n.values { d[v.slice] += v.value }
            return d
        }
        for (i, n) in graph.nodes.enumerated() {
            #expect(Int(n.parent) < i, sourceLocation: sourceLocation)
            guard n.parent >= 0 else { continue }
            let d = dense(n)
            children[Int(n.parent), default: [UInt64](repeating: 0, count: 64)] = zip(children[Int(n.parent)] ?? d.map { _ in 0 }, d).map(+)
        }
        for (p, sum) in children {
            let parent = dense(graph.nodes[p])
            #expect(zip(parent, sum).allSatisfy { $0 >= $1 }, "node \(p)", sourceLocation: sourceLocation)
        }
    }

    /// A real recording with three phases: each call site's slices add up to its whole-run
    /// figures, and so do the sliced flame graphs' roots.
    @Test func realReportSlicesAddUpToTheWholeRun() throws {
        let program = try ExamplePrograms.build("c/phases.c")
        let (recording, _) = try Tracing.recordAndSummarize(program, ["40"])
        let report = try ReportBuilder().load(path: recording.mainTrace, heapMap: false).report
        let slices = try #require(report.timeSlices)
        #expect(slices.count > 32 && slices.count <= 64)
        #expect(UInt64(slices.count) * slices.widthNs > report.summary.durationNs)
        for site in report.callSites {
            #expect(site.slices.reduce(0) { $0 + $1.allocations } == site.figures.allocations, "\(site.function)")
            #expect(site.slices.reduce(0) { $0 + $1.bytes } == site.figures.allocatedBytes, "\(site.function)")
            #expect(site.slices.allSatisfy { $0.slice < slices.count && $0.allocations > 0 })
        }
        // The phases follow each other: the first phase's site allocates only early in the run.
        let load = try #require(report.callSites.first { $0.function == "load_table" })
        let index = try #require(report.callSites.first { $0.function == "build_index" })
        #expect(try #require(load.slices.last).slice < index.slices[0].slice)
        for (g, total) in [(report.flameGraphs[0], report.summary.allocatedBytes), (report.flameGraphs[1], report.summary.allocations)] {
            let sliced = try #require(g.sliced)
            #expect(sliced.nodes[0].values.reduce(0) { $0 + $1.value } == total)
            Self.checkSums(sliced)
        }
    }
}
