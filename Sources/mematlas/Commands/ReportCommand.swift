import Analysis
import ArgumentParser
import Foundation
import Render

/// `mematlas report`: one self-contained HTML report of a trace.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML report of a trace (works offline, in any current browser).",
        discussion: "Summary cards, timeline, flame graphs, call sites, leaks, size and lifetime histograms, heap map, threads and modules."
    )

    @Argument(help: "A trace written by `mematlas record`.")
    var trace: String

    @Option(name: [.customShort("o"), .customLong("output"), .customLong("html")], help: "The HTML file to write (default: TRACE.html).")
    var output: String?

    @Flag(help: "Skip the heap map at the peak (saves two passes over the trace).")
    var noHeapMap = false

    func run() throws {
        let path = output ?? trace + ".html"
        let size = try writeHTMLReport(trace: trace, to: path, heapMap: !noHeapMap).size
        print("report: \(path) (\(Format.bytes(UInt64(size))))")
    }
}

/// Analyses `trace` (with a progress bar on a terminal), writes its HTML report to `path` and
/// returns the summary of the same pass and the page's size in bytes.
@discardableResult
func writeHTMLReport(trace: String, to path: String, top: Int = 5, heapMap: Bool = true) throws -> (summary: SummaryReport, size: Int) {
    // Progress (bar and phases) only on a terminal.
    let terminal = isatty(STDERR_FILENO) != 0
    let phase: ((String) -> Void)? = terminal ? { FileHandle.standardError.write(Data("\r\u{1B}[K\u{1B}[2m\($0)...\u{1B}[0m".utf8)) } : nil
    let result = try ReportBuilder().load(path: trace, top: top, heapMap: heapMap, progress: ProgressBar.forTerminal(), phase: phase)
    if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    let html = Data(HTMLReport().render(result.report).utf8)
    do {
        try html.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw ReportWriteError(path: path, reason: (error as NSError).localizedDescription)
    }
    return (result.summary, html.count)
}

/// The report could not be written (one line: the path and why).
struct ReportWriteError: Error, CustomStringConvertible {
    /// The HTML file.
    var path: String
    /// The system's reason.
    var reason: String
    var description: String { "cannot write \(path): \(reason)" }
}
