import ArgumentParser
import Foundation
import Recording
import Render
import TraceIO

/// `mematlas record`: runs a program under the recorder and writes one trace per process.
struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run a program under the recorder and write its allocation trace.",
        discussion: "The program's stdin, stdout, stderr and exit status pass through unchanged. Forked children and exec'd programs each write a trace of their own beside the first (FILE.PID)."
    )

    @OptionGroup var options: RecordOptionGroup

    @Argument(parsing: .captureForPassthrough, help: "The program and its arguments (after --).")
    var command: [String] = []

    func validate() throws {
        if command.first == "--help" || command.first == "-h" { throw CleanExit.helpRequest(self) }
        if command.first == "--" { return }
        guard !command.isEmpty else { throw ValidationError("give the program to record after --, e.g. mematlas record -- ls -la") }
    }

    func run() throws {
        let words = command.first == "--" ? Array(command.dropFirst()) : command
        guard let program = words.first else { throw ValidationError("give the program to record after --") }
        let result = try Recorder.run(program: program, arguments: Array(words.dropFirst()), options: options.recordOptions)
        FileHandle.standardError.write(Data(traceListing(result).utf8))
        // Killed by a signal: end by the same signal, so that the caller sees what it would without mematlas.
        if let signal = result.signal { Recorder.terminate(bySignal: signal) }
        throw ExitCode(result.shellStatus)
    }
}

/// The lines `record` and `run` print about the traces written.
func traceListing(_ result: RecordingResult) -> String {
    var text = "mematlas: wrote \(result.traces.count) trace\(result.traces.count == 1 ? "" : "s"): \(result.traces.first ?? "")"
    if result.traces.count > 1 { text += " and \(result.traces.count - 1) more (\(result.traces.dropFirst().prefix(3).map { ($0 as NSString).lastPathComponent }.joined(separator: ", "))\(result.traces.count > 4 ? ", ..." : ""))" }
    if let signal = result.signal { text += "; the program was killed by signal \(signal)" }
    text += "\n"
    for trace in result.traces where (try? TraceReader(path: trace))?.header.programHasOwnMalloc == true {
        text += "mematlas: \((trace as NSString).lastPathComponent): \(SummaryTextRenderer.ownMallocNote)\n"
    }
    return text
}
