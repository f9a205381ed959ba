import AllocatorLab
import Testing

/// Replays a text trace through a model (invariants checked after every operation) and returns the
/// slot state, the result and the model's heap afterwards.
func replay(_ text: String, _ model: any AllocatorModel) throws -> (LiveHandles, ReplayResult, HeapSnapshot) {
    let log = try TextTrace.parse(text, file: "test.rep")
    var options = ReplayEngine.Options()
    options.checkInvariantsEveryOperation = true
    func open<M: AllocatorModel>(_ m: M) -> (ReplayEngine.Handles, ReplayResult) {
        var handles = ReplayEngine.Handles()
        let result = ReplayEngine.replay(log, through: m, options: options, handles: &handles)
        return (handles, result)
    }
    let (handles, result) = open(model)
    return (LiveHandles(state: handles, log: log), result, model.snapshot())
}

/// The model handle of each live text-trace operation's block, by operation (line) index.
struct LiveHandles {
    var state: ReplayEngine.Handles
    var log: OperationLog
    /// The handle of the block the `index`th operation allocated (0 when freed since).
    var handles: [UInt64] { log.operations.map { state.handles[Int($0.slot)] } }
}

/// `(offset from base, bytes, kind)` of every block, for compact expectations.
func layout(_ snapshot: HeapSnapshot, base: UInt64) -> [String] {
    snapshot.blocks.map { "\($0.start - base):\($0.bytes):\($0.kind.rawValue)" }
}

let heapBase: UInt64 = 0x10_0000

@Suite struct FreeListPlacementTests {
    @Test func firstFitSplitsAndCoalesces() throws {
        let model = AllocatorCatalog.make("first-fit")!
        // a0 100 -> 128-byte block, a1 200 -> 224, a2 50 -> 80; free a1; a3 40 -> 64 split from the 224 gap.
        let (_, _, afterSplit) = try replay("a 0 100\na 1 200\na 2 50\nf 1\na 3 40\n", model)
        #expect(layout(afterSplit, base: heapBase) == ["0:128:used", "128:64:used", "192:160:free", "352:80:used"])
        #expect(model.footprintBytes == 432)
        // Freeing a0 then a3 merges 0..352 into one free block.
        let model2 = AllocatorCatalog.make("first-fit")!
        let (_, _, merged) = try replay("a 0 100\na 1 200\na 2 50\nf 1\na 3 40\nf 0\nf 3\n", model2)
        #expect(layout(merged, base: heapBase) == ["0:352:free", "352:80:used"])
    }

    /// Free blocks of 128 bytes at 0 and 64 bytes at 160 (freed last); a 64-byte block request.
    static let twoHoles = "a 0 100\na 1 16\na 2 40\na 3 16\nf 0\nf 2\na 4 40\n"

    @Test(arguments: [
        ("first-fit", 0), ("best-fit", 160), ("worst-fit", 0), ("next-fit", 0),
        ("first-fit-lifo", 160), ("best-fit-lifo", 160), ("worst-fit-lifo", 0), ("next-fit-lifo", 160),
        ("segregated", 160), ("tlsf", 160),
    ])
    func placementPolicy(name: String, expectedOffset: UInt64) throws {
        let model = AllocatorCatalog.make(name)!
        let (handles, _, _) = try replay(Self.twoHoles, model)
        // Payloads start 8 bytes into their block (after the header).
        #expect(model.address(of: handles.handles[6]) - 8 - heapBase == expectedOffset)
    }

    @Test func firstFitSplitLeavesRemainderInPlace() throws {
        let model = AllocatorCatalog.make("first-fit")!
        let (_, _, heap) = try replay(Self.twoHoles, model)
        #expect(layout(heap, base: heapBase) == ["0:64:used", "64:64:free", "128:32:used", "160:64:free", "224:32:used"])
    }

    @Test func heapLimitFailsRequests() throws {
        let model = AllocatorCatalog.make("best-fit", limitBytes: 256)!
        let (_, result, _) = try replay("a 0 100\na 1 100\na 2 100\nf 0\na 3 100\n", model)
        #expect(result.failedRequests == 1)
        #expect(result.peakFootprintBytes == 256)
    }
}

@Suite struct BuddyPlacementTests {
    @Test func splitsAndMergesBuddies() throws {
        let model = BuddyAllocator()
        let (handles, _, heap) = try replay("a 0 100\na 1 20\na 2 200\n", model)
        #expect(handles.handles[1] - model.base == 128)
        #expect(handles.handles[2] - model.base == 256)
        #expect(layout(heap, base: model.base) == ["0:128:used", "128:32:used", "160:32:free", "192:64:free", "256:256:used"])
        let model2 = BuddyAllocator()
        let (_, _, merged) = try replay("a 0 100\na 1 20\na 2 200\nf 0\nf 1\n", model2)
        #expect(layout(merged, base: model2.base) == ["0:256:free", "256:256:used"])
        #expect(model2.footprintBytes == 512)
    }
}

@Suite struct SizeClassPlacementTests {
    @Test func slabFillsClassesAndReturnsEmptySlabs() throws {
        let model = SlabAllocator()
        let (handles, _, _) = try replay("a 0 24\na 1 24\na 2 100\nf 0\na 3 30\n", model)
        #expect(handles.handles[1] - model.base == 32)
        #expect(handles.handles[2] - model.base == SlabAllocator.slabBytes)  // class 112 gets its own slab
        #expect(handles.handles[4] == model.base)  // the freed 32-byte block is reused
        #expect(model.footprintBytes == 2 * SlabAllocator.slabBytes)
        let model2 = SlabAllocator()
        _ = try replay("a 0 24\na 1 100\nf 1\na 2 20000\n", model2)
        // The 112-byte slab emptied and went back; 20,000 bytes is large: a 20 KiB extent.
        #expect(model2.footprintBytes == SlabAllocator.slabBytes + 20480)
    }

