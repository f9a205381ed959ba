import Foundation
import Testing
import TestSupport
@testable import MemorySimulators

private func parse(_ text: String, _ format: TraceFormat, fileName: String = "t") throws -> [MemoryAccess] {
    var parser = TraceLineParser(format: format, fileName: fileName, pageSize: 4096)
    var accesses: [MemoryAccess] = []
    try Array(text.utf8).withUnsafeBytes { try parser.parse($0, into: &accesses) }
    return accesses
}

private func temporaryFile(_ name: String, _ contents: String) throws -> String {
    let path = ExamplePrograms.buildDirectory.appendingPathComponent(name).path
    try contents.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

private func readAll(_ file: TraceFile) throws -> [MemoryAccess] {
    var all: [MemoryAccess] = []
    try file.forEachBatch { all.append(contentsOf: $0) }
    return all
}

@Test func parsesLackeyLines() throws {
    let text = """
    ==4435== Lackey, an example Valgrind tool
    ==4435== 
    I  0401ab70,3
     L 1ffefff8a8,8
     S 04021c7f0,4\r
     M 0421C7F0,16

    """
    #expect(try parse(text, .lackey) == [
        MemoryAccess(address: 0x401ab70, size: 3, kind: .instructionFetch),
        MemoryAccess(address: 0x1ffefff8a8, size: 8, kind: .read),
        MemoryAccess(address: 0x4021c7f0, size: 4, kind: .write),
        MemoryAccess(address: 0x421c7f0, size: 16, kind: .modify),
    ])
}

@Test func parsesDineroAndReferenceStrings() throws {
    #expect(try parse("0 1000\n1 0x2000 ignored\n2 3abc\n4 0\n", .dinero) == [
        MemoryAccess(address: 0x1000, size: 1, kind: .read),
        MemoryAccess(address: 0x2000, size: 1, kind: .write),
        MemoryAccess(address: 0x3abc, size: 1, kind: .instructionFetch),
    ])
    #expect(try parse("1,2, 3w\n# comment\n4 5", .pageReferenceString).map { ($0.address / 4096, $0.kind) }
        .elementsEqual([(1, .read), (2, .read), (3, .write), (4, .read), (5, .read)], by: ==))
}

@Test func malformedLinesNameFileLineAndExpectation() throws {
    let lackey = "I  0401ab70,3\n L 0401ab70,4\n X 12,4\n"
    #expect(throws: TraceParseError.self) { try parse(lackey, .lackey, fileName: "a.lackey") }
    do {
        _ = try parse(lackey, .lackey, fileName: "a.lackey")
    } catch let error as TraceParseError {
        #expect(error.description
            == "a.lackey:3: expected a lackey line 'I  HEXADDRESS,SIZE' or ' L|S|M HEXADDRESS,SIZE' (or a '==PID==' message), found ' X 12,4'")
        #expect(!error.description.contains("\n"))
    }
    for (text, format, line) in [
        (" L 0401ab70\n", TraceFormat.lackey, 1), (" L zz,4\n", .lackey, 1), (" L 12,4 junk\n", .lackey, 1),
        (" L 12345678901234567,4\n", .lackey, 1), ("I  12,0\n", .lackey, 1),
        ("0 10\n7 20\n", .dinero, 2), ("1\n", .dinero, 1), ("0 1g\n", .dinero, 1),
        ("1,2\n3,x\n", .pageReferenceString, 2), ("1,2,3q", .pageReferenceString, 1),
        ("99999999999999999999", .pageReferenceString, 1),
    ] {
        #expect(throws: TraceParseError.self, "\(text)") { try parse(text, format) }
        do { _ = try parse(text, format) } catch let error as TraceParseError {
            #expect(error.lineNumber == line, "\(text)")
        }
    }
}

