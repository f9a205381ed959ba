import TraceIO
import TraceModel

/// One line per process of a recording (`mematlas run` of a program that forks or execs writes a
/// trace per process and program): which program it was and its main figures, so that the process
/// that used the memory can be found among a build's compilers or a script's children.
public struct ProcessOverview: Codable, Equatable, Sendable {
    public var trace: String
    public var pid: UInt32
    /// The program's command line (its executable when the trace holds no arguments).
    public var command: String
    public var calls: UInt64
    public var allocations: UInt64
    public var allocatedBytes: UInt64
    public var peakHeapBytes: UInt64
    public var leakedBytes: UInt64
    public var leakedBlocks: UInt64
    /// How the process ended (exit, exec, signal, ...), as the summary says it.
    public var end: String
    /// Why the trace could not be read, when it could not (the other figures are then 0).
    public var error: String?

    /// The figures of each trace, read without symbolizing (a build writes hundreds); `known`
    /// gives those already summarized, by trace path.
    public static func of(traces: [String], known: [String: SummaryReport] = [:]) -> [ProcessOverview] {
        traces.map { path in
            if let report = known[path] { return ProcessOverview(report) }
            do {
                let reader = try TraceReader(path: path)
                var analysis = HeapAnalysis()
                try reader.read(into: &analysis)
                let profile = analysis.finish()
                let process = reader.process
                let arguments = process?.arguments ?? []
                return ProcessOverview(
                    trace: path, pid: process?.pid ?? UInt32(truncatingIfNeeded: reader.header.pid),
                    command: arguments.isEmpty ? process?.executable ?? "?" : arguments.joined(separator: " "),
                    calls: profile.calls.values.reduce(0, +), allocations: profile.allocations, allocatedBytes: profile.allocatedBytes,
                    peakHeapBytes: profile.peakBytes, leakedBytes: profile.leakedBytes, leakedBlocks: profile.leakedBlocks,
                    end: reader.processEnd.rawValue, error: nil)
            } catch {
                return ProcessOverview(
                    trace: path, pid: 0, command: "?", calls: 0, allocations: 0, allocatedBytes: 0, peakHeapBytes: 0,
                    leakedBytes: 0, leakedBlocks: 0, end: "?", error: "\(error)")
            }
        }
    }

    init(trace: String, pid: UInt32, command: String, calls: UInt64, allocations: UInt64, allocatedBytes: UInt64,
         peakHeapBytes: UInt64, leakedBytes: UInt64, leakedBlocks: UInt64, end: String, error: String?) {
        self.trace = trace
        self.pid = pid
        self.command = command
        self.calls = calls
        self.allocations = allocations
        self.allocatedBytes = allocatedBytes
        self.peakHeapBytes = peakHeapBytes
        self.leakedBytes = leakedBytes
        self.leakedBlocks = leakedBlocks
        self.end = end
        self.error = error
    }

    init(_ report: SummaryReport) {
        self.init(
            trace: report.trace, pid: report.pid,
            command: report.arguments.isEmpty ? report.executable : report.arguments.joined(separator: " "),
            calls: report.calls.values.reduce(0, +), allocations: report.allocations, allocatedBytes: report.allocatedBytes,
            peakHeapBytes: report.peakHeapBytes, leakedBytes: report.leakedBytes, leakedBlocks: report.leakedBlocks,
            end: report.end, error: nil)
    }
}
