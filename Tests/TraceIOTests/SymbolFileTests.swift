import Foundation
import TestSupport
import Testing
import TraceIO
import TraceModel

/// Symbols come only from the code that ran: a module file rebuilt or deleted after the run is used
/// when its build id is the recorded one (or through its separate debug file), never otherwise.
@Suite struct SymbolFileTests {
    /// A copy of the exact-count example in a folder of its own, its build id, and the file address
    /// of `workload` (whose symbol the tests look for).
    func example() throws -> (directory: String, program: String, buildID: [UInt8], workload: UInt64) {
        let built = try ExamplePrograms.build("c/exact_counts.c")
        let directory = Tracing.scratchDirectory("symbols")
        let program = directory + "/exact_counts"
        try FileManager.default.copyItem(atPath: built, toPath: program)
        let elf = try ELFFile(path: program)
        try #require(elf.buildID.count == 20)
        let workload = try #require(elf.functionSymbols().first { $0.name == "workload" })
        return (directory, program, elf.buildID, workload.address)
    }

    /// The innermost function of an address inside `workload`, as the symbolizer names it.
    func function(modulePath: String, buildID: [UInt8], workload: UInt64, debugDirectory: String = "/nonexistent") -> String? {
        let bias: UInt64 = 0x5555_0000_0000
        let module = Module(path: modulePath, loadBias: bias, buildID: buildID,
                            segments: [Module.Segment(fileAddress: 0, size: 1 << 20, flags: 5)])
        let symbolizer = Symbolizer(moduleMaps: [ModuleMap(stacksBefore: 0, modules: [module])], debugDirectory: debugDirectory)
        let ip = bias + workload + 5  // looked up at ip - 1: inside the function
        return symbolizer.symbolize([ip])[ip]?.first?.function
    }

    @Test func sameFileIsSymbolized() throws {
        let e = try example()
        #expect(function(modulePath: e.program, buildID: e.buildID, workload: e.workload) == "workload")
    }

    @Test func deletedExecutableRebuiltWithTheSameBuildIDIsSymbolized() throws {
        // The kernel names an executable deleted while it runs `PATH (deleted)`; the file now at PATH
        // is an identical rebuild.
        let e = try example()
        #expect(function(modulePath: e.program + " (deleted)", buildID: e.buildID, workload: e.workload) == "workload")
    }

    @Test func differentCodeAtThePathIsNotUsed() throws {
        let e = try example()
        var other = e.buildID
        other[0] ^= 0xff
        #expect(function(modulePath: e.program, buildID: other, workload: e.workload) == "exact_counts+0x" + String(e.workload + 4, radix: 16))
    }

    @Test func separateDebugFileIsFoundByBuildID() throws {
        let e = try example()
        let hex = e.buildID.map { String(format: "%02x", $0) }.joined()
        let debug = e.directory + "/debug/.build-id/" + hex.prefix(2)
        try FileManager.default.createDirectory(atPath: debug, withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: e.program, toPath: debug + "/" + hex.dropFirst(2) + ".debug")
        #expect(function(modulePath: e.program, buildID: e.buildID, workload: e.workload, debugDirectory: e.directory + "/debug") == "workload")
        #expect(function(modulePath: e.program, buildID: e.buildID, workload: e.workload) == "exact_counts+0x" + String(e.workload + 4, radix: 16))
    }
}
