import Analysis
import Foundation
import Recording
import TestSupport
import Testing
import TraceIO

/// What a process had recorded but not written when it died is in TRACE.pending; opening the
/// trace (once the process is gone) appends it.
@Suite struct PendingRecordsTests {
    /// Runs `killed.c` under the recorder preloaded directly (no `mematlas record` to finish the
    /// trace), waits for its 1,000 allocations, and kills it.
    func killedWithoutRecord(compress: Bool) throws -> String {
        let program = try ExamplePrograms.build("c/killed.c")
        let trace = Tracing.scratchDirectory() + "/t"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        var environment = ProcessInfo.processInfo.environment
        environment["LD_PRELOAD"] = try RecorderLibrary.path()
        environment["MEMATLAS_OUTPUT"] = trace
        environment["MEMATLAS_ROOT"] = "1"
        environment["MEMATLAS_COMPRESS"] = compress ? "zstd" : "none"
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        TestProcess.read(out, until: "allocated")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(FileManager.default.fileExists(atPath: trace + PendingRecords.suffix))
        return trace
    }

    @Test(arguments: [true, false]) func openingTheTraceAppendsWhatWasPending(compress: Bool) throws {
        let trace = try killedWithoutRecord(compress: compress)
        let reader = try TraceReader(path: trace)
        #expect(!FileManager.default.fileExists(atPath: trace + PendingRecords.suffix))
        var analysis = HeapAnalysis()
        try reader.read(into: &analysis)
        let profile = analysis.finish()
        // 1,000 blocks of 100..1099 bytes and stdout's buffer (4,096 bytes): nothing lost, nothing twice.
        #expect(profile.allocations == 1001)
        #expect(profile.allocatedBytes == (100 + 1099) * 1000 / 2 + 4096)
        #expect(reader.completeness != .complete)  // killed: no exit record
        if case .truncated(let reason) = reader.completeness {
            #expect(reason.contains("no exit record"), "\(reason)")
        }
    }

    @Test func pendingFileOfARunningProcessIsLeftAlone() throws {
        let trace = Tracing.scratchDirectory() + "/t"
        #expect(FileManager.default.createFile(atPath: trace, contents: Data()))
        var header = Data(MA_PENDING_MAGIC_TEXT.utf8)
        var pid = UInt64(getpid()).littleEndian  // this test process: alive
        header.append(Data(bytes: &pid, count: 8))
        header.append(Data(count: 4096 - header.count + 4 * (1 << 20)))
        #expect(FileManager.default.createFile(atPath: trace + PendingRecords.suffix, contents: header))
        #expect(PendingRecords.salvage(trace: trace) == .stillRunning)
        #expect(FileManager.default.fileExists(atPath: trace + PendingRecords.suffix))
    }
}

private let MA_PENDING_MAGIC_TEXT = "MAPEND01"
