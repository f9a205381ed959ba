import ArgumentParser
import MemorySimulators
import Render

/// `mematlas vmsim replace`: page replacement with F frames, or a sweep over frame counts.
struct VMSimReplaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replace",
        abstract: "Page replacement (FIFO, LRU, Clock, OPT, LFU, random): faults, hit ratio, swap-ins and write-backs.",
        discussion: "With --sweep 1..N, faults for every frame count, one curve per policy (-o curve.svg); Belady's anomaly is marked."
    )

    @OptionGroup var input: VMSimTraceOptions
    @OptionGroup var outputOptions: VMSimOutputOptions

    @Option(help: "Physical frames (pages that fit in memory).")
    var frames: Int = 3

    @Option(parsing: .upToNextOption, help: "Policies to run (default: all): fifo lru clock opt lfu random.")
    var policy: [ReplacementPolicy] = []

    @Option(help: ArgumentHelp("Sweep frame counts, e.g. 1..8: faults-vs-frames for all policies.", valueName: "first..last"))
    var sweep: String?

    @Option(help: "Page size in bytes (e.g. 4096, 4k, 2m); a page reference string's numbers are pages of this size.")
    var pageSize: String = "4096"

    func validate() throws {
        guard frames >= 1 else { throw ValidationError("--frames must be at least 1.") }
        guard let size = parseByteCount(pageSize), size.nonzeroBitCount == 1 else {
            throw ValidationError("--page-size must be a power of two number of bytes, e.g. 4096 or 2m.")
        }
        if let sweep { _ = try Self.frameRange(sweep) }
        if outputOptions.output != nil && sweep == nil {
            throw ValidationError("-o draws the faults-vs-frames curve: add --sweep FIRST..LAST.")
        }
    }

    static func frameRange(_ text: String) throws -> ClosedRange<Int> {
        let parts = text.components(separatedBy: "..")
        guard parts.count == 2, let first = Int(parts[0]), let last = Int(parts[1]), first >= 1, last >= first else {
            throw ValidationError("--sweep expects FIRST..LAST with 1 <= FIRST <= LAST, e.g. 1..8.")
        }
        return first...last
    }

    func run() throws {
        let bytesPerPage = parseByteCount(pageSize)!
        let references = try PageReference.collect(
            from: input.source(pageSize: bytesPerPage), pageSize: bytesPerPage, dataOnly: input.dataOnly)
        let policies = policy.isEmpty ? ReplacementPolicy.allCases : Array(Set(policy)).sorted()
        if let sweep {
            let range = try Self.frameRange(sweep)
            let result = outputOptions.timed(accesses: { UInt64(references.count * range.count * policies.count) }) {
                PageReplacementSweep.run(references, frames: range, policies: policies, seed: input.seed)
            }
            try outputOptions.printResult(text: VMSimTextReport.sweep(result, pageSize: bytesPerPage), value: result)
            try outputOptions.writeSVG(FaultCurveSVG.render(result, pageSize: bytesPerPage))
        } else {
            let results = outputOptions.timed(accesses: { UInt64(references.count * policies.count) }) {
                policies.map { PageReplacementSimulator.run(references, policy: $0, frameCount: frames, seed: input.seed) }
            }
            try outputOptions.printResult(text: VMSimTextReport.pageReplacement(results, pageSize: bytesPerPage), value: results)
        }
    }
}
