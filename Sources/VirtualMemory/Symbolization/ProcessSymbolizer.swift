import Foundation

/// Names instruction addresses of a process with `llvm-symbolizer` in one batch.
///
/// A small private symbolizer for live processes (the `faults` command). TraceIO's `Symbolizer`
/// works from a trace's module maps, which cannot be built outside TraceIO yet (no public
/// `ModuleMap` initializer); the two are to be merged.
public struct ProcessSymbolizer {
    /// The `llvm-symbolizer` executables tried, in order.
    public static let candidatePaths = ["/usr/bin/llvm-symbolizer", "/opt/swift/usr/bin/llvm-symbolizer"]

    /// The modules of the process.
    public var modules: ExecutableMappings

    /// Creates a symbolizer for a process whose modules are `modules`.
    public init(modules: ExecutableMappings) { self.modules = modules }

    /// Function names for `addresses`, keyed by address; unresolved ones read `module+0xoffset`
    /// or `0xaddress` when outside every module.
    public func functionNames(for addresses: [UInt64]) -> [UInt64: String] {
        var names: [UInt64: String] = [:]
        var queries: [(address: UInt64, line: String)] = []
        var segmentsByPath: [String: ELFLoadSegments] = [:]
        for address in Set(addresses).sorted() {
            guard let mapping = modules.mapping(containing: address) else {
                names[address] = "0x" + String(address, radix: 16)
                continue
            }
            let fileOffset = address - mapping.start + mapping.fileOffset
            let segments = segmentsByPath[mapping.path] ?? ELFLoadSegments(path: mapping.path)
            segmentsByPath[mapping.path] = segments
            let vaddr = segments.virtualAddress(ofFileOffset: fileOffset)
            let base = (mapping.path as NSString).lastPathComponent
            names[address] = "\(base)+0x" + String(fileOffset, radix: 16)
            queries.append((address, "\"\(mapping.path)\" 0x" + String(vaddr, radix: 16)))
        }
        guard !queries.isEmpty,
              let tool = Self.candidatePaths.first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
              let output = Self.run(tool, input: queries.map(\.line).joined(separator: "\n") + "\n")
        else { return names }
        let lines = output.split(separator: "\n")
        for (query, line) in zip(queries, lines) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let symbols = object["Symbol"] as? [[String: Any]],
                  let name = symbols.first?["FunctionName"] as? String,
                  !name.isEmpty, name != "??" else { continue }
            names[query.address] = name
        }
        return names
    }

    /// Runs `llvm-symbolizer` with JSON output on `input`; nil when it cannot run.
    private static func run(_ tool: String, input: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["--demangle", "--functions=linkage", "--inlining=false", "--output-style=JSON"]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        // Not waitUntilExit: on Linux it polls its run loop every 50 ms, which was a fifth of
        // `summary`'s time on small traces; the termination handler says at once.
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        do { try process.run() } catch { return nil }
        let writer = Thread {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        exited.wait()
        return String(decoding: data, as: UTF8.self)
    }
}
