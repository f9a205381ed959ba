import Analysis
import ArgumentParser
import Foundation
import Recording
import Render

/// `mematlas run`: record, then summarize, in one step (a bundled example when no program is given).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Record a program (or the bundled example), write its HTML report and print its summary.",
        discussion: "With no program, runs the bundled example Examples/\(ExampleProgram.defaultExample). --example NAME runs another:\n"
            + ExampleProgram.learning.map { "  " + (($0.path as NSString).lastPathComponent as NSString).deletingPathExtension + ": " + $0.shows }.joined(separator: "\n")
    )

    @Option(help: "Run a bundled example instead of a program, by name (listed below).")
    var example: String?

    @OptionGroup var options: RecordOptionGroup

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Option(help: "Call sites listed per ranking.")
    var top: Int = 5

    @Option(help: "The HTML report to write (default: the trace's path + .html).")
    var html: String?

    @Flag(help: "Do not write the HTML report.")
    var noReport = false

    @Argument(parsing: .captureForPassthrough, help: "The program and its arguments (after --); none runs the bundled example.")
    var command: [String] = []

    func run() throws {
        if command.first == "--help" || command.first == "-h" { throw CleanExit.helpRequest(self) }
        var words = command.first == "--" ? Array(command.dropFirst()) : command
        if let example {
            guard words.isEmpty else { throw ValidationError("give either --example or a program, not both") }
            words = [try ExampleProgram.build(ExampleProgram.resolve(example))]
        }
        if words.isEmpty { words = [try ExampleProgram.build(ExampleProgram.defaultExample)] }
        var recordOptions = options.recordOptions
        if recordOptions.output == nil {
            recordOptions.output = Recorder.defaultOutput(for: words[0])
        }
        let result = try Recorder.run(program: words[0], arguments: Array(words.dropFirst()), options: recordOptions)
        FileHandle.standardError.write(Data(traceListing(result).utf8))
        let report: SummaryReport
        if noReport {
            (report, _, _) = try TraceSummary.summarize(path: result.mainTrace, top: top, progress: ProgressBar.forTerminal())
        } else {
            // One pass gives both the summary and the HTML report.
            let path = html ?? result.mainTrace + ".html"
            report = try writeHTMLReport(trace: result.mainTrace, to: path, top: top).summary
            FileHandle.standardError.write(Data("report: \(path)\n".utf8))
        }
        // A program that forks or execs: every process's figures, to find the one that used the memory.
        var processes: [ProcessOverview]? = nil
        if result.traces.count > 1 { processes = ProcessOverview.of(traces: result.traces, known: [result.mainTrace: report]) }
        if json {
            var withProcesses = report
            withProcesses.processes = processes
            print(renderSummary(withProcesses, json: true, top: top), terminator: "")
        } else {
            print(renderSummary(report, json: false, top: top), terminator: "")
            if let processes {
                print(SummaryTextRenderer(colour: isatty(STDOUT_FILENO) != 0, top: top).renderProcesses(processes, main: result.mainTrace), terminator: "")
            }
        }
        if result.shellStatus != 0 { throw ExitCode(result.shellStatus) }
    }
}