@Test func chunkedReadingMatchesWholeFileAndCountsLines() throws {
    var rng = SplitMix64(seed: 1)
    var lines = ["==1== header"]
    for _ in 0..<3000 {
        let kind = [" L", " S", " M", "I "][Int(rng.next(below: 4))]
        lines.append("\(kind) \(String(rng.next(below: 1 << 40), radix: 16)),\(1 + rng.next(below: 16))")
    }
    let path = try temporaryFile("chunks.lackey", lines.joined(separator: "\n"))  // no final newline
    let whole = try readAll(TraceFile(path: path, chunkSize: 1 << 20))
    let chunked = try readAll(TraceFile(path: path, chunkSize: 64))
    #expect(whole.count == 3000 && whole == chunked)

    lines[2500] = " L nothex,4"
    let bad = try temporaryFile("bad.lackey", lines.joined(separator: "\n") + "\n")
    #expect(throws: TraceParseError.self) { try readAll(TraceFile(path: bad, chunkSize: 100)) }
    do { _ = try readAll(TraceFile(path: bad, chunkSize: 100)) } catch let error as TraceParseError {
        #expect(error.lineNumber == 2501 && error.fileName == bad)
    }
}

@Test func detectsFormatsAndReportsUnreadableFiles() throws {
    #expect(try TraceFile(path: temporaryFile("x.trace", "==1== hi\nI  0401ab70,3\n")).format == .lackey)
    #expect(try TraceFile(path: temporaryFile("y.trace", "0 7fff0000\n1 7fff0008\n")).format == .dinero)
    #expect(try TraceFile(path: temporaryFile("z.trace", "1,2,3,4,1,2,5\n")).format == .pageReferenceString)
    #expect(try TraceFile(path: temporaryFile("w.trace", "1 2 3 4 1 2 5\n")).format == .pageReferenceString)
    #expect(try TraceFile(path: temporaryFile("v.din", "1,2")).format == .dinero)
    #expect(throws: TraceFileError.self) { try TraceFile(path: "/nonexistent/trace.lackey") }
    #expect(throws: TraceFileError.self) { try TraceFile(path: temporaryFile("u.trace", "hello world\n")) }
}

@Test func syntheticPatternsParseAndGenerate() throws {
    let stride = try SyntheticTrace(specification: "stride:4k:3:2")
    var addresses: [UInt64] = []
    try stride.forEachBatch { addresses.append(contentsOf: $0.map(\.address)) }
    let base = SyntheticTrace.baseAddress
    #expect(addresses == [base, base + 4096, base + 8192, base, base + 4096, base + 8192])
    #expect(try SyntheticTrace(specification: "sequential:64").accessCount == 8)
    var first: [UInt64] = [], second: [UInt64] = []
    try SyntheticTrace(specification: "random:1m:1000", seed: 4).forEachBatch { first += $0.map(\.address) }
    try SyntheticTrace(specification: "random:1m:1000", seed: 4).forEachBatch { second += $0.map(\.address) }
    #expect(first == second && first.allSatisfy { $0 >= base && $0 < base + (1 << 20) && $0 % 8 == 0 })
    for bad in ["stride:4096", "stride:0:4", "random:1m", "zigzag:1:2", "sequential:x"] {
        #expect(throws: SyntheticTraceError.self, "\(bad)") { try SyntheticTrace(specification: bad) }
    }
}

@Test func recordsAndParsesARealLackeyTrace() throws {
    let program = try ExamplePrograms.build("c/vmsim_array_sweep.c")
    let directory = ExamplePrograms.buildDirectory
    let tracePath = directory.appendingPathComponent("array_sweep.lackey").path
    let addressPath = directory.appendingPathComponent("array_sweep.address").path
    let status = try LackeyTraceRecorder(valgrindPath: "/usr/bin/valgrind")
        .record(outputPath: tracePath, program: program, arguments: [addressPath])
    #expect(status == 0)
    let addressText = try String(contentsOfFile: addressPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    let arrayStart = try #require(UInt64(addressText, radix: 16))
    let arrayRange = arrayStart..<(arrayStart + 1024)
    let trace = try TraceFile(path: tracePath)
    #expect(trace.format == .lackey)
    var stores = 0, loads = 0, fetches = 0, total = 0
    try trace.forEachBatch { batch in
        total += batch.count
        for access in batch {
            if access.kind == .instructionFetch { fetches += 1 }
            guard arrayRange.contains(access.address), access.size == 4 else { continue }
            if access.kind == .write { stores += 1 } else if access.kind == .read { loads += 1 }
        }
    }
    #expect(stores == 256 && loads == 256)
    #expect(fetches > 1000 && total > fetches)
}
