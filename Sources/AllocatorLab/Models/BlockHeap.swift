/// The mechanics shared by the free-list models: one contiguous heap that grows at its top (like
/// `sbrk`), cut into blocks that carry boundary tags (an 8-byte header and an 8-byte footer, so a
/// freed block finds its physical neighbours in O(1) and merges with them), with blocks split when
/// a fit is larger than needed and free blocks kept on doubly linked lists ("bins").
///
/// Block sizes are multiples of 16 bytes, 32 at least; a payload starts 8 bytes into its block.
/// Blocks are nodes in parallel arrays; physical links stand for what the boundary tags give.
///
/// A model may have the free blocks indexed so that its searches need not walk the lists:
/// `link(_:bin:listKey:)`, `replace` and `unlink` keep the indexes in step, whoever calls them. Each
/// free block then has a list key, the caller's choice, that runs one way along its list
/// (`ListKeyOrder`): its address on an address-ordered list, its link number on a LIFO one.
/// `listIndex` (a `FreeBlockIndex`) orders the blocks of a heap with one address-ordered list (first
/// and next fit) by list key, their address (64-bit keys); `linkOrder` (a
/// `LinkOrderIndex`) holds LIFO lists in link order (those from its `firstIndexedList` on);
/// `sizeIndex` orders the blocks by size, then place on the list (for best and worst fit).
final class BlockHeap {
    /// Which way list keys run along a free list.
    enum ListKeyOrder {
        /// Keys grow from the front of a list to its back (addresses on an address-ordered list).
        case increasing
        /// Keys grow from the back of a list to its front (link numbers on a LIFO list).
        case decreasing
    }

    /// Header plus footer bytes in every block.
    static let tagBytes: UInt64 = 16
    /// Block size granularity in bytes.
    static let alignment: UInt64 = 16
    /// The smallest block in bytes (tags plus a 16-byte payload, the room for two free-list links).
    static let minimumBlockBytes: UInt64 = 32

    /// The block size serving a request of `bytes`.
    @inline(__always) static func blockBytes(for bytes: UInt64) -> UInt64 {
        max(minimumBlockBytes, roundUp(bytes &+ tagBytes, alignment))
    }

    /// The heap's first address.
    let base: UInt64
    /// One past the heap's last byte.
    private(set) var top: UInt64
    /// The largest footprint allowed, in bytes.
    let limitBytes: UInt64

    /// What one block's boundary tags and free-list links hold.
    struct Node {
        /// The block's first address.
        var start: UInt64
        /// Its size in bytes.
        var size: UInt64
        /// The physically adjacent blocks below and above (-1: none).
        var physicalPrevious: Int32
        var physicalNext: Int32
        /// The neighbours on its free list (-1: none, or not free).
        var freePrevious: Int32
        var freeNext: Int32
        /// Its free list (-1: on none).
        var bin: Int32
        /// Whether the block is free.
        var isFree: Bool
    }

    /// The blocks by node number: one record each, so that a block's fields share a cache line.
    private(set) var nodes = UncheckedArray<Node>()
    private var recycledNodes = UncheckedArray<Int32>()

    /// The physically first and last blocks (-1 when the heap is empty).
    private(set) var firstBlock: Int32 = -1
    private(set) var lastBlock: Int32 = -1
    /// The first node of each free list (-1 when empty).
    private(set) var heads: UncheckedArray<Int32>
    /// The last node of each free list (-1 when empty).
    private(set) var tails: UncheckedArray<Int32>
    /// A position in the free lists remembered between searches (next fit); kept valid on unlink.
    var rover: Int32 = -1
    /// Bytes in used blocks.
    private(set) var usedBytes: UInt64 = 0
    /// Bytes in free blocks.
    private(set) var freeBytes: UInt64 = 0
    /// The free blocks of the one list by list key (nil: not kept).
    let listIndex: FreeBlockIndex<UInt64>?
    /// The LIFO lists in link order (nil: not kept).
    let linkOrder: LinkOrderIndex?
    /// The free blocks by size, then place on the list (nil: not kept).
    let sizeIndex: FreeBlockIndex<UInt128>?
    /// The same order as a max-heap, for worst fit (nil: not kept).
    let largestIndex: LargestBlockHeap?
    /// Which way list keys run.
    let listKeys: ListKeyOrder