    @Test func pymallocPoolsAndArenas() throws {
        let model = PymallocModel()
        let (handles, _, _) = try replay("a 0 1\na 1 17\na 2 16\na 3 600\n", model)
        #expect(handles.handles[0] - model.base == 48)
        #expect(handles.handles[1] - model.base == 16384 + 48)
        #expect(handles.handles[2] - model.base == 48 + 16)
        #expect(handles.handles[3] >= model.systemBase)
        #expect(model.footprintBytes == PymallocModel.arenaBytes + 608)
        #expect(model.classStatistics()[0].blocksInUse == 2 && model.classStatistics()[1].pools == 1)
    }

    @Test func pymallocFreesAnEmptyArenaUnlessItIsTheLastUsable() throws {
        // 64 pools x 31 blocks of 512 bytes fill arena 0; one more block opens arena 1.
        let perArena = 64 * 31
        var lines = (0...perArena).map { "a \($0) 512" }
        lines += (0..<perArena).map { "f \($0)" }
        let model = PymallocModel()
        _ = try replay(lines.joined(separator: "\n"), model)
        // Arena 0 empties while arena 1 follows it on usable_arenas: it goes back to the system.
        #expect(model.arenasAllocatedTotal == 2 && model.arenasReclaimed == 1)
        let model2 = PymallocModel()
        _ = try replay((lines + ["f \(perArena)"]).joined(separator: "\n"), model2)
        // Arena 1 empties too, but it is the last usable arena: kept in reserve.
        #expect(model2.arenasReclaimed == 1 && model2.arenasAllocatedCurrent == 1)
        #expect(model2.footprintBytes == PymallocModel.arenaBytes)
    }
}

@Suite struct CompactingCollectorTests {
    @Test func collectionSlidesLiveObjectsDown() throws {
        let model = CompactingCollector()
        var lines = ["a 0 100", "a 1 200", "f 0"]
        lines += (2..<1300).map { "a \($0) 200" }
        let (handles, _, _) = try replay(lines.joined(separator: "\n"), model)
        #expect(model.collections >= 1)
        #expect(model.address(of: handles.handles[1]) == model.smallHeapBase)  // moved over the dead object
    }

    static let largeObjects = "a 0 100000\na 1 100000\na 2 100000\na 3 100000\nf 0\nf 2\na 4 150000\n"

    @Test func largeObjectsFragmentWithoutCompaction() throws {
        let model = CompactingCollector()
        _ = try replay(Self.largeObjects, model)
        // Two 100,016-byte gaps cannot hold 150,016 bytes: the LOH grows.
        #expect(model.footprintBytes == 4 * 100_016 + 150_016)
        let compacting = CompactingCollector(compactLargeObjectHeapOnce: true)
        _ = try replay(Self.largeObjects, compacting)
        #expect(compacting.footprintBytes == 4 * 100_016)
        #expect(!compacting.compactLargeObjectHeapOnce)
    }
}

@Suite struct TextTraceTests {
    @Test func skipsHeaderAndComments() throws {
        let log = try TextTrace.parse("20000\n3\n4\n1\n# comment\na 0 10\n\nr 0 20\nf 0\n", file: "x.rep")
        #expect(log.operations == [AllocationOperation(.allocate, slot: 0, bytes: 10), AllocationOperation(.reallocate, slot: 0, bytes: 20), AllocationOperation(.free, slot: 0)])
        #expect(log.peakLiveBytes == 20)
    }

    /// Lines read in place (the usual shape) and lines that need the general reader (tabs, CRLF,
    /// trailing blanks, inline comments, ids and sizes of 20 digits) give the same operations.
    @Test func everyLineShapeGivesTheSameOperations() throws {
        let text = "a 0 10\r\na\t1\t20  \n r 0 30\na 2 40 # a comment\nf\t1\r\nr 12345678901234567890 18000000000000000000\nf 0\n"
        let log = try TextTrace.parse(text, file: "shapes.rep")
        #expect(log.operations == [
            AllocationOperation(.allocate, slot: 0, bytes: 10), AllocationOperation(.allocate, slot: 1, bytes: 20),
            AllocationOperation(.reallocate, slot: 0, bytes: 30), AllocationOperation(.allocate, slot: 2, bytes: 40),
            AllocationOperation(.free, slot: 1), AllocationOperation(.reallocate, slot: 1, bytes: 18_000_000_000_000_000_000),
            AllocationOperation(.free, slot: 0),
        ])
        #expect(log.slotCount == 3)
    }

    @Test(arguments: [
        ("a 0 10\nf 0 1\n", "bad.rep:2: expected \"f ID\", got \"f 0 1\""),
        ("a 0 10\r\nf 0\r\nf 0\r\n", "bad.rep:3: free of id 0, which is not allocated"),
        ("a 0 99999999999999999999999\n", "bad.rep:1: size \"99999999999999999999999\" is not a non-negative integer"),
        ("a 0 10\nx 1\n", "bad.rep:2: unknown operation \"x\" (expected a, r or f)"),
        ("a 0 10\nf 3\n", "bad.rep:2: free of id 3, which is not allocated"),
        ("a 0 ten\n", "bad.rep:1: size \"ten\" is not a non-negative integer"),
        ("a 0 1\na 0 1\n", "bad.rep:2: id 0 is allocated twice without a free"),
    ])
    func badLinesNameFileAndLine(text: String, message: String) {
        #expect(throws: TextTraceError.self) { try TextTrace.parse(text, file: "bad.rep") }
        do { _ = try TextTrace.parse(text, file: "bad.rep") } catch { #expect("\(error)" == message) }
    }
}
