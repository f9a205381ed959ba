import Analysis
import Foundation
import TraceIO

/// Renders a `SummaryReport` as the terminal summary (under one screen for the default top 5).
public struct SummaryTextRenderer {
    /// Use ANSI colour (only on a terminal).
    public var colour: Bool
    /// Sites shown per ranking.
    public var top: Int

    /// Creates a renderer.
    public init(colour: Bool, top: Int = 5) {
        self.colour = colour
        self.top = top
    }

    private func bold(_ s: String) -> String { colour ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
    private func dim(_ s: String) -> String { colour ? "\u{1B}[2m\(s)\u{1B}[0m" : s }
    private func red(_ s: String) -> String { colour ? "\u{1B}[31m\(s)\u{1B}[0m" : s }

    /// Said wherever a trace of a program with its own malloc is shown.
    public static let ownMallocNote =
        "heap calls not seen: the program brings its own malloc (an allocator linked into it, as rustc's jemalloc); only its anonymous mappings were recorded"

    /// The summary text.
    public func render(_ report: SummaryReport) -> String {
        var out = ""
        let command = report.arguments.isEmpty ? report.executable : report.arguments.joined(separator: " ")
        out += bold("MemAtlas summary") + " of \(report.trace)\n"
        out += "  \(command)  (pid \(report.pid), \(Format.seconds(report.durationSeconds)), stacks: \(report.unwinder), end: \(report.end))\n"
        if let truncation = report.truncation { out += red("  incomplete: \(truncation)") + "\n" }
        if report.programHasOwnMalloc { out += red("  " + SummaryTextRenderer.ownMallocNote) + "\n" }

        let heapOrder = ["malloc", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc", "free"]
        let heap = heapOrder.filter { (report.calls[$0] ?? 0) > 0 || $0 == "malloc" || $0 == "free" }
            .map { "\($0) \(Format.count(report.calls[$0] ?? 0))" + failures($0, report) }
        out += "\n" + bold("Calls") + "       " + heap.joined(separator: "  ") + "\n"
        let maps = ["mmap", "munmap", "mremap"].map { "\($0) \(Format.count(report.calls[$0] ?? 0))" + failures($0, report) }
        out += "  anonymous " + maps.joined(separator: "  ") + "\n\n"

        out += line("Allocated", "\(Format.bytes(report.allocatedBytes)) in \(Format.count(report.allocations)) allocations")
        out += line("Temporary", "\(Format.count(report.temporaryAllocations)) (\(Format.percent(report.temporaryAllocations, of: report.allocations)) of allocations, freed before their thread allocated again)")
        out += line("Peak heap", "\(Format.bytes(report.peakHeapBytes)) in \(Format.count(report.peakHeapBlocks, "block")) at \(Format.seconds(report.peakHeapTimeSeconds))")
        let leak = "\(Format.bytes(report.leakedBytes)) in \(Format.count(report.leakedBlocks, "block"))"
        out += line("Leaked", report.leakedBytes > 0 ? red(leak) : leak)
        out += line("Peak RSS", "\(Format.bytes(report.peakResidentBytes)) at \(Format.seconds(report.peakResidentTimeSeconds))")
        out += line("Anon mmap", "peak \(Format.bytes(report.peakMappedBytes)), \(Format.bytes(report.mappedBytesAtExit)) still mapped at exit")
        if report.unmatchedFrees > 0 {
            out += line("Unmatched", "\(Format.count(report.unmatchedFrees)) frees of blocks allocated before recording began")
        }

        out += section("Top call sites by allocations", report.topByAllocations) {
            "\(Format.count($0.allocations)) \($0.allocations == 1 ? "call" : "calls"), \(Format.bytes($0.allocatedBytes))"
        }
        out += section("Top call sites by peak heap", report.topByPeak) {
            "\(Format.bytes($0.peakBytes)) in \(Format.count($0.peakBlocks, "block"))"
        }
        out += section("Top call sites by leaks", report.topByLeaks) {
            "\(Format.bytes($0.leakedBytes)) in \(Format.count($0.leakedBlocks, "block"))"
        }
        return out
    }

    /// The processes of a recording, a line each, in the order given; `main` (the trace summarized
    /// above) is marked with `*`. When there are many, those with the highest peak heap are listed
    /// (a script's many small helpers must not hide the process that used the memory), and the
    /// summarized one.
    public func renderProcesses(_ rows: [ProcessOverview], main: String, limit: Int = 20) -> String {
        var shown = rows.count <= limit ? rows : Array(rows.sorted { $0.peakHeapBytes > $1.peakHeapBytes }.prefix(limit))
        if !shown.contains(where: { $0.trace == main }), let summarized = rows.first(where: { $0.trace == main }) { shown.append(summarized) }
        let heading = rows.count <= limit ? "Processes" : "Processes (the \(limit) with the highest peak heap, of \(rows.count))"
        // The pid left-aligned in 8 columns, the figures right-aligned in 11 each.
        func pid(_ text: String) -> String { text.padding(toLength: 8, withPad: " ", startingAt: 0) }
        func figures(_ texts: [String]) -> String { texts.map { String(repeating: " ", count: max(0, 11 - $0.count)) + $0 }.joined() }
        var out = "\n" + bold(heading) + dim("  (each trace: mematlas summary TRACE)") + "\n"
        out += "  " + pid("pid") + figures(["calls", "allocated", "peak heap", "leaked", "end"]) + "   program (trace)\n"
        for row in shown {
            let mark = row.trace == main ? "*" : " "
            let name = (row.trace as NSString).lastPathComponent
            if let error = row.error {
                out += " " + mark + "\(name): " + red(Self.clip(error, 100)) + "\n"
                continue
            }
            out += " " + mark + pid(String(row.pid))
                + figures([Format.count(row.calls), Format.bytes(row.allocatedBytes), Format.bytes(row.peakHeapBytes),
                           Format.bytes(row.leakedBytes), row.end])
                + "   " + Self.clip(row.command, 60) + dim(" (\(name))") + "\n"
        }
        return out
    }

    /// A long (C++ template, Swift generic) name shortened to `limit` characters with an ellipsis.
    static func clip(_ text: String, _ limit: Int = 100) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    private func failures(_ name: String, _ report: SummaryReport) -> String {
        guard let failed = report.failedCalls[name], failed > 0 else { return "" }
        return " (\(Format.count(failed)) failed)"
    }

    private func line(_ label: String, _ value: String) -> String {
        bold(label.padding(toLength: 12, withPad: " ", startingAt: 0)) + value + "\n"
    }

    private func section(_ title: String, _ sites: [CallSite], _ figure: (CallSite) -> String) -> String {
        guard !sites.isEmpty else { return "" }
        var out = "\n" + bold(title) + "\n"
        for site in sites.prefix(top) {
            // The innermost frame is the function that made the call; name where it was inlined.
            var location = site.location.first.map { Self.clip($0.shortDescription) } ?? "?"
            if site.location.count > 1, let outer = site.location.last { location += "  (inlined in \(Self.clip(outer.function, 60)))" }
            out += "  " + figure(site).padding(toLength: 30, withPad: " ", startingAt: 0) + " " + location + "\n"
            // The callers of the site, outermost last, on one line.
            let callers = site.stack.filter { !$0.inlined }.dropFirst().prefix(3).map { Self.clip($0.function, 60) }
            if !callers.isEmpty { out += dim("      from " + callers.joined(separator: " < ")) + "\n" }
        }
        return out
    }
}
