import Testing
@testable import MemorySimulators

private func accesses(_ list: [(UInt64, AccessKind)], size: UInt32 = 8) -> [MemoryAccess] {
    list.map { MemoryAccess(address: $0.0, size: size, kind: $0.1) }
}

private func run(_ simulator: inout CacheHierarchySimulator, _ trace: [MemoryAccess]) {
    trace.withUnsafeBufferPointer { simulator.access($0) }
}

@Test func pageTableCountsTablePagesByHand() throws {
    var table = FourLevelPageTable(pageSize: .size4KiB)
    #expect(table.tablePagesByLevel == [1, 0, 0, 0])
    #expect(table.walk(0) == 4)
    #expect(table.tablePagesByLevel == [1, 1, 1, 1])
    table.walk(4096)  // same page table
    table.walk(2 << 20)  // new page table, same directory
    table.walk(1 << 30)  // new directory and page table, same PDPT
    table.walk(512 << 30)  // new PDPT, directory and page table
    #expect(table.tablePagesByLevel == [1, 2, 3, 4])
    #expect(table.tableBytes == 10 * 4096)
    #expect(table.mappedPageCount == 5)

    var huge = FourLevelPageTable(pageSize: .size2MiB)
    #expect(huge.walk(0) == 3)
    huge.walk(4096)
    huge.walk(2 << 20)
    #expect(huge.tablePagesByLevel == [1, 1, 1, 0])
    #expect(huge.mappedPageCount == 2)
}

@Test func tlbCountsHitsWalksAndCycles() throws {
    let configuration = TranslationConfiguration(pageSize: .size4KiB, tlbEntries: 2, tlbWays: 2,
                                                 tlbHitCycles: 1, walkReferenceCycles: 10)
    var simulator = try AddressTranslationSimulator(configuration: configuration)
    // Pages 0,1,0,2,1: misses on 0,1,2 and on 1 again (2 evicted the LRU page, 1).
    let trace = accesses([(0, .read), (4096, .read), (8, .write), (8192, .read), (4100, .read)])
    trace.withUnsafeBufferPointer { simulator.access($0) }
    let result = simulator.result
    #expect(result.translations == 5 && result.tlbHits == 1 && result.walks == 4)
    #expect(result.walkMemoryReferences == 16)
    #expect(result.cyclesPerAccess == 1 + 0.8 * 4 * 10)
    #expect(result.tablePages == 4 && result.mappedPages == 3)
    // An access across a page boundary needs two translations.
    var straddle = try AddressTranslationSimulator(configuration: configuration)
    [MemoryAccess(address: 4092, size: 8, kind: .read)].withUnsafeBufferPointer { straddle.access($0) }
    #expect(straddle.result.translations == 2 && straddle.result.accesses == 1)
}

@Test func tlbMatchesReferenceModelOnRandomTraces() throws {
    var rng = SplitMix64(seed: 11)
    for (entries, ways) in [(16, 4), (8, 1), (32, 8), (4, 4)] {
        for pageSize in PageSize.allCases {
            let trace = (0..<3000).map { _ in
                MemoryAccess(address: rng.next(below: 1 << 26), size: 1 + UInt32(rng.next(below: 8)), kind: .read)
            }
            var simulator = try AddressTranslationSimulator(
                configuration: TranslationConfiguration(pageSize: pageSize, tlbEntries: entries, tlbWays: ways))
            trace.withUnsafeBufferPointer { simulator.access($0) }
            var reference = ReferenceLRUSets(sets: entries / ways, ways: ways)
            var pages = Set<UInt64>()
            for access in trace {
                for page in (access.address >> pageSize.shift)...((access.address + UInt64(access.size) - 1) >> pageSize.shift) {
                    _ = reference.access(page, write: false)
                    pages.insert(page)
                }
            }
            let result = simulator.result
            #expect(result.tlbHits == UInt64(reference.hits), "\(entries) entries, \(ways) ways, \(pageSize)")
            #expect(result.tlbMisses == UInt64(reference.misses))
            #expect(result.mappedPages == pages.count)
        }
    }
}