    /// Creates an empty heap at `base` with `binCount` free lists, indexed by list key and by size
    /// as asked.
    init(
        base: UInt64, binCount: Int, limitBytes: UInt64,
        listIndex: Bool = false, linkOrder: Bool = false, linkOrderFrom firstLinkOrderList: Int = 0, sizeIndex: Bool = false,
        largestIndex: Bool = false, listKeys: ListKeyOrder = .increasing
    ) {
        assert(!linkOrder || listKeys == .decreasing, "link order is for LIFO lists")
        assert(!listIndex || (binCount == 1 && listKeys == .increasing), "the list index is for one address-ordered list")
        self.base = base
        self.top = base
        self.limitBytes = limitBytes
        self.listKeys = listKeys
        self.listIndex = listIndex ? FreeBlockIndex<UInt64>() : nil
        self.linkOrder = linkOrder ? LinkOrderIndex(binCount: binCount, firstIndexedList: firstLinkOrderList) : nil
        self.sizeIndex = sizeIndex ? FreeBlockIndex<UInt128>(sizeOrdered: true) : nil
        self.largestIndex = largestIndex ? LargestBlockHeap() : nil
        heads = UncheckedArray(repeating: -1, count: binCount)
        tails = UncheckedArray(repeating: -1, count: binCount)
    }

    deinit {
        nodes.deallocate()
        for array in [recycledNodes, heads, tails] { array.deallocate() }
    }

    /// Bytes taken from the operating system.
    @inline(__always) var footprintBytes: UInt64 { top &- base }

    private func newNode(start blockStart: UInt64, size blockSize: UInt64) -> Int32 {
        let node = Node(
            start: blockStart, size: blockSize, physicalPrevious: -1, physicalNext: -1,
            freePrevious: -1, freeNext: -1, bin: -1, isFree: false)
        if let recycled = recycledNodes.popLast() {
            nodes[Int(recycled)] = node
            return recycled
        }
        nodes.append(node)
        return Int32(nodes.count - 1)
    }

    // MARK: Free lists

    /// Puts free block `node` on list `bin`, after `previous` (-1: at the head); for a heap without
    /// indexes.
    @inline(__always) func link(_ node: Int32, bin: Int, after previous: Int32) {
        assert(listIndex == nil && sizeIndex == nil, "an indexed heap links by list key")
        linkOnList(node, bin: bin, after: previous)
    }

    /// Puts free block `node` on list `bin` where `listKey` places it, and in the indexes: at the
    /// front of a list whose keys decrease; after the block with the next lower key (found by the
    /// list index) on one whose keys increase. Without a list index a block goes to the front: the
    /// list order is then the size index's alone (best fit reads nothing else).
    @inline(__always) func link(_ node: Int32, bin: Int, listKey: UInt64) {
        let n = Int(node)
        // (Optional chaining, not `if let`: no retain on this path.)
        let before = listIndex?.insert(node, key: listKey, size: nodes[n].size) ?? -1
        linkOrder?.insert(node, onList: bin, size: nodes[n].size)
        sizeIndex?.insert(node, key: sizeKey(size: nodes[n].size, listKey: listKey), size: nodes[n].size)
        largestIndex?.insert(node, key: sizeKey(size: nodes[n].size, listKey: listKey))
        assert(listIndex == nil || bin == 0, "the list index has one list")
        linkOnList(node, bin: bin, after: before)
    }

    /// Puts free block `node` in the place of free block `old` (which leaves its list unless it is
    /// `node`) on the list and in the indexes, under `listKey`, which must keep the place: the
    /// remainder of a split block on an address-ordered list.
    @inline(__always) func replace(_ old: Int32, with node: Int32, listKey: UInt64) {
        let o = Int(old), n = Int(node)
        let bin = Int(nodes[o].bin)
        assert(linkOrder == nil, "a LIFO list has no places to keep")
        listIndex?.replace(old, with: node, key: listKey, size: nodes[n].size)
        sizeIndex?.remove(old)
        sizeIndex?.insert(node, key: sizeKey(size: nodes[n].size, listKey: listKey), size: nodes[n].size)
        largestIndex?.replace(old, with: node, key: sizeKey(size: nodes[n].size, listKey: listKey))
        guard old != node else { return }
        let previous = nodes[o].freePrevious, next = nodes[o].freeNext
        nodes[n].bin = Int32(bin)
        nodes[n].freePrevious = previous
        nodes[n].freeNext = next
        if previous >= 0 { nodes[Int(previous)].freeNext = node } else { heads[bin] = node }
        if next >= 0 { nodes[Int(next)].freePrevious = node } else { tails[bin] = node }
        nodes[o].freePrevious = -1
        nodes[o].freeNext = -1
        nodes[o].bin = -1
        if rover == old { rover = node }
    }

