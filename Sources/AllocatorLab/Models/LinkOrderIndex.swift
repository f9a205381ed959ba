/// An index over LIFO free lists that answers fit searches without walking them.
///
/// Each list ("bin") gives its blocks slots in the order they were linked, the newest last, so that
/// a list read from its front is its slots read from the back. A max tree over each list's slots
/// (a complete binary tree in an array: node `i` covers its children `2i` and `2i + 1`, the leaves
/// are the slots) finds the newest block that holds a request, at or before a given block, in
/// O(log n); linking and unlinking a block are O(log n) too and usually stop after a level or two.
/// Slots of unlinked blocks stay empty until the list runs out of slots; the live ones are then
/// packed, in order, into a tree twice their number.
///
/// Lists below `firstIndexedList` are left out (their owner finds fits on them another way):
/// changes to them are ignored.
///
/// The tree holds sizes in `SizeUnits` (16-byte units, 32 bits); a block of 64 GiB or more reads as
/// `UInt32.max` units there, its exact size kept aside (`hugeSizes`) and checked when a search asks
/// for that much.
final class LinkOrderIndex {
    /// A size in the tree.
    typealias Units = SizeUnits.Value
    /// One list's slots and max tree.
    private struct Tree {
        /// The number of slots, a power of two.
        var capacity: Int
        /// Slots handed out so far.
        var used = 0
        /// `max[capacity + s]` is slot `s`'s block size in units (0: empty); `max[i]` the larger of
        /// its children.
        var max: UncheckedArray<Units>
        /// The node in each slot (-1: empty).
        var nodes: UncheckedArray<Int32>

        init(capacity: Int) {
            self.capacity = capacity
            max = UncheckedArray(repeating: 0, count: 2 * capacity)
            nodes = UncheckedArray(repeating: -1, count: capacity)
        }

        func deallocate() {
            max.deallocate()
            nodes.deallocate()
        }
    }

    /// Where an indexed node sits (bin -1: not indexed).
    private struct Place {
        var bin: Int32
        var slot: Int32
    }

    private var trees: UncheckedArray<Tree>
    private var places = UncheckedArray<Place>()
    /// The sizes in bytes of the indexed blocks too large for `Units` (in practice none).
    private var hugeSizes: [Int32: UInt64] = [:]
    /// The number of blocks indexed.
    private(set) var count = 0
    /// The first list indexed.
    let firstIndexedList: Int

    /// Creates an empty index over lists `firstIndexedList ..< binCount`.
    init(binCount: Int, firstIndexedList: Int = 0) {
        self.firstIndexedList = firstIndexedList
        trees = UncheckedArray(capacity: binCount)
        for bin in 0..<binCount { trees.append(Tree(capacity: bin < firstIndexedList ? 1 : 16)) }
    }

    /// Whether list `bin` is indexed.
    @inline(__always) func indexes(_ bin: Int) -> Bool { bin >= firstIndexedList }

    deinit {
        for tree in trees.buffer { tree.deallocate() }
        trees.deallocate()
        places.deallocate()
    }

    /// Whether `node` is indexed.
    func contains(_ node: Int32) -> Bool { Int(node) < places.count && places[Int(node)].bin >= 0 }

    /// The largest size indexed, in bytes (0 when empty).
    var largestSize: UInt64 {
        var largest: UInt64 = 0
        for bin in trees.indices { largest = Swift.max(largest, largestSize(onList: bin)) }
        return largest
    }

    /// The largest block size on list `bin`, in bytes (0 when empty).
    func largestSize(onList bin: Int) -> UInt64 {
        let tree = trees[bin]
        guard tree.max[1] == .max else { return SizeUnits.bytes(tree.max[1]) }
        return (0..<tree.used).reduce(0) { tree.nodes[$1] >= 0 ? Swift.max($0, hugeSizes[tree.nodes[$1]] ?? 0) : $0 }
    }

    // MARK: Queries

    /// The first block on list `bin`, from block `node` on towards the back (-1: from the front),
    /// whose size is `bytes` or more, or -1.
    func firstFit(onList bin: Int, atLeast bytes: UInt64, from node: Int32) -> Int32 {
        assert(node < 0 || (contains(node) && Int(places[Int(node)].bin) == bin), "node \(node) is not on list \(bin)")
        let needed = Swift.max(SizeUnits.of(bytes), 1)
        var slot = node < 0 ? trees[bin].used - 1 : Int(places[Int(node)].slot)
        while true {
            slot = firstFit(in: trees[bin], atLeast: needed, fromSlot: slot)
            // Only a saturated request can meet a block that is too small: a huge one.
            guard slot >= 0 else { return -1 }
            let found = trees[bin].nodes[slot]
            if needed < .max || hugeSizes[found]! >= bytes { return found }
            slot -= 1
        }
    }