@Test func cacheMatchesReferenceModelOnRandomTraces() throws {
    var rng = SplitMix64(seed: 5)
    for (l1Size, l1Ways, l2Size, l2Ways) in [(1024, 2, 4096, 4), (512, 1, 2048, 2), (2048, 8, 8192, 8)] {
        let lineSize = 32
        let trace = (0..<4000).map { _ in
            MemoryAccess(address: rng.next(below: 16384), size: 1 + UInt32(rng.next(below: 8)),
                         kind: [.read, .write, .modify, .instructionFetch][Int(rng.next(below: 4))])
        }
        var simulator = try CacheHierarchySimulator(levels: [
            CacheLevelConfiguration(name: "L1", sizeBytes: l1Size, ways: l1Ways, lineSize: lineSize),
            CacheLevelConfiguration(name: "L2", sizeBytes: l2Size, ways: l2Ways, lineSize: lineSize),
        ])
        run(&simulator, trace)
        var reference = ReferenceTwoLevelCache(
            l1: ReferenceLRUSets(sets: l1Size / l1Ways / lineSize, ways: l1Ways),
            l2: ReferenceLRUSets(sets: l2Size / l2Ways / lineSize, ways: l2Ways), lineSize: UInt64(lineSize))
        for access in trace { reference.access(access) }
        let result = simulator.result
        let (l1, l2) = (result.levels[0], result.levels[1])
        #expect([l1.hits, l1.misses, l1.evictions, l1.writeBacks]
            == [reference.l1.hits, reference.l1.misses, reference.l1.evictions, reference.l1.writeBacks].map(UInt64.init))
        #expect([l2.hits, l2.misses, l2.evictions, l2.writeBacks]
            == [reference.l2.hits, reference.l2.misses, reference.l2.evictions, reference.l2.writeBacks].map(UInt64.init))
        #expect(result.memoryLineReads == UInt64(reference.memoryReads))
        #expect(result.memoryLineWrites == UInt64(reference.memoryWrites))
    }
}

@Test func writeBackWriteAllocateByHand() throws {
    // A direct-mapped 2-line L1 (64-byte lines) and no L2: addresses 0 and 128 share set 0.
    var simulator = try CacheHierarchySimulator(levels: [
        CacheLevelConfiguration(name: "L1", sizeBytes: 128, ways: 1, lineSize: 64),
    ])
    run(&simulator, accesses([(0, .write), (8, .read), (128, .read), (0, .read), (64, .modify)]))
    let l1 = simulator.result.levels[0]
    #expect(l1.misses == 4 && l1.hits == 1)  // write-allocate: the write miss brings the line in
    #expect(l1.evictions == 2 && l1.writeBacks == 1)  // 128 evicts dirty 0; 0 evicts clean 128
    #expect(simulator.result.memoryLineReads == 4 && simulator.result.memoryLineWrites == 1)
    #expect(l1.setMisses == [3, 1] && l1.setHits == [1, 0])
}

@Test func strideAcrossOneSetThrashesL1() throws {
    // Default L1: 64 sets x 64-byte lines, so addresses 4096 bytes apart share one set. 16 of them
    // overflow its 8 ways: LRU evicts each just before it is needed again.
    func l1HitRatio(_ spec: String) throws -> (Double, [UInt64]) {
        var simulator = try CacheHierarchySimulator(levels: [.defaultL1, .defaultL2])
        try simulator.run(SyntheticTrace(specification: spec))
        return (simulator.result.levels[0].hitRatio, simulator.result.levels[0].setMisses)
    }
    let (thrash, setMisses) = try l1HitRatio("stride:4096:16:50")
    #expect(thrash == 0)
    #expect(setMisses[0] == 800 && setMisses.dropFirst().allSatisfy { $0 == 0 })
    let (friendly, _) = try l1HitRatio("stride:64:16:50")
    #expect(friendly == Double(800 - 16) / 800)
    let (fits, _) = try l1HitRatio("stride:4096:8:50")
    #expect(fits == Double(400 - 8) / 400)
}

@Test func cacheConfigurationErrorsAreOneLine() {
    #expect(throws: CacheConfigurationError.self) { try CacheLevelConfiguration(name: "L1", specification: "32k:8") }
    #expect(throws: CacheConfigurationError.self) { try CacheLevelConfiguration(name: "L1", specification: "48k:8:64") }
    #expect(throws: CacheConfigurationError.self) { try CacheLevelConfiguration(name: "L1", specification: "32k:8:48") }
    #expect((try? CacheLevelConfiguration(name: "L1", specification: "32k:8:64")) == .defaultL1)
}