    /// A block's key in the size index: size, then place on its list.
    @inline(__always) private func sizeKey(size: UInt64, listKey: UInt64) -> UInt128 {
        UInt128(size) << 64 | UInt128(listKeys == .increasing ? listKey : ~listKey)
    }

    @inline(__always) private func linkOnList(_ node: Int32, bin: Int, after previous: Int32) {
        let n = Int(node)
        nodes[n].bin = Int32(bin)
        nodes[n].freePrevious = previous
        let next = previous < 0 ? heads[bin] : nodes[Int(previous)].freeNext
        nodes[n].freeNext = next
        if next >= 0 { nodes[Int(next)].freePrevious = node } else { tails[bin] = node }
        if previous < 0 { heads[bin] = node } else { nodes[Int(previous)].freeNext = node }
    }

    /// On a heap indexed by size only (best and worst fit): takes free block `old` off its list and
    /// puts free block `node` on list `bin` under `listKey`, as `unlink` then `link` would, but
    /// changes `old`'s size index entry in place when `node`'s key falls there (a split remainder).
    @inline(__always) func relink(_ old: Int32, as node: Int32, bin: Int, listKey: UInt64) {
        assert(listIndex == nil && linkOrder == nil, "only the size index changes in place")
        let size = nodes[Int(node)].size, key = sizeKey(size: size, listKey: listKey)
        if largestIndex != nil {
            largestIndex?.replace(old, with: node, key: key)
        } else if sizeIndex?.replaceIfInPlace(old, with: node, key: key, size: size) != true {
            unlink(old)
            link(node, bin: bin, listKey: listKey)
            return
        }
        unlinkFromList(old)
        linkOnList(node, bin: bin, after: -1)
    }

    /// Takes `node` off its free list (and out of the indexes).
    @inline(__always) func unlink(_ node: Int32) {
        listIndex?.remove(node)
        linkOrder?.remove(node)
        sizeIndex?.remove(node)
        largestIndex?.remove(node)
        unlinkFromList(node)
    }

    /// Takes `node` off its free list, leaving the indexes alone.
    @inline(__always) private func unlinkFromList(_ node: Int32) {
        let n = Int(node)
        let previous = nodes[n].freePrevious, next = nodes[n].freeNext
        if rover == node { rover = next }
        if previous >= 0 { nodes[Int(previous)].freeNext = next } else { heads[Int(nodes[n].bin)] = next }
        if next >= 0 { nodes[Int(next)].freePrevious = previous } else { tails[Int(nodes[n].bin)] = previous }
        nodes[n].freePrevious = -1
        nodes[n].freeNext = -1
        nodes[n].bin = -1
    }

    // MARK: Placing, splitting, coalescing

    /// Marks free block `node` used for a block of `needed` bytes, splitting off the rest as a new
    /// free block (not linked) when it is at least the minimum block; returns it or -1. The caller
    /// takes `node` off its list (before or after).
    @inline(__always) func place(_ node: Int32, needed: UInt64) -> Int32 {
        let n = Int(node)
        nodes[n].isFree = false
        freeBytes &-= nodes[n].size
        let rest = nodes[n].size &- needed
        guard rest >= Self.minimumBlockBytes else {
            usedBytes &+= nodes[n].size
            return -1
        }
        nodes[n].size = needed
        usedBytes &+= needed
        let remainder = newNode(start: nodes[n].start &+ needed, size: rest)
        let r = Int(remainder)
        nodes[r].isFree = true
        freeBytes &+= rest
        linkPhysically(remainder, between: node, and: nodes[n].physicalNext)
        return remainder
    }

