import Analysis
import ArgumentParser
import Foundation
import Render

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
    static func forTerminal() -> ((UInt64, UInt64) -> Void)? {
        guard isatty(STDERR_FILENO) != 0 else { return nil }
        let start = Date()
        var lastDraw = Date.distantPast
        var finished = false
        return { done, total in
            let now = Date()
            guard total > 32 << 20, !finished, now.timeIntervalSince(lastDraw) > 0.2 || done >= total else { return }
            lastDraw = now
            let fraction = total == 0 ? 1 : min(1, Double(done) / Double(total))
            let elapsed = now.timeIntervalSince(start)
            let rate = elapsed > 0 ? Double(done) / elapsed : 0
            let eta = rate > 0 ? Double(total - min(done, total)) / rate : 0
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(Int(fraction * 100))%  \(Int(rate / 1_048_576)) MiB/s  ETA \(Int(eta)) s ".utf8))
            if done >= total {
                finished = true
                FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
            }
        }
    }
}
