import Analysis
import Foundation
import MemAtlasTraceSchema
import Recording
import TestSupport
import Testing
import TraceIO
import TraceModel

/// Corrupt traces made byte by byte, each aimed at one way a reader can be made to spend time or
/// memory it should not, or to trap; and the mutation run of `trace-fuzz` over recorded traces.
@Suite struct CorruptTraceTests {
    /// Encodes records after a version-3 header, uncompressed.
    struct TraceBytes {
        var stream: [UInt8] = []
        var recordStarts: [Int] = []

        mutating func uv(_ value: UInt64) {
            var v = value
            while v >= 0x80 {
                stream.append(UInt8(truncatingIfNeeded: v) | 0x80)
                v >>= 7
            }
            stream.append(UInt8(v))
        }
        mutating func sv(_ value: Int64) { uv(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }
        mutating func str(_ text: String) {
            uv(UInt64(text.utf8.count))
            stream += Array(text.utf8)
        }
        mutating func record(_ tag: Int32) {
            recordStarts.append(stream.count)
            stream.append(UInt8(tag))
        }
        /// A process record with the given page size.
        mutating func process(pageSize: UInt64 = 4096) {
            record(MA_REC_PROCESS)
            for value in [1, 0, 0, 0, pageSize, UInt64(MA_UNWIND_NONE), 0, 10_000_000] { uv(value) }
            str("/bin/x")
            str("x")
        }
        /// The file: header, then the stream.
        var file: [UInt8] {
            var header = Array(MA_TRACE_MAGIC.utf8) + [UInt8(MA_TRACE_VERSION), 0, 0, 0, UInt8(MA_TRACE_HEADER_SIZE), 0, 0, 0]
            header += [UInt8](repeating: 0, count: Int(MA_TRACE_HEADER_SIZE) - header.count)
            return header + stream
        }
        func write() -> String {
            let path = Tracing.scratchDirectory() + "/t"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(file)))
            return path
        }
    }

    func read(_ path: String) throws -> (TraceReader, HeapProfile) {
        let reader = try TraceReader(path: path)
        var analysis = HeapAnalysis()
        try reader.read(into: &analysis)
        return (reader, analysis.finish())
    }

    @Test func hugeRunCountCostsNeitherTimeNorMemory() throws {
        // A residency region that claims 2^26 runs, with 3 bytes of them before the file ends. The
        // reader looped over all 2^26 (appending zeros to an array) at every refill of its window.
        var t = TraceBytes()
        t.process()
        t.record(MA_REC_RESIDENCY)
        for value: UInt64 in [0, 1, 0x1000, 4096, 1, 1 << 26, 0, 1, 0] { t.uv(value) }
        let started = Date()
        let (reader, _) = try read(t.write())
        #expect(Date().timeIntervalSince(started) < 1)
        #expect(reader.residency.isEmpty)
        // The record: tag, time, region count, start (2 bytes), length (2), kind, run count (4), 3 runs.
        #expect(reader.completeness == .truncated(reason: "the trace ends inside a record (15 bytes of it): the process was killed or the file was cut"))
    }

    @Test func residencyRunsMustCoverTheRegion() throws {
        var t = TraceBytes()
        t.process()
        t.record(MA_REC_RESIDENCY)
        // One region of 8192 bytes whose runs (0 not resident, 1 resident) count one page.
        for value: UInt64 in [0, 1, 0x1000, 8192, 1, 2, 0, 1] { t.uv(value) }
        let path = t.write()
        let error = try #require(throws: TraceFormatError.self) { _ = try read(path) }
        #expect(error.description == "\(path): record stream byte \(t.recordStarts[1]): a residency region at 0x1000 of 8192 bytes whose runs count 1 pages of 4096 bytes, or that overlaps the one before it")
    }

    @Test func pageSizeMustBeAPowerOfTwo() throws {
        var t = TraceBytes()
        t.process(pageSize: UInt64.max)
        let path = t.write()
        let error = try #require(throws: TraceFormatError.self) { _ = try read(path) }
        #expect(error.description == "\(path): record stream byte 0: a page size of 18446744073709551615 bytes (a power of two up to 1 GiB expected)")
    }

    @Test func summaryOfSizesNear2To64DoesNotTrap() throws {
        // Two stacks through one call site (0x1000), each with a malloc of 2^63 bytes: the site's
        // byte total wraps (as HeapAnalysis's totals do) instead of trapping.
        var t = TraceBytes()
        t.process()
        for second: Int64 in [0x2000, 0x3000] {
            t.record(MA_REC_STACK)
            t.uv(2)
            t.sv(0x1000)
            t.sv(second - 0x1000)
        }
        t.record(MA_REC_THREAD)
        t.uv(7)
        for (stackDelta, addressField): (Int64, UInt64) in [(1, 0x1_0000 / 16 * 2 << 2), (1, 0x40 / 16 * 2 << 2)] {
            t.record(MA_REC_MALLOC)
            t.uv(1 << 63)
            t.sv(stackDelta)
            t.uv(addressField)
        }
        t.record(MA_REC_EXIT)
        t.uv(1)
        t.uv(UInt64(MA_EXIT_NORMAL))
        let (report, profile, reader) = try TraceSummary.summarize(path: t.write())
        #expect(reader.completeness == .complete)
        #expect(profile.allocations == 2)
        #expect(profile.stacks[1].allocatedBytes == 1 << 63 && profile.stacks[2].allocatedBytes == 1 << 63)
        let site = try #require(report.topByAllocations.first)
        #expect(report.topByAllocations.count == 1)
        #expect(site.allocations == 2)
        #expect(site.allocatedBytes == 0)  // 2^63 + 2^63, wrapped
        #expect(site.location.first?.function == "0x1000")
    }

    @Test func readingReleasesItsBuffers() throws {
        // Each read used to keep its 4 MiB window and 1 MiB input buffer: 200 reads, 1,000 MiB.
        let program = try ExamplePrograms.build("c/exact_counts.c")
        let (result, _) = try Tracing.recordAndSummarize(program)
        func virtualBytes() -> Int {
            let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmSize:") } ?? ""
            return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
        }
        _ = try read(result.mainTrace)
        let before = virtualBytes()
        for _ in 0..<200 { _ = try read(result.mainTrace) }
        let grown = virtualBytes() - before
        #expect(grown < 256 << 20, "the address space grew by \(grown >> 20) MiB over 200 reads")
    }

    /// `MEMATLAS_FUZZ_INPUTS` inputs (default 3,000) of `trace-fuzz` on recorded seeds, compressed
    /// and not: every input ends in a read or a one-line error, none takes 2 s, the fuzzer's peak
    /// resident memory stays under 256 MiB. Benchmarks/reliability/README.md has the 100,000 run.
    @Test func mutatedTracesEndInAReadOrAOneLineError() throws {
        let inputs = ProcessInfo.processInfo.environment["MEMATLAS_FUZZ_INPUTS"].flatMap { UInt64($0) } ?? 3_000
        let dir = Tracing.scratchDirectory()
        var seeds: [String] = []
        let exact = try ExamplePrograms.build("c/exact_counts.c")
        let odd = try ExamplePrograms.build("c/odd_calls.c")
        var programs: [(String, String, [String])] = [("exact4", exact, ["4"]), ("odd", odd, [])]
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") {
            programs.append(("python", "/usr/bin/python3", ["-c", "import json; json.dumps({'a': [1, 2]})"]))
        }
        for (name, program, arguments) in programs {
            for compress in [false, true] {
                var options = RecordOptions()
                options.output = dir + "/\(name)\(compress ? "" : "-raw").trace"
                options.compress = compress
                seeds.append(try Recorder.run(program: program, arguments: arguments, options: options).mainTrace)
            }
        }
        let result = try TestProcess.run(
            "/usr/bin/timeout", ["-s", "KILL", "1800", Tracing.builtExecutable("trace-fuzz"), "--inputs", String(inputs), "--work", dir + "/work"] + seeds)
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").last)
        let figures = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let complete = figures["complete"] as? Int ?? -1, truncated = figures["truncated"] as? Int ?? -1
        let refused = figures["refused"] as? Int ?? -1
        #expect(figures["inputs"] as? Int == Int(inputs))
        #expect(complete + truncated + refused == Int(inputs))
        // The mutations reach every outcome: whole reads, truncated reads and refusals.
        #expect(complete > 0 && truncated > 0 && refused > 0, "\(figures)")
        #expect(figures["violationCount"] as? Int == 0, "\(figures["violations"] ?? "")")
        #expect((figures["slowestInputMs"] as? Double ?? .infinity) < 2_000, "\(figures)")
        #expect((figures["peakRSSBytes"] as? Int ?? .max) < 256 << 20, "\(figures)")
    }
}
