import Analysis
import ArgumentParser
import Foundation
import Render
import TraceIO

/// `mematlas summary`: the terminal summary of a trace (or JSON for scripts).
struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Print calls, peak heap, leaks, temporary allocations, RSS and the top call sites of a trace."
    )

    @Argument(help: "A trace written by `mematlas record`.")
    var trace: String

    @Flag(help: "Print the figures as JSON.")
    var json = false

    @Option(help: "Call sites listed per ranking.")
    var top: Int = 5

    func run() throws {
        let (report, _, _) = try TraceSummary.summarize(path: trace, top: top, progress: ProgressBar.forTerminal())
        print(renderSummary(report, json: json, top: top), terminator: "")
    }
}

/// The summary as text (coloured on a terminal) or JSON.
func renderSummary(_ report: SummaryReport, json: Bool, top: Int) -> String {
    if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: (try? encoder.encode(report)) ?? Data(), as: UTF8.self) + "\n"
    }
    return SummaryTextRenderer(colour: isatty(STDOUT_FILENO) != 0, top: top).render(report)
}

/// A progress bar on stderr (events read, rate, ETA) for traces big enough to wait for.
enum ProgressBar {
    static func forTerminal() -> ((ReadProgress) -> Void)? {
        guard isatty(STDERR_FILENO) != 0 else { return nil }
        let start = Date()
        var lastDraw = Date.distantPast
        var finished = false
        return { progress in
            let now = Date()
            let (done, total) = (progress.bytesRead, progress.fileSize)
            guard total > 32 << 20, !finished, now.timeIntervalSince(lastDraw) > 0.2 || done >= total else { return }
            lastDraw = now
            let fraction = total == 0 ? 1 : min(1, Double(done) / Double(total))
            let elapsed = now.timeIntervalSince(start)
            let eventRate = elapsed > 0 ? Double(progress.events) / elapsed : 0
            let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let line = "\r[\(bar)] \(Int(fraction * 100))%  \(Format.count(progress.events)) events  "
                + String(format: "%.1fM events/s", eventRate / 1e6) + "  ETA \(Int(eta.rounded())) s "
            FileHandle.standardError.write(Data(line.utf8))
            if done >= total {
                finished = true
                FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            }
        }
    }
}
