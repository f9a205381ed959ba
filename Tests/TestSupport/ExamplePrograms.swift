import Foundation

/// Finds and builds the bundled example programs under `Examples/` for tests.
public enum ExamplePrograms {
    /// The package root, found from this source file's location at compile time.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // TestSupport
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    /// The absolute path of a file under `Examples/` (e.g. `"c/leak.c"`).
    public static func source(_ relativePath: String) -> String {
        packageRoot.appendingPathComponent("Examples").appendingPathComponent(relativePath).path
    }

    /// Compiles a C or C++ example with the system compiler (frame pointers kept, debug info on)
    /// into a per-test-run temporary folder and returns the executable's path.
    /// - Parameters:
    ///   - relativePath: the source under `Examples/`, e.g. `"c/exact_counts.c"`.
    ///   - extraFlags: more compiler flags (e.g. `["-pthread"]`).
    public static func build(_ relativePath: String, extraFlags: [String] = []) throws -> String {
        let src = source(relativePath)
        let isCxx = relativePath.hasSuffix(".cpp") || relativePath.hasSuffix(".cc")
        let compiler = isCxx ? "c++" : "cc"
        let name = (relativePath as NSString).lastPathComponent
        let output = buildDirectory.appendingPathComponent(
            (name as NSString).deletingPathExtension + "-" + String(UInt32(truncatingIfNeeded: (extraFlags.joined(separator: " ")).hashValue), radix: 16)
        ).path
        // One compile per output: a second compile renamed over the first would replace the file of a
        // program another test is running (its executable then reads as `PATH (deleted)`).
        let lock = outputLock(output)
        lock.lock()
        defer { lock.unlock() }
        if FileManager.default.isExecutableFile(atPath: output) { return output }
        // Other test processes may build too: each compile writes its own file, then renames it into place.
        let temporary = output + ".tmp-\(UInt64.random(in: 0...UInt64.max))"
        let args = ["-O1", "-g", "-fno-omit-frame-pointer", "-o", temporary, src, "-pthread", "-ldl"] + extraFlags
        let result = try TestProcess.run(compiler, args)
        guard result.status == 0 else {
            throw ExampleBuildError(message: "\(compiler) \(args.joined(separator: " ")) failed:\n\(result.stderr)")
        }
        guard rename(temporary, output) == 0 else {
            throw ExampleBuildError(message: "cannot move \(temporary) to \(output)")
        }
        return output
    }

    private static let locksLock = NSLock()
    nonisolated(unsafe) private static var locks: [String: NSLock] = [:]

    private static func outputLock(_ output: String) -> NSLock {
        locksLock.lock()
        defer { locksLock.unlock() }
        if let lock = locks[output] { return lock }
        let lock = NSLock()
        locks[output] = lock
        return lock
    }

    /// A temporary folder for this test process's build products.
    public static let buildDirectory: URL = {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("mematlas-tests-\(getpid())", isDirectory: true)
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }()
}

/// A failed compile of an example program.
public struct ExampleBuildError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Runs a program to completion and captures its output, for tests.
public enum TestProcess {
    /// Reads `pipe` until what it gave contains `text` (or the writer closed it): for a test that
    /// acts on a running program once it says it got somewhere.
    public static func read(_ pipe: Pipe, until text: String) {
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains(text) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { return }
            seen.append(chunk)
        }
    }

    /// The result of a finished process.
    public struct Result: Sendable {
        /// The exit code, or 128 + the signal that killed the process (as a shell reports it).
        public var status: Int32
        /// The signal that killed the process, nil when it exited.
        public var signal: Int32?
        public var stdout: String
        public var stderr: String
    }

    /// Runs `program` (looked up in `PATH` when it has no slash) with `arguments`.
    public static func run(
        _ program: String, _ arguments: [String], environment: [String: String]? = nil,
        currentDirectory: String? = nil, stdin: String? = nil
    ) throws -> Result {
        let process = Process()
        if program.contains("/") {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [program] + arguments
        }
        if let environment { process.environment = environment }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        // Read both pipes concurrently so that a chatty child never blocks on a full pipe.
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errBox.data
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal
            ? 128 + process.terminationStatus : process.terminationStatus
        return Result(
            status: status, signal: process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}
