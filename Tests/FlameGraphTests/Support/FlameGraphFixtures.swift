import Analysis
import Foundation
import Testing
import TraceIO
import TraceModel

/// Stack profiles built in code, with known frames and figures (addresses are made up, so the
/// golden files do not depend on a recorded run).
enum Fixtures {
    static let module = "/usr/bin/demo"

    static func frame(_ function: String, _ file: String, _ line: Int, inlined: Bool = false) -> SymbolizedFrame {
        SymbolizedFrame(function: function, file: "/src/" + file, line: line, module: module, inlined: inlined)
    }

    static func figures(allocations: UInt64, bytes: UInt64, temporary: UInt64 = 0, peak: UInt64 = 0, peakBlocks: UInt64 = 0,
                        leaked: UInt64 = 0, leakedBlocks: UInt64 = 0) -> StackStatistics {
        var s = StackStatistics()
        s.allocations = allocations
        s.allocatedBytes = bytes
        s.temporary = temporary
        s.peakBytes = peak
        s.peakBlocks = peakBlocks
        s.leakedBytes = leaked
        s.leakedBlocks = leakedBlocks
        return s
    }

    /// A small program: main calls parse (which inlines tokenize), cache_insert and a C++ function
    /// whose name needs escaping. `shift` moves every address (a second run of the same program).
    static func demo(shift: UInt64 = 0, scale: UInt64 = 1, extraLeak: UInt64 = 0) -> StackProfile {
        let main = 0x1001 + shift, parse = 0x2001 + shift, tokenize = 0x2101 + shift, cache = 0x3001 + shift
        let weird = 0x4001 + shift, cacheFromMain = 0x3101 + shift
        var stacks = StackTable()
        stacks.append([parse, main])
        stacks.append([tokenize, main])
        stacks.append([cache, parse, main])
        stacks.append([weird, main])
        stacks.append([cacheFromMain, main])
        let symbols: [UInt64: [SymbolizedFrame]] = [
            main: [frame("main", "main.c", 10)],
            parse: [frame("parse", "parse.c", 20)],
            tokenize: [frame("tokenize", "lex.c", 5, inlined: true), frame("parse", "parse.c", 30)],
            cache: [frame("cache_insert", "cache.c", 7)],
            cacheFromMain: [frame("cache_insert", "cache.c", 9)],
            weird: [frame("operator<<(std::ostream&, Foo<\"a\" & 'b'>)</title><script>alert(1)</script>", "weird.cc", 1)],
        ]
        let samples: [StackProfile.Sample] = [
            .init(stack: StackID(1), figures: figures(allocations: 10 * scale, bytes: 1000 * scale, temporary: 4, peak: 300 * scale, peakBlocks: 3)),
            .init(stack: StackID(2), figures: figures(allocations: 200, bytes: 6400, temporary: 200)),
            .init(stack: StackID(3), figures: figures(allocations: 5, bytes: 50_000, peak: 40_000, peakBlocks: 4, leaked: 20_000 + extraLeak, leakedBlocks: 2)),
            .init(stack: StackID(4), figures: figures(allocations: 1, bytes: 240, peak: 24, peakBlocks: 1, leaked: 24, leakedBlocks: 1)),
            .init(stack: StackID(5), figures: figures(allocations: 3, bytes: 3 * 4096, peak: 4096, peakBlocks: 1)),
        ]
        let module = Module(path: module, loadBias: shift, buildID: [0xab, 0xcd], segments: [.init(fileAddress: 0, size: 0x10000, flags: 5)])
        return StackProfile(samples: samples, stacks: stacks, symbols: symbols, modules: [module],
                            threadNames: [:], program: "/usr/bin/demo", durationNs: 1_500_000_000)
    }
}

/// Golden files next to this test target, re-recorded with MEMATLAS_RECORD_GOLDEN=1.
enum Golden {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Golden")

    static func check(_ text: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let url = directory.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["MEMATLAS_RECORD_GOLDEN"] == "1" {
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try? text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try? String(contentsOf: url, encoding: .utf8)
        #expect(expected != nil, "missing golden file \(name): run with MEMATLAS_RECORD_GOLDEN=1", sourceLocation: sourceLocation)
        if let expected, expected != text {
            let a = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let b = text.split(separator: "\n", omittingEmptySubsequences: false)
            let line = Array(zip(a, b)).firstIndex { $0 != $1 } ?? min(a.count, b.count)
            Issue.record("\(name) differs from its golden file at line \(line + 1) (re-record with MEMATLAS_RECORD_GOLDEN=1)", sourceLocation: sourceLocation)
        }
    }
}

/// Folded text parsed back: total per path (frames joined by `;`).
func parseFolded(_ text: String) -> [String: UInt64] {
    var totals: [String: UInt64] = [:]
    for line in text.split(separator: "\n") {
        guard let space = line.lastIndex(of: " "), let value = UInt64(line[line.index(after: space)...]) else {
            Issue.record("bad folded line: \(line)")
            continue
        }
        totals[String(line[..<space]), default: 0] += value
    }
    return totals
}
