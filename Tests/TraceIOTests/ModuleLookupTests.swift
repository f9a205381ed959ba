import Testing
import TraceIO
import TraceModel

/// Which module an instruction pointer lies in, as the symbolizer finds it: in the map in effect
/// when its stack was captured, then in later maps, then in earlier ones; nowhere for code that no
/// module holds (a JIT's), however many maps a trace has.
@Suite struct ModuleLookupTests {
    func module(_ path: String, at start: UInt64, size: UInt64 = 0x1000) -> Module {
        Module(path: path, loadBias: start, buildID: [],
               segments: [Module.Segment(fileAddress: 0, size: size / 2, flags: 5), Module.Segment(fileAddress: size / 2, size: size / 2, flags: 6)])
    }

    @Test func mapInEffectWinsThenLaterThenEarlier() {
        // libA is unloaded after stack 10 and libB is loaded at the same place after stack 20.
        let a = module("/nonexistent/libA.so", at: 0x7000_0000)
        let b = module("/nonexistent/libB.so", at: 0x7000_0000, size: 0x2000)
        let main = module("/nonexistent/main", at: 0x5555_0000)
        let maps = [
            ModuleMap(stacksBefore: 0, modules: [main, a]),
            ModuleMap(stacksBefore: 10, modules: [main]),
            ModuleMap(stacksBefore: 20, modules: [main, b]),
        ]
        let symbolizer = Symbolizer(moduleMaps: maps, symbolizerPath: nil)
        #expect(symbolizer.locate(0x7000_0800, stack: StackID(5))?.module == "/nonexistent/libA.so")
        #expect(symbolizer.locate(0x7000_0800, stack: StackID(25))?.module == "/nonexistent/libB.so")
        // Stack 15 ran while neither was loaded: a later map first (a library loaded just before
        // its first stack was seen), then earlier ones.
        #expect(symbolizer.locate(0x7000_0800, stack: StackID(15))?.module == "/nonexistent/libB.so")
        #expect(symbolizer.locate(0x7000_1800, stack: StackID(5))?.module == "/nonexistent/libB.so")  // only B reaches there
        #expect(symbolizer.locate(0x7000_0800, stack: StackID(5))?.fileAddress == 0x800)
        #expect(symbolizer.locate(0x5555_0fff, stack: StackID(25))?.module == "/nonexistent/main")
        #expect(symbolizer.locate(0x5555_1000, stack: StackID(25)) == nil)  // one past main's end
        #expect(symbolizer.locate(0x6000_0000, stack: StackID(25)) == nil)  // between modules
    }

    @Test func codeOutsideEveryModuleIsInNoMapAmongMany() {
        // 3,000 maps of 100 modules each (a trace used to get a map per new stack through a JIT's
        // code, and every lookup copied and scanned all of them), and 20,000 addresses in
        // generated code.
        let modules = (0..<100).map { module("/nonexistent/lib\($0).so", at: 0x7000_0000 + UInt64($0) * 0x10000) }
        let maps = (0..<3000).map { ModuleMap(stacksBefore: UInt32($0 * 10), modules: modules) }
        let symbolizer = Symbolizer(moduleMaps: maps, symbolizerPath: nil)
        for i in 0..<20_000 {
            #expect(symbolizer.locate(0x1000_0000 + UInt64(i) * 16, stack: StackID(UInt32(i))) == nil)
        }
        #expect(symbolizer.locate(0x7000_0000 + 42 * 0x10000 + 4, stack: StackID(29_995))?.module == "/nonexistent/lib42.so")
        #expect(symbolizer.locate(0x7000_0000 + 99 * 0x10000 + 0xfff, stack: StackID(1))?.fileAddress == 0xfff)
        #expect(symbolizer.locate(0x7000_0000 + 99 * 0x10000 + 0x1000, stack: StackID(1)) == nil)
    }
}
