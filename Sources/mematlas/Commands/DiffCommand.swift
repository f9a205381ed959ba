import Analysis
import ArgumentParser
import Foundation
import Render

/// `mematlas diff`: what grew and what shrank between two traces, by call site, and a
/// differential flame graph.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two traces: what grew and shrank by call site (function, file, line), and a differential flame graph.",
        discussion: "Call sites are matched by symbolized function, file and line, so runs with different load addresses compare. With -o, writes the differential flame graph (red grew, blue shrank) as SVG, or as two-column folded stacks for a .folded/.txt file."
    )

    @Argument(help: "The baseline trace.")
    var before: String

    @Argument(help: "The trace to compare with it.")
    var after: String

    @Option(help: "What to compare: allocated, allocations, peak, leaked or temporary.")
    var kind: FlameGraphKind = .peak

    @Option(name: .shortAndLong, help: "Write the differential flame graph here (.svg, or .folded for folded stacks).")
    var output: String?

    @Option(help: "svg or folded (default: from the output's extension).")
    var format: FlameGraphFormat?

    @Flag(help: "Draw the differential graph inverted (allocating frames on top).")
    var inverted = false

    @Option(help: "Call sites listed per direction.")
    var top: Int = 10

    func validate() throws {
        if top < 0 { throw FlameGraphInputError(description: "--top must be 0 or more") }
        if let format, format == .speedscope || format == .pprof {
            throw FlameGraphInputError(description: "--format: a diff is written as svg or folded")
        }
    }

    func run() throws {
        var timings = StackProfileTimings()
        let base = try loadStackProfile(before, perThread: false, timings: &timings)
        let current = try loadStackProfile(after, perThread: false, timings: &timings)
        let changes = CallSiteDiff.compare(before: base, after: current, kind: kind)
        print(DiffText.render(changes, kind: kind, before: base.totals, after: current.totals, top: top), terminator: "")
        guard let output else { return }
        var builder = FlameGraphBuilder(kind: kind)
        builder.inverted = inverted
        builder.title = "\((before as NSString).lastPathComponent) → \((after as NSString).lastPathComponent)"
        let graph = builder.buildDifferential(before: base, after: current)
        let text = (format ?? FlameGraphFormat.implied(by: output)) == .folded ? FoldedStacks.render(graph) : FlameGraphSVG().render(graph)
        try writeOutput(Array(text.utf8), to: output)
    }
}