    /// Puts new node `node` in the address chain between `previous` and `next` (-1: the heap's
    /// first or last block).
    private func linkPhysically(_ node: Int32, between previous: Int32, and next: Int32) {
        nodes[Int(node)].physicalPrevious = previous
        nodes[Int(node)].physicalNext = next
        if previous >= 0 { nodes[Int(previous)].physicalNext = node } else { firstBlock = node }
        if next >= 0 { nodes[Int(next)].physicalPrevious = node } else { lastBlock = node }
    }

    /// On a heap with one indexed address-ordered list (first and next fit): takes a used block of
    /// `needed` bytes from the front of free block `node`, and returns it. A rest of at least the
    /// minimum block stays free under `node`, which keeps its list place and index entry (changed
    /// in place to the rest's start and size), while the used block gets a new node: unlike
    /// `place`, neither `node`'s list neighbours nor the index's per-node map are written, records
    /// that are rarely in cache. A smaller rest goes with the block: `node` leaves the list.
    func takeFront(of node: Int32, needed: UInt64) -> Int32 {
        let n = Int(node)
        let rest = nodes[n].size &- needed
        guard rest >= Self.minimumBlockBytes else {
            unlink(node)
            _ = place(node, needed: needed)
            return node
        }
        let start = nodes[n].start
        let used = newNode(start: start, size: needed)
        freeBytes &-= needed
        usedBytes &+= needed
        linkPhysically(used, between: nodes[n].physicalPrevious, and: node)
        nodes[n].start = start &+ needed
        nodes[n].size = rest
        replace(node, with: node, listKey: start &+ needed)
        return used
    }

    /// Marks used block `node` free and merges it with free physical neighbours (taking them off
    /// their lists); returns the merged block, not linked.
    func release(_ node: Int32) -> Int32 {
        var n = Int(node)
        nodes[n].isFree = true
        usedBytes &-= nodes[n].size
        freeBytes &+= nodes[n].size
        let next = nodes[n].physicalNext
        if next >= 0, nodes[Int(next)].isFree {
            unlink(next)
            absorb(next, into: node)
        }
        let previous = nodes[n].physicalPrevious
        if previous >= 0, nodes[Int(previous)].isFree {
            if rover == previous { rover = nodes[Int(previous)].freeNext }
            unlink(previous)
            absorb(node, into: previous)
            n = Int(previous)
        }
        return Int32(n)
    }

    /// Like `release`, on a heap with one indexed address-ordered list (bin 0, list keys the
    /// addresses), and puts the merged block on it: where it merged with a free neighbour it takes
    /// that block's place, changing the indexes in place. Returns the merged block.
    func releaseOntoAddressOrderedList(_ node: Int32) -> Int32 {
        let n = Int(node)
        nodes[n].isFree = true
        usedBytes &-= nodes[n].size
        freeBytes &+= nodes[n].size
        let next = nodes[n].physicalNext, previous = nodes[n].physicalPrevious
        let nextIsFree = next >= 0 && nodes[Int(next)].isFree
        if previous >= 0, nodes[Int(previous)].isFree {
            // The free block below grows over this one (and a free one above) and keeps its place.
            if nextIsFree {
                unlink(next)
                absorb(next, into: node)
            }
            if rover == previous { rover = nodes[Int(previous)].freeNext }
            absorb(node, into: previous)
            replace(previous, with: previous, listKey: nodes[Int(previous)].start)
            return previous
        }
        if nextIsFree {
            // The free block above grows down over this one and keeps its node, list place and
            // index entry: its list neighbours and the index's per-node map are not written.
            // (The rover moves on past it, as when this block took its place.)
            if rover == next { rover = nodes[Int(next)].freeNext }
            let above = Int(next)
            nodes[above].start = nodes[n].start
            nodes[above].size &+= nodes[n].size
            nodes[above].physicalPrevious = previous
            if previous >= 0 { nodes[Int(previous)].physicalNext = next } else { firstBlock = next }
            recycledNodes.append(node)
            replace(next, with: next, listKey: nodes[above].start)
            return next
        }
        link(node, bin: 0, listKey: nodes[n].start)
        return node
    }

