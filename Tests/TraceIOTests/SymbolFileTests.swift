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

    /// A session warmed up with the module answers later lookups with their own answers (the
    /// warm-up's are read and dropped), and it serves one symbolizer after another.
    @Test func warmedSessionAnswersEachLookup() throws {
        let e = try example()
        let bias: UInt64 = 0x5555_0000_0000
        let module = Module(path: e.program, loadBias: bias, buildID: e.buildID, segments: [Module.Segment(fileAddress: 0, size: 1 << 20, flags: 5)])
        let session = try #require(LLVMSymbolizerSession())
        session.warmUp([module, module])
        Thread.sleep(forTimeInterval: 0.2)  // the warm-up's answers wait in the pipe
        let maps = [ModuleMap(stacksBefore: 0, modules: [module])]
        let ip = bias + e.workload + 5
        #expect(Symbolizer(moduleMaps: maps, session: session).symbolize([ip])[ip]?.first?.function == "workload")
        // Every byte of two functions at once: more answers (about 300 bytes each) than the pipe
        // holds before they are read.
        let symbols = try ELFFile(path: e.program).functionSymbols().filter { ($0.name == "workload" || $0.name == "main") && $0.size > 0 }
        let ips = symbols.flatMap { symbol in (1...symbol.size).map { bias + symbol.address + $0 } }
        try #require(symbols.count == 2 && ips.count >= 300)
        let names = Symbolizer(moduleMaps: maps, session: session).symbolize(ips)
        for symbol in symbols {
            let inside = (1...symbol.size).map { bias + symbol.address + $0 }
            // The outermost frame of each address (inner ones are functions inlined into it).
            #expect(inside.allSatisfy { names[$0]?.last?.function == symbol.name })
        }
    }

    /// A module path that llvm-symbolizer's input cannot hold (a quote) is named from its ELF symbols.
    @Test func pathWithAQuoteIsNamedFromTheSymbolTable() throws {
        let e = try example()
        let quoted = e.directory + "/exact\"counts"
        try FileManager.default.copyItem(atPath: e.program, toPath: quoted)
        #expect(function(modulePath: quoted, buildID: e.buildID, workload: e.workload) == "workload")
    }

    /// A symbolizer process that is gone (here one that exits at once) leaves the ELF names, and
    /// writing to it neither kills this process nor changes how it takes SIGPIPE (which programs
    /// recorded later would inherit).
    @Test func symbolizerThatEndsLeavesTheSymbolTableNames() throws {
        let e = try example()
        let bias: UInt64 = 0x5555_0000_0000
        let module = Module(path: e.program, loadBias: bias, buildID: e.buildID, segments: [Module.Segment(fileAddress: 0, size: 1 << 20, flags: 5)])
        let session = try #require(LLVMSymbolizerSession(path: "/bin/true"))
        Thread.sleep(forTimeInterval: 0.1)  // it has ended
        session.warmUp([module])
        let size = try #require(try ELFFile(path: e.program).functionSymbols().first { $0.name == "workload" }?.size)
        let ips = (1...max(size, 1)).map { bias + e.workload + $0 }
        let names = Symbolizer(moduleMaps: [ModuleMap(stacksBefore: 0, modules: [module])], session: session).symbolize(ips)
        #expect(ips.allSatisfy { names[$0]?.first?.function == "workload" })
        var action = sigaction()
        sigaction(SIGPIPE, nil, &action)
        #expect(action.__sigaction_handler.sa_handler == nil)  // SIG_DFL
    }
}
