/// Worst fit's index: a binary max-heap of the free blocks by size, then place on the list.
///
/// Worst fit reads only the largest block (the first on the list among equals), so it needs no
/// sorted order: a heap keeps that block at its top, and a freed block, usually small, goes in at
/// the bottom and rarely climbs, where a sorted index (`FreeBlockIndex`) searched three levels of
/// keys for its place among hundreds of thousands of free blocks. The split remainder of the
/// largest block takes its place at the top and sinks as far as it must.
///
/// Keys are the size index's (size << 64 | place, the lower place the nearer the front); the heap
/// orders by size, largest first, then by place, lowest first.
final class LargestBlockHeap {
    /// Heap order: entry `i`'s children are `2i + 1` and `2i + 2`. Each entry's rank: its key with
    /// the place bits flipped, so that a larger rank is a better block.
    private var ranks = UncheckedArray<UInt128>()
    private var entries = UncheckedArray<Int32>()
    /// Per node (index = node number): its entry (-1: not indexed).
    private var position = UncheckedArray<Int32>()

    init() {}

    deinit {
        ranks.deallocate()
        entries.deallocate()
        position.deallocate()
    }

    /// The number of blocks indexed.
    var count: Int { entries.count }

    /// The largest block, first on the list among equals, or -1.
    var top: Int32 { entries.isEmpty ? -1 : entries[0] }

    /// The largest size indexed, in bytes (0 when empty).
    var largestSize: UInt64 { ranks.isEmpty ? 0 : UInt64(truncatingIfNeeded: ranks[0] >> 64) }

    /// Whether `node` is indexed.
    func contains(_ node: Int32) -> Bool { Int(node) < position.count && position[Int(node)] >= 0 }

    /// The key of `node`, which must be indexed.
    func key(of node: Int32) -> UInt128 {
        assert(contains(node), "node \(node) is not indexed")
        return Self.rank(ranks[Int(position[Int(node)])])
    }

    /// A key's rank, and a rank's key (flipping the place bits both ways).
    @inline(__always) private static func rank(_ key: UInt128) -> UInt128 { key ^ UInt128(UInt64.max) }

    /// Adds free block `node` (not indexed) under `key` (no other block's).
    func insert(_ node: Int32, key: UInt128) {
        while position.count <= Int(node) { position.append(-1) }
        assert(position[Int(node)] < 0, "node \(node) is indexed twice")
        ranks.append(Self.rank(key))
        entries.append(node)
        position[Int(node)] = Int32(entries.count - 1)
        siftUp(entries.count - 1)
    }

    /// Removes `node`, which must be indexed: the last entry fills its place and moves up or down.
    func remove(_ node: Int32) {
        assert(contains(node), "node \(node) is not indexed")
        let i = Int(position[Int(node)]), last = entries.count - 1
        position[Int(node)] = -1
        let movedRank = ranks[last], moved = entries[last]
        ranks.removeLast()
        entries.removeLast()
        guard i < last else { return }
        put(moved, rank: movedRank, at: i)
        restore(i)
    }

    /// Puts `node` (not indexed, or `old` itself) in the place of `old` (indexed) under `key`,
    /// moving it up or down as its key asks.
    func replace(_ old: Int32, with node: Int32, key: UInt128) {
        assert(contains(old), "node \(old) is not indexed")
        let i = Int(position[Int(old)])
        position[Int(old)] = -1
        while position.count <= Int(node) { position.append(-1) }
        put(node, rank: Self.rank(key), at: i)
        restore(i)
    }

    // MARK: Internals

    @inline(__always) private func put(_ node: Int32, rank: UInt128, at i: Int) {
        ranks[i] = rank
        entries[i] = node
        position[Int(node)] = Int32(i)
    }

    /// Moves entry `i` up or down to its place.
    @inline(__always) private func restore(_ i: Int) {
        if i > 0, ranks[(i - 1) / 2] < ranks[i] { siftUp(i) } else { siftDown(i) }
    }

    private func siftUp(_ start: Int) {
        var i = start
        let rank = ranks[i], node = entries[i]
        while i > 0 {
            let parent = (i - 1) / 2
            guard ranks[parent] < rank else { break }
            put(entries[parent], rank: ranks[parent], at: i)
            i = parent
        }
        put(node, rank: rank, at: i)
    }

    private func siftDown(_ start: Int) {
        var i = start
        let rank = ranks[i], node = entries[i], n = entries.count
        while true {
            var child = 2 * i + 1
            guard child < n else { break }
            if child + 1 < n, ranks[child] < ranks[child + 1] { child += 1 }
            guard rank < ranks[child] else { break }
            put(entries[child], rank: ranks[child], at: i)
            i = child
        }
        put(node, rank: rank, at: i)
    }

    // MARK: Invariants

    /// Traps when the heap is inconsistent: a child above its parent, a node out of step with its
    /// entry, or a wrong count.
    func checkInvariants() {
        for i in entries.indices {
            precondition(i == 0 || ranks[(i - 1) / 2] > ranks[i], "heap order broken at entry \(i)")
            precondition(position[Int(entries[i])] == Int32(i), "node \(entries[i]) out of step with its entry")
        }
        precondition(position.buffer.filter { $0 >= 0 }.count == count, "heap count out of step")
    }
}