    /// The slot of the newest block in `tree`, from slot `slot` on towards the oldest, of `needed`
    /// units or more, or -1.
    @inline(__always) private func firstFit(in tree: Tree, atLeast needed: Units, fromSlot slot: Int) -> Int {
        var i = tree.capacity + slot
        guard i >= tree.capacity else { return -1 }
        if tree.max[i] < needed {
            // Up to the nearest left sibling whose subtree holds a fit...
            while true {
                if i == 1 { return -1 }
                if i & 1 == 1, tree.max[i - 1] >= needed {
                    i -= 1
                    break
                }
                i >>= 1
            }
            // ...then down to its rightmost fitting slot.
            while i < tree.capacity { i = tree.max[2 * i + 1] >= needed ? 2 * i + 1 : 2 * i }
        }
        return i - tree.capacity
    }

    /// Every block on list `bin` from its front to its back (for checks and tests).
    func nodes(onList bin: Int) -> [Int32] {
        let tree = trees[bin]
        return (0..<tree.used).reversed().map { tree.nodes[$0] }.filter { $0 >= 0 }
    }

    // MARK: Changes

    /// Puts free block `node` (not indexed) at the front of list `bin` with its size in bytes.
    func insert(_ node: Int32, onList bin: Int, size: UInt64) {
        guard indexes(bin) else { return }
        let n = Int(node)
        while places.count <= n { places.append(Place(bin: -1, slot: -1)) }
        assert(places[n].bin < 0, "node \(node) is indexed twice")
        if trees[bin].used == trees[bin].capacity { repack(bin) }
        let slot = trees[bin].used
        trees[bin].used += 1
        trees[bin].nodes[slot] = node
        places[n] = Place(bin: Int32(bin), slot: Int32(slot))
        assert(size % 16 == 0, "a block size is a multiple of 16 bytes")
        let units = SizeUnits.of(size)
        if units == .max { hugeSizes[node] = size }
        set(slot, of: bin, to: units)
        count += 1
    }

    /// Takes `node` off its list (nothing when it is on a list left out).
    func remove(_ node: Int32) {
        let n = Int(node)
        guard n < places.count, places[n].bin >= 0 else { return }
        let place = places[n]
        let tree = trees[Int(place.bin)]
        if tree.max[tree.capacity + Int(place.slot)] == .max { hugeSizes[node] = nil }
        tree.nodes[Int(place.slot)] = -1
        set(Int(place.slot), of: Int(place.bin), to: 0)
        places[n].bin = -1
        count -= 1
    }

    // MARK: Internals

    /// Sets slot `slot`'s size and the maxima above it, stopping where they do not change.
    @inline(__always) private func set(_ slot: Int, of bin: Int, to size: Units) {
        let tree = trees[bin]
        var i = tree.capacity + slot
        tree.max[i] = size
        while i > 1 {
            let sibling = tree.max[i ^ 1], larger = Swift.max(tree.max[i], sibling)
            i >>= 1
            if tree.max[i] == larger { return }
            tree.max[i] = larger
        }
    }

    /// Packs list `bin`'s live slots, in order, into a tree with room for twice their number.
    private func repack(_ bin: Int) {
        let old = trees[bin]
        var live = 0
        for s in 0..<old.used where old.nodes[s] >= 0 { live += 1 }
        var capacity = 16
        while capacity < 2 * live { capacity *= 2 }
        var fresh = Tree(capacity: capacity)
        for s in 0..<old.used where old.nodes[s] >= 0 {
            let node = old.nodes[s]
            fresh.nodes[fresh.used] = node
            fresh.max[capacity + fresh.used] = old.max[old.capacity + s]
            places[Int(node)].slot = Int32(fresh.used)
            fresh.used += 1
        }
        for i in stride(from: capacity - 1, through: 1, by: -1) { fresh.max[i] = Swift.max(fresh.max[2 * i], fresh.max[2 * i + 1]) }
        old.deallocate()
        trees[bin] = fresh
    }

    // MARK: Invariants

    /// Traps when the index is inconsistent: a stale maximum, a node in the wrong slot, or a wrong
    /// count.
    func checkInvariants() {
        var total = 0
        for (bin, tree) in trees.buffer.enumerated() {
            precondition(tree.used <= tree.capacity, "list \(bin) uses more slots than it has")
            for s in 0..<tree.capacity {
                let node = tree.nodes[s]
                if node >= 0 {
                    precondition(s < tree.used && places[Int(node)].bin == Int32(bin) && places[Int(node)].slot == Int32(s), "node \(node) out of step with its slot")
                    total += 1
                } else {
                    precondition(tree.max[tree.capacity + s] == 0, "empty slot \(s) of list \(bin) has a size")
                }
            }
            for i in 1..<tree.capacity {
                precondition(tree.max[i] == Swift.max(tree.max[2 * i], tree.max[2 * i + 1]), "stale maximum in list \(bin)")
            }
        }
        precondition(total == count && places.buffer.filter { $0.bin >= 0 }.count == count, "index count out of step")
    }
}
