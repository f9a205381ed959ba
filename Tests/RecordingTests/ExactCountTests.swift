import Analysis
import Foundation
import Recording
import TestSupport
import Testing

/// The figures of one `workload()` of Examples/c/exact_counts.c (see the comment at its top).
private enum Workload {
    static let calls: [String: UInt64] = [
        "malloc": 100, "calloc": 50, "realloc": 20, "reallocarray": 2, "posix_memalign": 5, "aligned_alloc": 5,
        "memalign": 5, "valloc": 3, "pvalloc": 2, "free": 169, "mmap": 3, "munmap": 2, "mremap": 1,
    ]
    static let allocations: UInt64 = 100 + 50 + 20 + 5 + 5 + 5 + 3 + 2 + 2
    static let allocatedBytes: UInt64 = (32...131).reduce(0, +) + 50 * 80 + (1...20).reduce(0) { $0 + UInt64($1) * 100 }
        + 5 * 100 + 5 * 256 + 5 * 48 + 3 * 100 + 2 * 100 + 160 + 320
    static let leakedBytes: UInt64 = (32...41).reduce(0, +)
    /// 50 callocs freed at once, the last of the 100 mallocs, the last of each aligned/valloc group
    /// (5 groups), the realloc'd block and the reallocarray'd block.
    static let temporary: UInt64 = 50 + 1 + 5 + 1 + 1
}

@Suite struct ExactCountTests {
    @Test func singleThreadedWorkloadGivesExactFigures() throws {
        let program = try ExamplePrograms.build("c/exact_counts.c")
        for unwinder in ["libunwind", "fp"] {
            let (result, report) = try Tracing.recordAndSummarize(program, unwinder: unwinder)
            #expect(result.exitCode == 0)
            #expect(report.complete)
            #expect(report.calls == Workload.calls, "unwinder \(unwinder)")
            #expect(report.allocations == Workload.allocations)
            #expect(report.allocatedBytes == Workload.allocatedBytes)
            #expect(report.peakHeapBytes == (32...131).reduce(0, +))
            #expect(report.peakHeapBlocks == 100)
            #expect(report.leakedBytes == Workload.leakedBytes)
            #expect(report.leakedBlocks == 10)
            #expect(report.temporaryAllocations == Workload.temporary)
            #expect(report.peakMappedBytes == (2 + 16) * 4096)  // after the mremap: m3 and the grown m2
            #expect(report.mappedBytesAtExit == 2 * 4096)
            #expect(report.unmatchedFrees == 0)
            #expect(report.failedCalls.isEmpty)
            // Every allocation is attributed to a line of workload() with a symbolized stack.
            let top = try #require(report.topByAllocations.first)
            #expect(top.location.first?.function == "workload")
            #expect(top.allocations == 100)
            #expect(top.location.first?.file?.hasSuffix("exact_counts.c") == true)
            #expect(report.topByLeaks.first?.leakedBlocks == 10)
            #expect(report.topByLeaks.first?.stack.contains { $0.function == "main" } == true)
        }
    }

    @Test func fourThreadsGiveExactFigures() throws {
        let program = try ExamplePrograms.build("c/exact_counts.c")
        let (result, report) = try Tracing.recordAndSummarize(program, ["4"])
        #expect(result.exitCode == 0)
        var expected = Workload.calls.mapValues { $0 * 4 }
        // pthread_create allocates each new thread's TLS vector (dtv) with calloc; glibc keeps it
        // with the cached thread stack after pthread_join, so it is live at exit.
        expected["calloc"]! += 4
        // glibc 2.36's thread exit calls free twice per thread (its per-thread buffers), on blocks
        // the trace knows or on NULL: unmatchedFrees stays 0 below.
        expected["free"]! += 2 * 4
        #expect(report.calls == expected)
        #expect(report.allocations == 4 * Workload.allocations + 4)
        #expect(report.leakedBlocks == 4 * 10 + 4)
        #expect(report.temporaryAllocations == 4 * Workload.temporary)
        #expect(report.mappedBytesAtExit == 4 * 2 * 4096)
        #expect(report.unmatchedFrees == 0)
        #expect(report.threads == 5)
        let workloadSites = report.topByAllocations.filter { $0.location.first?.function == "workload" }
        let shown = report.topByAllocations.prefix(4).map { site in
            "\(site.allocations) at " + site.stack.prefix(4).map { "\($0.function)@\(($0.module as NSString).lastPathComponent)" }.joined(separator: " < ")
        }
        #expect(workloadSites.reduce(0) { $0 + $1.allocations } == 4 * Workload.allocations, "top sites: \(shown)")
    }
}