    /// Merges block `upper` into its physical predecessor `lower` and recycles `upper`'s node.
    private func absorb(_ upper: Int32, into lower: Int32) {
        let u = Int(upper), l = Int(lower)
        nodes[l].size &+= nodes[u].size
        let next = nodes[u].physicalNext
        nodes[l].physicalNext = next
        if next >= 0 { nodes[Int(next)].physicalPrevious = lower } else { lastBlock = lower }
        if rover == upper { rover = -1 }
        recycledNodes.append(upper)
    }

    /// Grows the heap so that a free block of at least `needed` bytes ends it, reusing a free last
    /// block; returns that block (taken off its list), or -1 when the heap limit forbids it.
    func extend(toFit needed: UInt64) -> Int32 {
        if lastBlock >= 0, nodes[Int(lastBlock)].isFree {
            let last = lastBlock, l = Int(last)
            let growth = needed &- nodes[l].size
            guard footprintBytes &+ growth <= limitBytes else { return -1 }
            unlink(last)
            nodes[l].size &+= growth
            freeBytes &+= growth
            top &+= growth
            return last
        }
        guard footprintBytes &+ needed <= limitBytes else { return -1 }
        let node = newNode(start: top, size: needed)
        let n = Int(node)
        nodes[n].isFree = true
        freeBytes &+= needed
        nodes[n].physicalPrevious = lastBlock
        if lastBlock >= 0 { nodes[Int(lastBlock)].physicalNext = node } else { firstBlock = node }
        lastBlock = node
        top &+= needed
        return node
    }

    // MARK: Views

    /// The largest free block: from an index when there is one, else scanning the lists from the
    /// highest non-empty bin down (bins are in ascending size order, so the first non-empty one from
    /// the top holds the largest).
    func largestFreeBlock() -> UInt64 {
        if let listIndex { return listIndex.largestSize }
        if let sizeIndex { return sizeIndex.largestSize }
        if let largestIndex { return largestIndex.largestSize }
        for bin in stride(from: heads.count - 1, through: 0, by: -1) where heads[bin] >= 0 {
            if let linkOrder, linkOrder.indexes(bin) { return linkOrder.largestSize(onList: bin) }
            var largest: UInt64 = 0
            var node = heads[bin]
            while node >= 0 {
                largest = max(largest, nodes[Int(node)].size)
                node = nodes[Int(node)].freeNext
            }
            return largest
        }
        return 0
    }

    /// Used and free bytes with the largest free block.
    func occupancy() -> HeapOccupancy {
        HeapOccupancy(footprintBytes: footprintBytes, usedBlockBytes: usedBytes, freeBytes: freeBytes, largestFreeBytes: largestFreeBlock())
    }

    /// Every block in address order.
    func snapshot(name: String = "heap") -> HeapSnapshot {
        var blocks: [HeapBlock] = []
        var node = firstBlock
        while node >= 0 {
            let n = Int(node)
            blocks.append(HeapBlock(start: nodes[n].start, bytes: nodes[n].size, kind: nodes[n].isFree ? .free : .used))
            node = nodes[n].physicalNext
        }
        return HeapSnapshot(regions: footprintBytes == 0 ? [] : [HeapRegion(start: base, bytes: footprintBytes, name: name)], blocks: blocks)
    }

    /// The payload address of a used block.
    @inline(__always) func payloadAddress(_ node: Int32) -> UInt64 { nodes[Int(node)].start &+ 8 }

