import AllocatorLab
import Testing

/// A seeded SplitMix64 generator: the same seed gives the same trace.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A random workload: mostly small blocks, some large (to reach the LOH and large extents), reallocs.
func randomLog(seed: UInt64, operations: Int) -> OperationLog {
    var rng = SeededGenerator(state: seed)
    var log = OperationLog(source: "random seed \(seed)")
    var live: [UInt32] = [], freeSlots: [UInt32] = []
    var slotCount: UInt32 = 0
    func size() -> UInt64 {
        switch UInt64.random(in: 0..<100, using: &rng) {
        case 0..<70: UInt64.random(in: 0...512, using: &rng)
        case 70..<95: UInt64.random(in: 513...20000, using: &rng)
        default: UInt64.random(in: 80000...200_000, using: &rng)
        }
    }
    for _ in 0..<operations {
        let roll = Int.random(in: 0..<10, using: &rng)
        if live.isEmpty || roll < 5 {
            let slot = freeSlots.popLast() ?? { slotCount += 1; return slotCount - 1 }()
            live.append(slot)
            log.operations.append(AllocationOperation(.allocate, slot: slot, bytes: size()))
        } else if roll < 6 {
            let slot = live[Int.random(in: 0..<live.count, using: &rng)]
            log.operations.append(AllocationOperation(.reallocate, slot: slot, bytes: size()))
        } else {
            let slot = live.remove(at: Int.random(in: 0..<live.count, using: &rng))
            freeSlots.append(slot)
            log.operations.append(AllocationOperation(.free, slot: slot))
        }
    }
    log.slotCount = Int(slotCount)
    return log
}

@Suite struct AllocatorPropertyTests {
    @Test(arguments: AllocatorCatalog.names)
    func liveBlocksNeverOverlapAndEveryByteIsAccounted(name: String) throws {
        for seed in [1, 2] as [UInt64] {
            let log = randomLog(seed: seed, operations: 1500)
            for stop in stride(from: 250, through: 1500, by: 250) {
                let model = AllocatorCatalog.make(name)!
                var options = ReplayEngine.Options(stopAfter: stop)
                options.checkInvariantsEveryOperation = stop == 1500
                var state = ReplayEngine.Handles()
                func open<M: AllocatorModel>(_ m: M) { _ = ReplayEngine.replay(log, through: m, options: options, handles: &state) }
                open(model)
                let snapshot = model.snapshot()
                #expect(snapshot.tilingProblem() == nil, "\(name): \(snapshot.tilingProblem() ?? "")")
                let occupancy = model.occupancy()
                let total = snapshot.blocks.reduce(0) { $0 + $1.bytes }
                #expect(total == occupancy.footprintBytes, "\(name): blocks cover \(total) of \(occupancy.footprintBytes) bytes")
                #expect(snapshot.bytes(.used) == occupancy.usedBlockBytes, "\(name): used bytes differ")
                #expect(occupancy.freeBytes <= snapshot.bytes(.free) + snapshot.bytes(.overhead))
                // Each live block lies inside its own used block, big enough for its request.
                let used = snapshot.blocks.filter { $0.kind == .used }
                var owners = Set<UInt64>()
                for slot in state.handles.indices where state.handles[slot] != 0 {
                    let address = model.address(of: state.handles[slot])
                    var low = 0, high = used.count
                    while low < high {
                        let mid = (low + high) / 2
                        if used[mid].start <= address { low = mid + 1 } else { high = mid }
                    }
                    let block = low > 0 ? used[low - 1] : nil
                    #expect(block != nil && address + state.sizes[slot] <= block!.start + block!.bytes, "\(name): slot \(slot) outside a used block")
                    if let block { #expect(owners.insert(block.start).inserted, "\(name): two live blocks share \(block.start)") }
                }
            }
        }
    }

    @Test func replaysAreDeterministic() {
        let log = randomLog(seed: 7, operations: 2000)
        for name in AllocatorCatalog.names {
            let a = ReplayEngine.replay(log, throughAny: AllocatorCatalog.make(name)!)
            let b = ReplayEngine.replay(log, throughAny: AllocatorCatalog.make(name)!)
            #expect(a.peakFootprintBytes == b.peakFootprintBytes && a.timeline.map(\.footprintBytes) == b.timeline.map(\.footprintBytes))
        }
    }
}
