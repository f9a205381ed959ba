import AllocatorLab
import ArgumentParser
import Foundation
import Render

/// `mematlas simulate`: replays a trace through allocator models (and optionally real allocators)
/// and compares footprint, utilization and fragmentation.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay a trace through allocator models and compare footprint and fragmentation.",
        discussion: """
            TRACE is a trace written by `mematlas record`, or a malloc-lab text trace (lines `a ID BYTES`, \
            `r ID BYTES`, `f ID`). Models: \(AllocatorCatalog.names.joined(separator: ", ")), or `all`.
            """
    )

    @Argument(help: "A recorder trace or a malloc-lab text trace.")
    var trace: String

    @Option(name: .long, help: "Comma-separated models, or `all`.")
    var allocator = "first-fit,best-fit,segregated,tlsf,buddy,slab,pymalloc,compacting-gc"

    @Option(name: .long, help: "The most bytes a model may take from the system (suffixes K, M, G); requests beyond fail.")
    var heapLimit: String?

    @Flag(help: "Print the comparison as JSON.")
    var json = false

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write one heap-map SVG per model, at its peak, into this folder.")
    var outputDirectory: String?

    @Flag(help: "Also replay against real allocators (glibc; jemalloc and mimalloc when installed) and measure their peak RSS.")
    var real = false

    var models: [String] {
        allocator == "all" ? AllocatorCatalog.names : allocator.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func validate() throws {
        for name in models where AllocatorCatalog.make(name) == nil {
            throw ValidationError("unknown allocator \"\(name)\"; choose from \(AllocatorCatalog.names.joined(separator: ", ")) or all")
        }
        if let heapLimit, parseByteCount(heapLimit) == nil {
            throw ValidationError("--heap-limit \"\(heapLimit)\" is not a byte count (e.g. 65536, 512K, 64M, 2G)")
        }
    }

    func run() throws {
        // Errors (a bad text-trace line, an unreadable file) print as one line: `Error: FILE:LINE: ...`.
        let log = try loadOperationLog(trace)
        let limit = heapLimit.flatMap(parseByteCount) ?? .max
        var results: [ReplayResult] = []
        for name in models {
            let result = ReplayEngine.replay(log, throughAny: AllocatorCatalog.make(name, limitBytes: limit)!)
            results.append(result)
            if let outputDirectory {
                try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
                let snapshot = ReplayEngine.snapshotAtPeak(log, result: result) { AllocatorCatalog.make(name, limitBytes: limit)! }
                let svg = HeapMapPicture.svg(
                    snapshot, title: "\(name): heap at its peak footprint (operation \(Format.count(UInt64(result.peakFootprintOperation))) of \(Format.count(UInt64(result.operations))))",
                    subtitle: "footprint \(Format.bytes(result.peakFootprintBytes)), used blocks \(Format.bytes(snapshot.bytes(.used))), free \(Format.bytes(snapshot.bytes(.free))), overhead \(Format.bytes(snapshot.bytes(.overhead))); \(log.source)")
                try svg.write(toFile: outputDirectory + "/heapmap-\(name).svg", atomically: true, encoding: .utf8)
            }
        }
        var realResults: [RealReplayResult] = []
        if real {
            let opFile = FileManager.default.temporaryDirectory.appendingPathComponent("mematlas-ops-\(getpid()).bin").path
            defer { try? FileManager.default.removeItem(atPath: opFile) }
            try RealAllocatorReplay.writeOperationFile(log, to: opFile)
            for allocator in RealAllocator.available() {
                realResults.append(try RealAllocatorReplay.run(operationFile: opFile, allocator: allocator))
            }
        }
        let report = SimulationReport(source: log.source, operations: log.operations.count, skippedEvents: log.skippedEvents, peakLiveBytes: log.peakLiveBytes, realPeakResidentBytes: log.realPeakResidentBytes, heapLimitBytes: limit == .max ? nil : limit, models: results, realAllocators: realResults)
        print(json ? report.json() : report.text(), terminator: "")
    }
}

/// Reads a recorder trace or, when the file is text, a malloc-lab text trace.
func loadOperationLog(_ path: String) throws -> OperationLog {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw SimulateInputError(description: "\(path): cannot open the file") }
    let head = handle.readData(ofLength: 64)
    try? handle.close()
    let isText = !head.isEmpty && head.allSatisfy { $0 == 9 || $0 == 10 || $0 == 13 || (32..<127).contains($0) }
    if isText {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try TextTrace.parse(text, file: path)
    }
    return try TraceOperationsBuilder.read(path: path)
}

/// `65536`, `512K`, `64M`, `2G` (binary multiples) as bytes.
func parseByteCount(_ text: String) -> UInt64? {
    let multipliers: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
    var digits = text.uppercased()
    if digits.hasSuffix("B") || digits.hasSuffix("IB") { digits = String(digits.dropLast(digits.hasSuffix("IB") ? 2 : 1)) }
    guard let last = digits.last else { return nil }
    if let multiplier = multipliers[last] { return UInt64(digits.dropLast()).map { $0 * multiplier } }
    return UInt64(digits)
}

/// A trace file that cannot be read.
struct SimulateInputError: Error, CustomStringConvertible {
    var description: String
}