    /// Checks the heap's invariants; `binFor` names the list each free block belongs on (nil: any),
    /// `addressOrdered` says the lists must be sorted by address.
    func checkInvariants(binFor: ((UInt64) -> Int)?, addressOrdered: Bool) {
        var cursor = base, used: UInt64 = 0, free: UInt64 = 0, freeCount = 0
        var node = firstBlock, previous: Int32 = -1
        var previousFree = false
        while node >= 0 {
            let n = Int(node)
            precondition(nodes[n].start == cursor, "blocks are not contiguous at \(cursor)")
            precondition(nodes[n].size >= Self.minimumBlockBytes && nodes[n].size % Self.alignment == 0, "bad block size \(nodes[n].size)")
            precondition(nodes[n].physicalPrevious == previous, "broken physical links")
            if nodes[n].isFree {
                precondition(!previousFree, "two adjacent free blocks at \(nodes[n].start) were not coalesced")
                precondition(nodes[n].bin >= 0, "free block at \(nodes[n].start) is on no list")
                if let binFor { precondition(Int(nodes[n].bin) == binFor(nodes[n].size), "free block of \(nodes[n].size) bytes on the wrong list") }
                free += nodes[n].size
                freeCount += 1
            } else {
                used += nodes[n].size
            }
            previousFree = nodes[n].isFree
            cursor += nodes[n].size
            previous = node
            node = nodes[n].physicalNext
        }
        precondition(previous == lastBlock && cursor == top, "heap top out of step")
        precondition(used == usedBytes && free == freeBytes, "byte counters out of step")
        var listed = 0
        for bin in heads.indices {
            var node = heads[bin], last: UInt64 = 0, back: Int32 = -1
            while node >= 0 {
                let n = Int(node)
                precondition(nodes[n].isFree && Int(nodes[n].bin) == bin && nodes[n].freePrevious == back, "broken free list \(bin)")
                if addressOrdered { precondition(nodes[n].start > last || back < 0, "free list \(bin) is not in address order") }
                last = nodes[n].start
                back = node
                listed += 1
                node = nodes[n].freeNext
            }
            precondition(tails[bin] == back, "free list \(bin) tail out of step")
        }
        precondition(listed == freeCount, "\(freeCount) free blocks but \(listed) listed")
        if let linkOrder {
            linkOrder.checkInvariants()
            var indexed = 0
            for bin in heads.indices where linkOrder.indexes(bin) {
                var listedNodes: [Int32] = []
                var node = heads[bin]
                while node >= 0 {
                    listedNodes.append(node)
                    node = nodes[Int(node)].freeNext
                }
                precondition(linkOrder.nodes(onList: bin) == listedNodes, "link order differs from free list \(bin)")
                indexed += listedNodes.count
            }
            precondition(linkOrder.count == indexed, "\(indexed) free blocks on indexed lists but \(linkOrder.count) indexed")
        }
        /// Checks `index` against the lists; the list index's keys read as bin 0, then list key.
        func check<Key>(_ index: FreeBlockIndex<Key>, isListIndex: Bool) {
            index.checkInvariants()
            precondition(index.count == listed, "\(listed) free blocks listed but \(index.count) indexed")
            for bin in heads.indices {
                var node = heads[bin], previousPlace: UInt64 = 0
                while node >= 0 {
                    precondition(index.contains(node), "free block at \(nodes[Int(node)].start) is not indexed")
                    let key = UInt128(index.key(of: node)), low = UInt64(truncatingIfNeeded: key)
                    precondition(key >> 64 == UInt128(isListIndex ? UInt64(bin) : nodes[Int(node)].size), "free block at \(nodes[Int(node)].start) indexed under a stale bin or size")
                    // The list is in index order unless only the size index orders it.
                    if listIndex != nil || listKeys == .decreasing {
                        let place = low
                        precondition(node == heads[bin] || place > previousPlace, "index order differs from free list \(bin)")
                        previousPlace = place
                    }
                    node = nodes[Int(node)].freeNext
                }
            }
        }
        if let listIndex { check(listIndex, isListIndex: true) }
        if let sizeIndex { check(sizeIndex, isListIndex: false) }
        if let largestIndex {
            largestIndex.checkInvariants()
            precondition(largestIndex.count == listed, "\(listed) free blocks listed but \(largestIndex.count) in the heap")
            for bin in heads.indices {
                var node = heads[bin], previousPlace: UInt64 = 0
                while node >= 0 {
                    precondition(largestIndex.contains(node), "free block at \(nodes[Int(node)].start) is not in the heap")
                    let key = largestIndex.key(of: node), place = UInt64(truncatingIfNeeded: key)
                    precondition(key >> 64 == UInt128(nodes[Int(node)].size), "free block at \(nodes[Int(node)].start) in the heap under a stale size")
                    // A LIFO list runs in place order (newest first).
                    if listKeys == .decreasing {
                        precondition(node == heads[bin] || place > previousPlace, "heap places differ from free list \(bin)")
                        previousPlace = place
                    }
                    node = nodes[Int(node)].freeNext
                }
            }
        }
        precondition(rover < 0 || nodes[Int(rover)].isFree, "next-fit rover on a used block")
    }
}
