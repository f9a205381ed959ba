import Foundation
import TestSupport

/// A running example program that prints a line per phase and waits on stdin between phases.
final class LiveExample {
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffered = Data()

    /// Builds `Examples/c/NAME.c` and starts it.
    init(_ example: String, arguments: [String] = [], compilerFlags: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: try buildExample(example, compilerFlags: compilerFlags))
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    var pid: Int32 { process.processIdentifier }

    /// The next line the program prints, split on spaces.
    func readLine() -> [String] {
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[buffered.startIndex..<newline], as: UTF8.self)
                buffered = Data(buffered[buffered.index(after: newline)...])
                return line.split(separator: " ").map(String.init)
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return [] }
            buffered.append(chunk)
        }
    }

    /// Lets the program go on to its next phase.
    func proceed() {
        input.fileHandleForWriting.write(Data("go\n".utf8))
    }

    /// Lets the program finish and waits for it.
    func finish() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

/// Parses `0x7f...` as printed by `%p`.
func hexAddress(_ text: String) -> UInt64? {
    UInt64(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text, radix: 16)
}

/// Builds `Examples/c/NAME.c` once at a time: tests run in parallel, and two builds of the same
/// example would race on its temporary output file.
func buildExample(_ name: String, compilerFlags: [String] = []) throws -> String {
    exampleBuildLock.lock()
    defer { exampleBuildLock.unlock() }
    return try ExamplePrograms.build("c/\(name).c", extraFlags: compilerFlags)
}

private let exampleBuildLock = NSLock()
