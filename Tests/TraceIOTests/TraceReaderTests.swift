import Analysis
import Foundation
import Recording
import TestSupport
import Testing
import TraceIO
import TraceModel

/// The reader never trusts its input: truncated traces report what they hold, corrupt or foreign
/// files get a one-line error naming the file and the offset.
@Suite struct TraceReaderTests {
    /// A real trace of the exact-count example, recorded once per test process.
    static let sampleTrace: String = {
        let program = try! ExamplePrograms.build("c/exact_counts.c")
        let (result, _) = try! Tracing.recordAndSummarize(program)
        return result.mainTrace
    }()

    func summarize(_ path: String) throws -> HeapProfile {
        let reader = try TraceReader(path: path)
        var analysis = HeapAnalysis()
        try reader.read(into: &analysis)
        return analysis.finish()
    }

    func write(_ bytes: [UInt8]) -> String {
        let path = Tracing.scratchDirectory() + "/t"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    @Test func foreignFileIsRefusedWithOneLine() throws {
        let path = write(Array("hello, this is not a trace at all".utf8))
        let error = try #require(throws: TraceFormatError.self) { try TraceReader(path: path) }
        #expect(error.description == "\(path): offset 0: not a MemAtlas trace (expected the magic \"MEMATLAS\")")
        #expect(!error.description.contains("\n"))
    }

    @Test func otherVersionIsRefused() throws {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: Self.sampleTrace)))
        bytes[8] = 99
        let error = try #require(throws: TraceFormatError.self) { try TraceReader(path: write(bytes)) }
        #expect(error.description.contains("offset 8: format version 99"))
    }

    @Test func truncatedTraceReportsWhatItHolds() throws {
        let whole = Array(try Data(contentsOf: URL(fileURLWithPath: Self.sampleTrace)))
        let full = try summarize(Self.sampleTrace)
        var previousEvents: UInt64 = 0
        // Cut at many points: each read succeeds, says "truncated", and holds a prefix of the events.
        for cut in stride(from: 32, to: whole.count, by: max(1, whole.count / 40)) {
            let reader = try TraceReader(path: write(Array(whole[..<cut])))
            var analysis = HeapAnalysis()
            try reader.read(into: &analysis)
            let profile = analysis.finish()
            #expect(reader.completeness != .complete, "cut at \(cut)")
            #expect(profile.events <= full.events)
            #expect(profile.events >= previousEvents)
            previousEvents = profile.events
        }
        let reader = try TraceReader(path: Self.sampleTrace)
        var analysis = HeapAnalysis()
        try reader.read(into: &analysis)
        #expect(reader.completeness == .complete)
    }

    @Test func uncompressedCorruptionNamesTheOffset() throws {
        // A trace written without compression, with a byte in its record stream changed to an
        // unknown tag: the error names the file and the stream offset, in one line.
        let program = try ExamplePrograms.build("c/exact_counts.c")
        var options = RecordOptions()
        options.output = Tracing.scratchDirectory() + "/raw"
        options.compress = false
        let result = try Recorder.run(program: program, arguments: [], options: options)
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: result.mainTrace)))
        bytes[32] = 0xEE  // the first record's tag
        let path = write(bytes)
        let error = try #require(throws: TraceFormatError.self) { _ = try summarize(path) }
        #expect(error.description == "\(path): record stream byte 0: unknown record tag 0xee (expected one of the MA_REC_* tags)")
    }

    @Test func residencySnapshotsDescribeTheHeap() throws {
        let reader = try TraceReader(path: Self.sampleTrace)
        var analysis = HeapAnalysis()
        try reader.read(into: &analysis)
        let profile = analysis.finish()
        // One at start (first tick) and one at exit at least; the brk heap is in each.
        #expect(reader.residency.count >= 2)
        let last = try #require(reader.residency.last)
        let heap = try #require(last.regions.first { $0.kind == .brkHeap })
        #expect(heap.residentBytes > 0 && heap.residentBytes <= heap.length)
        #expect(heap.runs.reduce(0) { $0 + UInt64($1) } * 4096 == heap.length)
        // Anonymous resident memory is part of RSS.
        #expect(last.residentBytes <= profile.peakResidentBytes + 4096 * 64)
        #expect(last.residentBytes(from: heap.start, to: heap.start + heap.length) == heap.residentBytes)
    }

    @Test func killedProcessLeavesAReadableTrace() throws {
        let program = try ExamplePrograms.build("c/killed.c")
        let dir = Tracing.scratchDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Tracing.mematlasBinary)
        process.arguments = ["record", "-o", dir + "/t", "--", program]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // Wait for "allocated", then one more sample interval, then SIGKILL the program.
        TestProcess.read(out, until: "allocated")
        usleep(100_000)
        // Only the program itself (not mematlas, whose command line names it too).
        let pids = try TestProcess.run("pgrep", ["-f", program]).stdout.split(separator: "\n").compactMap { Int32($0) }
        for pid in pids where (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) == program {
            kill(pid, SIGKILL)
        }
        process.waitUntilExit()
        // mematlas ends by the signal that killed the program, as the program itself did.
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(process.terminationStatus == SIGKILL)
        let reader = try TraceReader(path: dir + "/t")
        var analysis = HeapAnalysis()
        try reader.read(into: &analysis)
        let profile = analysis.finish()
        #expect(reader.completeness != .complete)
        // mematlas record coded the program's records, those it salvaged too, into column blocks.
        #expect(reader.header.hasColumnBlocks && reader.header.flags & 0x4 == 0)  // MA_FLAG_RAW_ADDRESSES
        // Every event older than one sample interval is there: the 1,000 blocks (100 to 1,099
        // bytes) and stdout's buffer (4,096 bytes: a pipe's block size), nothing freed.
        #expect(profile.calls[.malloc] == 1001)
        #expect(profile.calls[.free] ?? 0 == 0)
        #expect(profile.leakedBlocks == 1001)
        #expect(profile.leakedBytes == 599_500 + 4096)
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/t")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }
}
