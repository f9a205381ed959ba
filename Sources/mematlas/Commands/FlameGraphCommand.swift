import Analysis
import ArgumentParser
import Foundation
import Render
import TraceModel

extension FlameGraphKind: ExpressibleByArgument {}

/// The output formats of `flamegraph` and `diff`.
enum FlameGraphFormat: String, CaseIterable, ExpressibleByArgument {
    case svg, folded, speedscope, pprof

    /// The format a file name's extension implies (svg when none matches).
    static func implied(by path: String?) -> FlameGraphFormat {
        guard let path = path?.lowercased() else { return .svg }
        if path.hasSuffix(".folded") || path.hasSuffix(".collapsed") || path.hasSuffix(".txt") { return .folded }
        if path.hasSuffix(".json") { return .speedscope }
        if path.hasSuffix(".pb.gz") || path.hasSuffix(".pprof") || path.hasSuffix(".pb") { return .pprof }
        return .svg
    }
}

/// A bad option value or an unusable input, reported on one line.
struct FlameGraphInputError: Error, CustomStringConvertible {
    var description: String
}

/// Writes `bytes` to `path`, or to stdout when `path` is nil or `-`.
func writeOutput(_ bytes: [UInt8], to path: String?) throws {
    guard let path, path != "-" else {
        FileHandle.standardOutput.write(Data(bytes))
        return
    }
    do { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
        throw FlameGraphInputError(description: "\(path): cannot write (\(error.localizedDescription))")
    }
}

/// Loads a trace into a stack profile, turning reader errors into one-line errors.
func loadStackProfile(_ path: String, perThread: Bool, timings: inout StackProfileTimings) throws -> StackProfile {
    guard FileManager.default.fileExists(atPath: path) else { throw FlameGraphInputError(description: "\(path): no such file") }
    return try StackProfileLoader.load(path: path, perThread: perThread, timings: &timings)
}

/// A `--filter` regular expression as a name predicate.
func namePredicate(_ pattern: String?) throws -> ((String) -> Bool)? {
    guard let pattern else { return nil }
    do {
        let regex = try Regex(pattern)
        return { $0.contains(regex) }
    } catch {
        throw FlameGraphInputError(description: "--filter: \(pattern) is not a valid regular expression")
    }
}

/// `mematlas flamegraph`: a memory flame graph (or its folded, speedscope or pprof export).
struct FlameGraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flamegraph",
        abstract: "Draw a memory flame graph of a trace (SVG), or export its stacks (folded, speedscope, pprof).",
        discussion: """
        Kinds: allocated (bytes), allocations (count), peak (bytes live at the global heap peak), \
        leaked (bytes live at exit), temporary (allocations freed before their thread allocated again). \
        The format follows -o's extension (.svg, .folded/.txt, .json, .pb.gz) unless --format is given.
        """
    )

    @Argument(help: "A trace written by `mematlas record`.")
    var trace: String

    @Option(help: "What the widths show: allocated, allocations, peak, leaked or temporary.")
    var kind: FlameGraphKind = .allocated

    @Option(name: .shortAndLong, help: "The output file (stdout when absent).")
    var output: String?

    @Option(help: "svg, folded, speedscope or pprof (default: from the output's extension, else svg).")
    var format: FlameGraphFormat?

    @Flag(help: "Draw the icicle: allocating frames on top, their callers below.")
    var inverted = false

    @Option(help: "`split` for one subtree per thread, or thread ids/names (comma-separated) to keep.")
    var thread: String?

    @Option(help: "Keep only stacks through a frame whose name matches this regular expression.")
    var filter: String?

    @Option(help: "Frames narrower than this many pixels are merged (SVG).")
    var minWidth: Double = 0.5

    @Flag(help: "Print the time of each phase on stderr.")
    var timings = false

    func validate() throws {
        _ = try namePredicate(filter)
        if minWidth <= 0 || !minWidth.isFinite { throw FlameGraphInputError(description: "--min-width must be a positive number of pixels") }
        if thread?.isEmpty == true { throw FlameGraphInputError(description: "--thread needs `split` or thread ids") }
    }

    func run() throws {
        var phases = StackProfileTimings()
        let profile = try loadStackProfile(trace, perThread: thread != nil, timings: &phases)
        let start = Date()
        var builder = FlameGraphBuilder(kind: kind)
        builder.inverted = inverted
        builder.filter = try namePredicate(filter)
        builder.title = profile.program.isEmpty ? (trace as NSString).lastPathComponent : (profile.program as NSString).lastPathComponent
        if let thread { builder.threads = try threadSelection(thread, profile: profile) }
        let chosen = format ?? FlameGraphFormat.implied(by: output)
        let bytes: [UInt8]
        var graph: FlameGraph?
        switch chosen {
        case .pprof:
            bytes = PprofExport.render(profile, kind: kind)
        case .svg, .folded, .speedscope:
            let built = builder.build(profile)
            graph = built
            switch chosen {
            case .svg:
                var renderer = FlameGraphSVG()
                renderer.minimumFrameWidth = minWidth
                bytes = Array(renderer.render(built).utf8)
            case .folded: bytes = Array(FoldedStacks.render(built).utf8)
            default: bytes = Array(SpeedscopeJSON.render(built, name: builder.title).utf8)
            }
        }
        let analysis = Date().timeIntervalSince(start)
        try writeOutput(bytes, to: output)
        if timings {
            let nodes = graph.map { " (\($0.nodes.count) tree nodes)" } ?? ""
            FileHandle.standardError.write(Data("""
            read+analyse \(Format.seconds(phases.read)), symbolize \(Format.seconds(phases.symbolize)) \
            (\(phases.distinctAddresses) addresses), \(profile.samples.count) stacks, \
            build+render \(Format.seconds(analysis))\(nodes), \(Format.bytes(UInt64(bytes.count))) written

            """.utf8))
        }
    }

    /// `split`, or a comma-separated list of thread ids or names.
    func threadSelection(_ value: String, profile: StackProfile) throws -> FlameGraphThreads {
        if value == "split" { return .split }
        var wanted = Set<ThreadID>()
        for word in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if let tid = UInt32(word) {
                wanted.insert(ThreadID(tid))
            } else {
                let named = profile.threadNames.filter { $0.value == word }.map(\.key)
                guard !named.isEmpty else {
                    throw FlameGraphInputError(description: "--thread: no thread is named \(word) (give `split`, thread ids or names)")
                }
                wanted.formUnion(named)
            }
        }
        return .only(wanted)
    }
}
