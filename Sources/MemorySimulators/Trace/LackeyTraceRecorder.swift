import Foundation

/// Records a lackey address trace of a program by running
/// `valgrind --tool=lackey --trace-mem=yes --log-file=OUTPUT PROGRAM ARGS...`.
public struct LackeyTraceRecorder: Sendable {
    /// The valgrind executable (looked up in `PATH` when it has no slash).
    public var valgrindPath: String

    /// A recorder that runs `valgrindPath` (default: `valgrind` from `PATH`).
    public init(valgrindPath: String = "valgrind") {
        self.valgrindPath = valgrindPath
    }

    /// The full valgrind command line for recording `program` with `arguments` into `outputPath`.
    public func commandLine(outputPath: String, program: String, arguments: [String]) -> [String] {
        [valgrindPath, "--tool=lackey", "--trace-mem=yes", "--log-file=\(outputPath)", program] + arguments
    }

    /// Runs the program under valgrind lackey, writing the trace to `outputPath`; the program's
    /// standard streams are inherited. Returns its exit status (128 + signal when killed).
    public func record(outputPath: String, program: String, arguments: [String]) throws -> Int32 {
        let process = Process()
        let command = commandLine(outputPath: outputPath, program: program, arguments: arguments)
        if valgrindPath.contains("/") {
            process.executableURL = URL(fileURLWithPath: valgrindPath)
            process.arguments = Array(command.dropFirst())
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = command
        }
        do {
            try process.run()
        } catch {
            throw TraceFileError(description: "cannot run \(valgrindPath): \(error.localizedDescription) (is valgrind installed?)")
        }
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }
}
