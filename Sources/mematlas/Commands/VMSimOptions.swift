import ArgumentParser
import Foundation
import MemorySimulators

extension TraceFormat: ExpressibleByArgument {}
extension PageSize: ExpressibleByArgument {}
extension ReplacementPolicy: ExpressibleByArgument {}

/// Where the accesses come from: a trace file or a built-in synthetic pattern.
struct VMSimTraceOptions: ParsableArguments {
    @Argument(help: "An address trace: valgrind lackey output, Dinero din lines, or a page reference string.")
    var trace: String?

    @Option(help: "The trace format: lackey, din or refs (default: from the extension or the first lines).")
    var format: TraceFormat?

    @Option(help: ArgumentHelp(
        "A built-in pattern instead of a trace: stride:BYTES:COUNT[:PASSES], sequential:SPAN[:PASSES], random:SPAN:COUNT.",
        valueName: "pattern"))
    var synthetic: String?

    @Option(help: "The kind of every synthetic access: read, write or modify.")
    var syntheticKind: String = "read"

    @Option(help: "Seed of the random policy and of random synthetic patterns.")
    var seed: UInt64 = 1

    @Flag(help: "Skip instruction fetches (model data accesses only).")
    var dataOnly = false

    func validate() throws {
        if (trace == nil) == (synthetic == nil) {
            throw ValidationError("Give a trace file or --synthetic PATTERN (one of them).")
        }
        if !["read", "write", "modify"].contains(syntheticKind) {
            throw ValidationError("--synthetic-kind must be read, write or modify.")
        }
    }

    /// The access source; `pageSize` (bytes) scales page reference strings.
    func source(pageSize: UInt64 = 4096) throws -> MemoryAccessSource {
        if let synthetic {
            let kind: AccessKind = syntheticKind == "write" ? .write : syntheticKind == "modify" ? .modify : .read
            return try SyntheticTrace(specification: synthetic, kind: kind, seed: seed)
        }
        return try TraceFile(path: trace!, format: format, pageSize: pageSize)
    }
}

/// How results leave the tool: text (default) or JSON on stdout, and an optional SVG file.
struct VMSimOutputOptions: ParsableArguments {
    @Flag(help: "Print the result as JSON instead of text.")
    var json = false

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Write the picture as SVG to this file.", valueName: "file.svg"))
    var output: String?

    @Flag(help: "Print the simulation time and accesses per second to stderr.")
    var timing = false

    /// Prints `text` or the JSON of `value`.
    func printResult<Value: Encodable>(text: String, value: Value) throws {
        print(json ? try VMSimJSON.encode(value) : text, terminator: "")
    }

    /// Writes `svg` to the `--output` file, if one was given, and says so on stderr.
    func writeSVG(_ svg: @autoclosure () -> String) throws {
        guard let output else { return }
        do {
            try svg().write(toFile: output, atomically: true, encoding: .utf8)
        } catch {
            throw ValidationError("\(output): cannot write the SVG: \(error.localizedDescription)")
        }
        FileHandle.standardError.write(Data("Wrote \(output)\n".utf8))
    }

    /// Runs `body`, then reports its duration and rate on stderr when `--timing` is set.
    func timed<T>(accesses: () -> UInt64, _ body: () throws -> T) rethrows -> T {
        let start = ContinuousClock.now
        let value = try body()
        if timing {
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let count = accesses()
            let rate = seconds > 0 ? Double(count) / seconds : 0
            FileHandle.standardError.write(Data(String(
                format: "Simulated %llu accesses in %.3f s: %.1f million accesses/s\n", count, seconds, rate / 1e6).utf8))
        }
        return value
    }
}

import Render
