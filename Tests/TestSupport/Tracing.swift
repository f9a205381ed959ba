import Analysis
import Foundation
import Recording
import TraceIO

/// Helpers for tests that record real programs.
public enum Tracing {
    /// A fresh temporary folder for one test's traces, inside this test run's own folder.
    public static func scratchDirectory(_ name: String = #function) -> String {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let dir = runDirectory.appendingPathComponent("\(safe)-\(UInt32.random(in: 0...UInt32.max))")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    /// `TMPDIR/mematlas-tests-PID`: every scratch folder of this test run. The folders of earlier
    /// runs (whose process is gone) are removed when the first one is made, so that test runs do not
    /// fill the temporary directory.
    private static let runDirectory: URL = {
        let temporary = FileManager.default.temporaryDirectory
        let prefix = "mematlas-tests-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(at: temporary.appendingPathComponent(name))
        }
        return temporary.appendingPathComponent(prefix + String(getpid()))
    }()

    /// Records `program` with the library API and summarizes the started program's trace.
    public static func recordAndSummarize(
        _ program: String, _ arguments: [String] = [], unwinder: String = "libunwind", in directory: String? = nil
    ) throws -> (RecordingResult, SummaryReport) {
        var options = RecordOptions()
        options.output = (directory ?? scratchDirectory()) + "/trace"
        options.unwinder = unwinder
        let result = try Recorder.run(program: program, arguments: arguments, options: options)
        let (report, _, _) = try TraceSummary.summarize(path: result.mainTrace, top: 20)
        return (result, report)
    }

    /// Whether a trace's header says its body is compressed: one zstd stream (MA_FLAG_ZSTD) or
    /// column blocks (MA_FLAG_COLUMNS, 0x8).
    public static func isCompressed(_ trace: String) throws -> Bool {
        let header = try Data(contentsOf: URL(fileURLWithPath: trace)).prefix(12)
        return header.count == 12 && header.prefix(8) == Data("MEMATLAS".utf8) && header[10] & (1 | 8) != 0
    }

    /// The built `mematlas` executable (next to the test bundle, as `swift build` lays them out).
    public static var mematlasBinary: String { builtExecutable("mematlas") }

    /// A built executable of the package (`mematlas`, `trace-fuzz`), next to the test bundle.
    public static func builtExecutable(_ name: String) -> String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return ExamplePrograms.packageRoot.appendingPathComponent(".build/debug/\(name)").path
    }
}
