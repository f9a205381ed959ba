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
/// `record` codes into column blocks (MA_FLAG_COLUMNS): a raw trace reads as itself, and the
/// column coding gives back exactly its records.
@Suite struct ColumnCodingTests {
    /// Runs `program` under the recorder preloaded as `record` would, without `record` (nobody
    /// codes the records): the raw trace stays. Returns its path.
    func rawTrace(_ program: String, _ arguments: [String], name: String, environment extra: [String: String] = [:]) throws -> String {
        let trace = Tracing.scratchDirectory() + "/" + name
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
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

    /// exact_counts.c on 4 threads, raw.
    func rawTrace() throws -> String {
        try rawTrace(try ExamplePrograms.build("c/exact_counts.c"), ["4"], name: "raw")
    }

    /// Every event's fields, one line each.
    func events(_ trace: String) throws -> [String] {
        var lines: [String] = []
        try TraceReader(path: trace).readBatches(parallel: false) { batch in
            for e in batch.events {
                lines.append("\(e.function) \(e.size) \(e.alignment) \(e.oldAddress) -> \(e.address) stack \(e.stack) thread \(e.thread) at \(e.timeNs)")
            }
        }
        return lines
    }

    /// The raw trace's records coded as `record` codes them, handed over in pieces of every size
    /// from 1 to `largestPiece` bytes (so that records are cut everywhere), with the cut record
    /// carried over; a record cut at the end goes last, as it is.
    func columnTrace(of raw: [UInt8], largestPiece: Int = 97, blockRawBytes: Int = ColumnBlockWriter.defaultBlockRawBytes) throws -> [UInt8] {
        let header = Int(MA_TRACE_HEADER_SIZE)
        var coded = Array(raw[0..<header])
        let flags = (UInt16(raw[10]) | UInt16(raw[11]) << 8 | UInt16(MA_FLAG_COLUMNS)) & ~UInt16(MA_FLAG_RAW_ADDRESSES)
        coded[10] = UInt8(flags & 0xff)
        coded[11] = UInt8(flags >> 8)
        let writer = try #require(ColumnBlockWriter(blockRawBytes: blockRawBytes))
        var pending: [UInt8] = []
        var at = header, piece = 1
        while at < raw.count {
            let end = min(raw.count, at + piece)
            pending += raw[at..<end]
            at = end
            piece = piece % largestPiece + 1
            let consumed = try pending.withUnsafeBytes { input in try writer.append(input) { coded += $0 } }
            pending.removeFirst(try #require(consumed))
        }
        #expect(try pending.withUnsafeBytes { try writer.finish(cut: $0) { coded += $0 } })
        return coded
    }

    @Test func aRawTraceReadsWithExactFiguresAndCodesToTheSameRecords() throws {
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

        let coded = try columnTrace(of: bytes)
        let codedTrace = raw + ".columns"
        try Data(coded).write(to: URL(fileURLWithPath: codedTrace))
        let rawEvents = try events(raw), codedEvents = try events(codedTrace)
        // Every call the summary counts, and the thread exits' free(NULL)s, which it does not.
        #expect(rawEvents.count >= Int(report.calls.values.reduce(0, +)))
        #expect(codedEvents == rawEvents)
        let (codedReport, _, _) = try TraceSummary.summarize(path: codedTrace, top: 5)
        #expect(codedReport.complete)
        #expect(codedReport.allocations == report.allocations && codedReport.leakedBlocks == report.leakedBlocks)
        #expect(codedReport.peakHeapBytes == report.peakHeapBytes && codedReport.temporaryAllocations == report.temporaryAllocations)
        // 8-byte addresses become a symbol of a few bits, and zstd codes each column on its own.
        #expect(coded.count * 5 < bytes.count, "\(coded.count) coded bytes, \(bytes.count) raw")
    }

    /// Every record of a real program, whatever its kind (mmap, memalign, realloc in place and
    /// failed, frees of blocks from before the recorder started), comes back byte for byte.
    @Test func pythonsRecordsComeBackExactly() throws {
        let script = "import json, mmap; m = mmap.mmap(-1, 1 << 20); d = [json.dumps({'k': i, 'v': [i] * (i % 50)}) for i in range(4000)]; print(len(''.join(d)))"
        let trace = try rawTrace("/usr/bin/python3", ["-c", script], name: "python", environment: ["PYTHONMALLOC": "malloc"])
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: trace)))
        let coded = try columnTrace(of: bytes, largestPiece: 4093)
        let codedTrace = trace + ".columns"
        try Data(coded).write(to: URL(fileURLWithPath: codedTrace))
        let rawEvents = try events(trace)
        #expect(rawEvents.count > 20_000)
        #expect(try events(codedTrace) == rawEvents)
    }

    /// A record cut at the end of the raw trace (a program killed while writing it) stays cut in
    /// the column trace: every whole event reads, and the trace says it ends inside a record.
    @Test func aCutLastRecordReadsAsCut() throws {
        let raw = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try rawTrace())))
        // Cut inside the events, long before the exit record, at every offset of a few records.
        for end in stride(from: raw.count / 2, to: raw.count / 2 + 40, by: 3) {
            let prefix = Array(raw[0..<end])
            let path = Tracing.scratchDirectory() + "/cut-\(end)"
            try Data(try columnTrace(of: prefix, largestPiece: 65_536)).write(to: URL(fileURLWithPath: path))
            try Data(prefix).write(to: URL(fileURLWithPath: path + ".raw"))
            let columnEvents = try events(path), rawEvents = try events(path + ".raw")
            #expect(columnEvents == rawEvents && rawEvents.count > 500, "\(rawEvents.count) events")
            let column = try TraceReader(path: path), plain = try TraceReader(path: path + ".raw")
            try column.readBatches { _ in }
            try plain.readBatches { _ in }
            #expect(column.completeness == plain.completeness)
            #expect(column.completeness != .complete)
        }
    }

    @Test func recordLeavesColumnBlocks() throws {
        let program = try ExamplePrograms.build("c/exact_counts.c")
        let (result, report) = try Tracing.recordAndSummarize(program, ["4"])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: result.mainTrace)).prefix(12)
        #expect(bytes[10] == UInt8(MA_FLAG_COLUMNS))
        #expect(report.allocations == 4 * Workload.allocations + 4)
    }

    /// A program the started process execs (through two shells here, as a script's interpreter or
    /// a shim would) has its trace coded by `record` too: column blocks, the exact figures. So has a
    /// forked child's.
    @Test func programsTheStartedProcessExecsAreCodedByRecord() throws {
        let program = try ExamplePrograms.build("c/exact_counts.c")
        let (result, report) = try Tracing.recordAndSummarize("/bin/sh", ["-c", "exec /bin/sh -c 'exec \(program) 4'"])
        #expect(result.traces.count == 3)
        #expect(result.mainTrace == result.traces.last && result.mainTrace.hasSuffix(".\(result.pid).2"))
        for trace in result.traces {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: trace)).prefix(12)
            #expect(bytes[10] == UInt8(MA_FLAG_COLUMNS), "\(trace)")
        }
        var expected = Workload.calls.mapValues { $0 * 4 }
        expected["calloc"]! += 4  // as in fourThreadsGiveExactFigures
        expected["free"]! += 2 * 4
        #expect(report.calls == expected)
        #expect(report.allocations == 4 * Workload.allocations + 4)
        #expect(report.leakedBlocks == 4 * 10 + 4)
        #expect(report.unmatchedFrees == 0)

        let (forked, _) = try Tracing.recordAndSummarize("/bin/sh", ["-c", "\(program) 1; exec /bin/true"])
        let flags = try forked.traces.map { try Data(contentsOf: URL(fileURLWithPath: $0)).prefix(12)[10] }
        #expect(forked.traces.count == 3)
        #expect(flags == [UInt8](repeating: UInt8(MA_FLAG_COLUMNS), count: 3), "the shell's two programs and the forked child's")
        let child = forked.traces.first { !$0.hasSuffix(".\(forked.pid)") && $0 != forked.traces[0] }!
        let (childReport, _, _) = try TraceSummary.summarize(path: child, top: 5)
        #expect(childReport.allocations == Workload.allocations + 1)
        #expect(childReport.unmatchedFrees == 0)

        // Recorded again to the same output (--force): the first recording's child traces stay, and
        // are not this recording's.
        var options = RecordOptions()
        options.output = forked.traces[0]
        options.force = true
        let again = try Recorder.run(program: "/bin/sh", arguments: ["-c", "\(program) 1; exec /bin/true"], options: options)
        #expect(again.traces.count == 3)
        #expect(Set(again.traces).intersection(forked.traces) == [forked.traces[0]])
        #expect(again.mainTrace.hasSuffix(".\(again.pid)"))
        for trace in forked.traces { #expect(FileManager.default.fileExists(atPath: trace)) }
    }

    /// A child still running when the started process ends (a daemon) is not waited for: `record`
    /// returns, and the child's trace stays raw, a valid trace with the exact figures.
    @Test func aChildThatOutlivesTheStartedProcessKeepsARawTrace() throws {
        let program = try ExamplePrograms.build("c/exact_counts.c")
        let directory = Tracing.scratchDirectory()
        let gate = directory + "/gate"
        var options = RecordOptions()
        options.output = directory + "/trace"
        // The child waits for the gate, which is made once `record` has returned.
        let script = "(while [ ! -e \(gate) ]; do sleep 0.01; done; exec \(program)) & echo $! > \(directory)/child"
        let result = try Recorder.run(program: "/bin/sh", arguments: ["-c", script], options: options)
        #expect(result.exitCode == 0)
        FileManager.default.createFile(atPath: gate, contents: Data())
        let child = try #require(Int32(String(decoding: try Data(contentsOf: URL(fileURLWithPath: directory + "/child")), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        let deadline = Date().addingTimeInterval(20)
        while kill(child, 0) == 0 && Date() < deadline { usleep(10_000) }
        let traces = Recorder.traceFiles(for: options.output!).filter { $0.hasPrefix("\(options.output!).\(child)") }
        let last = try #require(traces.last)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: last)).prefix(12)
        #expect(bytes[10] == UInt8(MA_FLAG_RAW_ADDRESSES))
        let (report, _, _) = try TraceSummary.summarize(path: last, top: 5)
        #expect(report.calls == Workload.calls)
        #expect(report.allocations == Workload.allocations)
        #expect(report.leakedBlocks == 10)
        #expect(report.complete)
    }

    @Test func anUnknownRecordStopsTheCoding() throws {
        let writer = try #require(ColumnBlockWriter())
        var free = [UInt8(MA_REC_FREE)] + [UInt8](repeating: 0x10, count: 8)
        free.append(0x7f)  // no such tag
        let consumed = try free.withUnsafeBytes { try writer.append($0) { _ in } }
        #expect(consumed == nil)
    }

    /// A trace cut inside a block, and blocks with damaged bytes, read up to the damage and say
    /// where it is, in one line; nothing crashes and nothing is made up.
    @Test func cutAndDamagedBlocksAreReportedWithTheirOffset() throws {
        let raw = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try rawTrace())))
        // Blocks of 2 KiB: the damage is often in a block that the reader's thread has read past.
        let coded = try columnTrace(of: raw, largestPiece: 65_536, blockRawBytes: 2048)
        #expect(coded.count > 10 * 2048 / 5, "several blocks")
        let directory = Tracing.scratchDirectory()
        let cut = directory + "/cut"
        try Data(coded.prefix(coded.count - 100)).write(to: URL(fileURLWithPath: cut))
        let reader = try TraceReader(path: cut)
        try reader.readBatches { _ in }
        guard case .truncated(let reason) = reader.completeness else {
            Issue.record("a cut trace reads as complete")
            return
        }
        #expect(reason.contains("ends inside the column block at file offset") && reason.contains("the recording was cut"), "\(reason)")

        // The first block damaged: the reader stops while its thread has read blocks ahead.
        var first = coded
        let frame = 32 + Int(MA_BLOCK_HEADER_SIZE)  // the first column's frame
        for i in frame + 8..<frame + 16 { first[i] ^= 0x5a }
        try Data(first).write(to: URL(fileURLWithPath: directory + "/first"))
        let stopped = try TraceReader(path: directory + "/first")
        try stopped.readBatches { _ in }
        guard case .truncated(let why) = stopped.completeness else {
            Issue.record("a trace with a damaged first block reads as complete")
            return
        }
        #expect(why.hasPrefix("corrupt column block at file offset 32: "), "\(why)")

        var rng = SystemRandomNumberGenerator()
        let damaged = directory + "/damaged"
        for _ in 0..<300 {
            var bytes = coded
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 32..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            try Data(bytes).write(to: URL(fileURLWithPath: damaged))
            let reader = try TraceReader(path: damaged)
            do {
                try reader.readBatches { _ in }
                if case .truncated(let reason) = reader.completeness {
                    #expect(reason.contains("file offset") && !reason.contains("\n"), "\(reason)")
                }
            } catch let error as TraceFormatError {
                #expect(!"\(error)".contains("\n"))
            }
        }
    }
}
