import ArgumentParser
import Foundation
import MemorySimulators

/// `mematlas vmsim record`: record a lackey address trace of a program with valgrind.
struct VMSimRecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record a lackey address trace: runs valgrind --tool=lackey --trace-mem=yes on the program.",
        discussion: "Example: mematlas vmsim record -o ls.lackey -- /bin/ls /tmp"
    )

    @Option(name: [.customShort("o"), .customLong("output")], help: "The trace file to write.")
    var output: String = "trace.lackey"

    @Option(help: "The valgrind executable.")
    var valgrind: String = "valgrind"

    @Argument(parsing: .captureForPassthrough, help: "-- PROGRAM ARGS...")
    var command: [String] = []

    var programAndArguments: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    func validate() throws {
        if programAndArguments.isEmpty { throw ValidationError("Give the program to trace after --.") }
    }

    func run() throws {
        let recorder = LackeyTraceRecorder(valgrindPath: valgrind)
        let program = programAndArguments
        let status = try recorder.record(outputPath: output, program: program[0], arguments: Array(program.dropFirst()))
        FileHandle.standardError.write(Data("Wrote \(output) (program exit status \(status))\n".utf8))
        if status != 0 { throw ExitCode(status) }
    }
}
