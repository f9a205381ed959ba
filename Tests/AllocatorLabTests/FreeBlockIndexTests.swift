@testable import AllocatorLab
import Testing

/// Seeded property tests of the free-block indexes against naive references (sorted arrays and
/// plain lists): thousands of random changes and queries, with every answer compared exactly.
@Suite struct FreeBlockIndexTests {
    /// A sorted array of (key, size, node): what `FreeBlockIndex` must agree with.
    struct SortedEntries {
        var entries: [(key: UInt128, size: UInt64, node: Int32)] = []

        func position(of key: UInt128) -> Int { entries.firstIndex { $0.key >= key } ?? entries.count }
        func firstFit(atLeast bytes: UInt64, from key: UInt128) -> Int32 {
            entries.first { $0.key >= key && $0.size >= bytes }?.node ?? -1
        }
        func last(before key: UInt128) -> Int32 { entries.last { $0.key < key }?.node ?? -1 }
        var largest: UInt64 { entries.map(\.size).max() ?? 0 }
    }

    /// Keys of three shapes: spread addresses, increasing numbers (appends at the end), and (size,
    /// place) pairs with many equal high halves.
    @Test(arguments: [(UInt64(1), 0), (2, 1), (3, 2), (4, 0), (5, 2)])
    func agreesWithSortedArray(seed: UInt64, keyShape: Int) {
        var rng = SeededGenerator(state: seed)
        let index = FreeBlockIndex<UInt128>()
        var reference = SortedEntries()
        var freeNodes = Array((0..<Int32(6000)).reversed())
        var linkNumber: UInt64 = 0
        // Multiples of 16 bytes (the index's requirement, as for every `BlockHeap` block); a few near
        // 64 GiB, where the index's 32-bit units saturate.
        func randomSize() -> UInt64 {
            let roll = UInt64.random(in: 0..<100, using: &rng)
            if roll < 90 { return 32 + 16 * UInt64.random(in: 0..<40, using: &rng) }
            if roll < 98 { return 16 * UInt64.random(in: 2...1 << 16, using: &rng) }
            return (1 << 36) - 64 + 16 * UInt64.random(in: 0..<8, using: &rng)
        }
        func freshKey() -> UInt128 {
            while true {
                let key: UInt128
                switch keyShape {
                case 0: key = UInt128(UInt64.random(in: 0..<1 << 40, using: &rng) << 4)
                case 1: linkNumber += 1; key = UInt128(linkNumber)
                default: key = UInt128(UInt64.random(in: 0..<24, using: &rng)) << 64 | UInt128(UInt64.random(in: 0..<1 << 20, using: &rng))
                }
                if !reference.entries.contains(where: { $0.key == key }) { return key }
            }
        }
        func randomQueryKey() -> UInt128 {
            if !reference.entries.isEmpty, Bool.random(using: &rng) { return reference.entries.randomElement(using: &rng)!.key }
            return keyShape == 2 ? UInt128(UInt64.random(in: 0..<25, using: &rng)) << 64 | UInt128(UInt64.random(in: 0..<1 << 20, using: &rng)) : UInt128(UInt64.random(in: 0..<1 << 44, using: &rng))
        }
        // Grow to a few thousand entries (several levels of splits), then shrink to nothing (merges).
        for step in 0..<12000 {
            let growing = step < 6000 ? UInt64.random(in: 0..<100, using: &rng) < 65 : UInt64.random(in: 0..<100, using: &rng) < 30
            let roll = UInt64.random(in: 0..<100, using: &rng)
            if growing || reference.entries.isEmpty, roll < 70, let node = freeNodes.popLast() {
                let key = freshKey(), size = randomSize()
                let p = reference.position(of: key)
                let expectedBefore = p > 0 ? reference.entries[p - 1].node : -1
                #expect(index.insert(node, key: key, size: size) == expectedBefore)
                reference.entries.insert((key, size, node), at: p)
            } else if !reference.entries.isEmpty, roll < 85 {
                let p = Int.random(in: 0..<reference.entries.count, using: &rng)
                let old = reference.entries[p]
                // A key strictly between the neighbours' keys (or the same key), a new size.
                let low = p > 0 ? reference.entries[p - 1].key + 1 : 0
                let high = p + 1 < reference.entries.count ? reference.entries[p + 1].key - 1 : old.key + 1000
                let key = low + UInt128(UInt64.random(in: 0...UInt64(min(high - low, 1 << 62)), using: &rng))
                let size = randomSize()
                let node: Int32
                if Bool.random(using: &rng), let fresh = freeNodes.popLast() {
                    node = fresh
                    freeNodes.append(old.node)
                } else {
                    node = old.node
                }
                index.replace(old.node, with: node, key: key, size: size)
                reference.entries[p] = (key, size, node)
            } else if !reference.entries.isEmpty {
                let p = Int.random(in: 0..<reference.entries.count, using: &rng)
                index.remove(reference.entries[p].node)
                freeNodes.append(reference.entries.remove(at: p).node)
            }
            for _ in 0..<2 {
                let key = randomQueryKey(), bytes = randomSize()
                #expect(index.firstFit(atLeast: bytes, from: key) == reference.firstFit(atLeast: bytes, from: key))
                #expect(index.last(before: key) == reference.last(before: key))
            }
            #expect(index.count == reference.entries.count)
            #expect(index.largestSize == reference.largest)
            if step % 500 == 0 {
                index.checkInvariants()
                #expect(index.nodesInOrder == reference.entries.map(\.node))
                for entry in reference.entries.prefix(50) { #expect(index.key(of: entry.node) == entry.key) }
            }
        }
        index.checkInvariants()
        #expect(index.nodesInOrder == reference.entries.map(\.node))
    }

    /// `LinkOrderIndex` against plain LIFO lists (front first): first fit from the front and from a
    /// given block, across repacks. Sizes are multiples of 16 bytes, as the index requires; a few are
    /// near 64 GiB, where the index's 32-bit units saturate.
    @Test(arguments: [UInt64(11), 12, 13])
    func linkOrderAgreesWithLists(seed: UInt64) {
        var rng = SeededGenerator(state: seed)
        let binCount = 5
        let index = LinkOrderIndex(binCount: binCount)
        var lists = [[(node: Int32, size: UInt64)]](repeating: [], count: binCount)
        var freeNodes = Array((0..<Int32(5000)).reversed())
        func randomSize() -> UInt64 {
            let roll = UInt64.random(in: 0..<100, using: &rng)
            if roll < 90 { return 32 + 16 * UInt64.random(in: 0..<40, using: &rng) }
            if roll < 98 { return 16 * UInt64.random(in: 2...1 << 16, using: &rng) }
            return (1 << 36) - 64 + 16 * UInt64.random(in: 0..<8, using: &rng)
        }
        for step in 0..<30000 {
            let total = lists.map(\.count).reduce(0, +)
            let growing = (step / 6000) % 2 == 0
            let roll = UInt64.random(in: 0..<100, using: &rng)
            if total == 0 || roll < (growing ? 60 : 35), let node = freeNodes.popLast() {
                let bin = Int.random(in: 0..<binCount, using: &rng), size = randomSize()
                index.insert(node, onList: bin, size: size)
                lists[bin].insert((node, size), at: 0)
            } else {
                let bin = lists.indices.filter { !lists[$0].isEmpty }.randomElement(using: &rng)!
                // Mostly near the front (blocks die young), sometimes anywhere.
                let p = Bool.random(using: &rng) ? Int.random(in: 0..<min(4, lists[bin].count), using: &rng) : Int.random(in: 0..<lists[bin].count, using: &rng)
                index.remove(lists[bin][p].node)
                freeNodes.append(lists[bin].remove(at: p).node)
            }
            for _ in 0..<3 {
                let bin = Int.random(in: 0..<binCount, using: &rng), bytes = randomSize()
                let from = lists[bin].isEmpty || Bool.random(using: &rng) ? -1 : Int.random(in: 0..<lists[bin].count, using: &rng)
                let expected = lists[bin][(from < 0 ? 0 : from)...].first { $0.size >= bytes }?.node ?? -1
                #expect(index.firstFit(onList: bin, atLeast: bytes, from: from < 0 ? -1 : lists[bin][from].node) == expected)
            }
            #expect(index.count == lists.map(\.count).reduce(0, +))
            #expect(index.largestSize == (lists.flatMap { $0.map(\.size) }.max() ?? 0))
            if step % 500 == 0 {
                index.checkInvariants()
                for bin in 0..<binCount { #expect(index.nodes(onList: bin) == lists[bin].map(\.node)) }
            }
        }
        index.checkInvariants()
        for bin in 0..<binCount { #expect(index.nodes(onList: bin) == lists[bin].map(\.node)) }
    }
}
