import Analysis
import Foundation
import MemAtlasTraceSchema
import Recording
import TestSupport
import Testing
import TraceIO

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

/// The program `mematlas record` starts writes raw addresses (MA_FLAG_RAW_ADDRESSES), which
/// `record` codes before compressing: a raw trace reads as itself, and its coding is exact.
@Suite struct RawAddressTests {
    /// Runs exact_counts.c on 4 threads under the recorder preloaded as `record` would, without
    /// `record` (nobody codes the addresses): the raw trace stays.
    func rawTrace() throws -> String {
        let program = try ExamplePrograms.build("c/exact_counts.c")
        let trace = Tracing.scratchDirectory() + "/raw"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = ["4"]
        var environment = ProcessInfo.processInfo.environment
        environment["LD_PRELOAD"] = try RecorderLibrary.path()
        environment["MEMATLAS_OUTPUT"] = trace
        environment["MEMATLAS_ROOT"] = "1"
        environment["MEMATLAS_PARENT_COMPRESSES"] = "1"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return trace
    }

    /// Every event's fields, one line each.
    func events(_ trace: String) throws -> [String] {
        var lines: [String] = []
        try TraceReader(path: trace).readBatches(parallel: false) { batch in
            for e in batch.events[0..<batch.count] {
                lines.append("\(e.function) \(e.size) \(e.oldAddress) -> \(e.address) stack \(e.stack) thread \(e.thread)")
            }
        }
        return lines
    }

    @Test func aRawTraceReadsWithExactFiguresAndCodesToTheSameEvents() throws {
        let raw = try rawTrace()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: raw)))
        let flags = UInt16(bytes[10]) | UInt16(bytes[11]) << 8
        #expect(flags == UInt16(MA_FLAG_RAW_ADDRESSES))

        let (report, _, _) = try TraceSummary.summarize(path: raw, top: 5)
        #expect(report.complete)
        #expect(report.allocations == 4 * Workload.allocations + 4)
        #expect(report.leakedBlocks == 4 * 10 + 4)
        #expect(report.temporaryAllocations == 4 * Workload.temporary)
        #expect(report.unmatchedFrees == 0)

        // Coded in pieces of every size from 1 to 97 bytes, so that records are cut everywhere,
        // carrying each cut record over as `record` does.
        let header = Int(MA_TRACE_HEADER_SIZE)
        var coded = Array(bytes[0..<header])
        coded[10] = 0
        let transcoder = RawAddressTranscoder()
        var pending: [UInt8] = []
        var at = header, piece = 1
        while at < bytes.count {
            let end = min(bytes.count, at + piece)
            pending += bytes[at..<end]
            at = end
            piece = piece % 97 + 1
            let consumed = try pending.withUnsafeBytes { input in
                try transcoder.transcode(input) { coded += $0; return true }
            }
            pending.removeFirst(try #require(consumed))
        }
        #expect(pending.isEmpty)
        let codedTrace = raw + ".coded"
        try Data(coded).write(to: URL(fileURLWithPath: codedTrace))
        let rawEvents = try events(raw), codedEvents = try events(codedTrace)
        // Every call the summary counts, and the thread exits' free(NULL)s, which it does not.
        #expect(rawEvents.count >= Int(report.calls.values.reduce(0, +)))
        #expect(codedEvents == rawEvents)
        // Most addresses are a one-byte place in a move-to-front list instead of 8 bytes.
        #expect(coded.count < bytes.count * 2 / 3, "\(coded.count) coded bytes, \(bytes.count) raw")
    }

    @Test func recordCodesTheAddressesOfTheTraceItCompresses() throws {
        let program = try ExamplePrograms.build("c/exact_counts.c")
        let (result, report) = try Tracing.recordAndSummarize(program, ["4"])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: result.mainTrace)).prefix(12)
        #expect(bytes[10] == UInt8(MA_FLAG_ZSTD))
        #expect(report.allocations == 4 * Workload.allocations + 4)
    }

    @Test func anUnknownRecordStopsTheCoding() throws {
        let transcoder = RawAddressTranscoder()
        var free = [UInt8(MA_REC_FREE)] + [UInt8](repeating: 0x10, count: 8)
        free.append(0x7f)  // no such tag
        let consumed = try free.withUnsafeBytes { try transcoder.transcode($0) { _ in true } }
        #expect(consumed == nil)
    }
}
