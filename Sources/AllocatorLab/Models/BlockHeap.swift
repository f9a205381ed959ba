/// The mechanics shared by the free-list models: one contiguous heap that grows at its top (like
/// `sbrk`), cut into blocks that carry boundary tags (an 8-byte header and an 8-byte footer, so a
/// freed block finds its physical neighbours in O(1) and merges with them), with blocks split when
/// a fit is larger than needed and free blocks kept on doubly linked lists ("bins").
///
/// Block sizes are multiples of 16 bytes, 32 at least; a payload starts 8 bytes into its block.
/// Blocks are nodes in parallel arrays; physical links stand for what the boundary tags give.
final class BlockHeap {
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

    // Node fields (index = node number).
    private(set) var start: [UInt64] = []
    private(set) var size: [UInt64] = []
    private(set) var isFree: [Bool] = []
    private(set) var physicalPrevious: [Int32] = []
    private(set) var physicalNext: [Int32] = []
    private(set) var freePrevious: [Int32] = []
    private(set) var freeNext: [Int32] = []
    private(set) var binOf: [Int32] = []
    private var recycledNodes: [Int32] = []

    /// The physically first and last blocks (-1 when the heap is empty).
    private(set) var firstBlock: Int32 = -1
    private(set) var lastBlock: Int32 = -1
    /// The first node of each free list (-1 when empty).
    private(set) var heads: [Int32]
    /// The last node of each free list (-1 when empty).
    private(set) var tails: [Int32]
    /// A position in the free lists remembered between searches (next fit); kept valid on unlink.
    var rover: Int32 = -1
    /// Bytes in used blocks.
    private(set) var usedBytes: UInt64 = 0
    /// Bytes in free blocks.
    private(set) var freeBytes: UInt64 = 0

    /// Creates an empty heap at `base` with `binCount` free lists.
    init(base: UInt64, binCount: Int, limitBytes: UInt64) {
        self.base = base
        self.top = base
        self.limitBytes = limitBytes
        heads = [Int32](repeating: -1, count: binCount)
        tails = [Int32](repeating: -1, count: binCount)
    }

    /// Bytes taken from the operating system.
    @inline(__always) var footprintBytes: UInt64 { top &- base }

    private func newNode(start blockStart: UInt64, size blockSize: UInt64) -> Int32 {
        if let node = recycledNodes.popLast() {
            let i = Int(node)
            start[i] = blockStart
            size[i] = blockSize
            isFree[i] = false
            physicalPrevious[i] = -1
            physicalNext[i] = -1
            freePrevious[i] = -1
            freeNext[i] = -1
            binOf[i] = -1
            return node
        }
        start.append(blockStart)
        size.append(blockSize)
        isFree.append(false)
        physicalPrevious.append(-1)
        physicalNext.append(-1)
        freePrevious.append(-1)
        freeNext.append(-1)
        binOf.append(-1)
        return Int32(start.count - 1)
    }

    // MARK: Free lists

    /// Puts free block `node` on list `bin`, after `previous` (-1: at the head).
    @inline(__always) func link(_ node: Int32, bin: Int, after previous: Int32) {
        let n = Int(node)
        binOf[n] = Int32(bin)
        freePrevious[n] = previous
        let next = previous < 0 ? heads[bin] : freeNext[Int(previous)]
        freeNext[n] = next
        if next >= 0 { freePrevious[Int(next)] = node } else { tails[bin] = node }
        if previous < 0 { heads[bin] = node } else { freeNext[Int(previous)] = node }
    }

    /// Takes `node` off its free list.
    @inline(__always) func unlink(_ node: Int32) {
        let n = Int(node)
        let previous = freePrevious[n], next = freeNext[n]
        if rover == node { rover = next }
        if previous >= 0 { freeNext[Int(previous)] = next } else { heads[Int(binOf[n])] = next }
        if next >= 0 { freePrevious[Int(next)] = previous } else { tails[Int(binOf[n])] = previous }
        freePrevious[n] = -1
        freeNext[n] = -1
        binOf[n] = -1
    }

    /// The nearest free block below `node` in address order (walking the boundary tags), or -1.
    func previousFreeBlock(before node: Int32) -> Int32 {
        var p = physicalPrevious[Int(node)]
        while p >= 0, !isFree[Int(p)] { p = physicalPrevious[Int(p)] }
        return p
    }

    // MARK: Placing, splitting, coalescing

    /// Marks free block `node` (already unlinked) used for a block of `needed` bytes, splitting off
    /// the rest as a new free block (not linked) when it is at least the minimum block; returns it or -1.
    @inline(__always) func place(_ node: Int32, needed: UInt64) -> Int32 {
        let n = Int(node)
        isFree[n] = false
        freeBytes &-= size[n]
        let rest = size[n] &- needed
        guard rest >= Self.minimumBlockBytes else {
            usedBytes &+= size[n]
            return -1
        }
        size[n] = needed
        usedBytes &+= needed
        let remainder = newNode(start: start[n] &+ needed, size: rest)
        let r = Int(remainder)
        isFree[r] = true
        freeBytes &+= rest
        let next = physicalNext[n]
        physicalPrevious[r] = node
        physicalNext[r] = next
        physicalNext[n] = remainder
        if next >= 0 { physicalPrevious[Int(next)] = remainder } else { lastBlock = remainder }
        return remainder
    }

    /// Marks used block `node` free and merges it with free physical neighbours (taking them off
    /// their lists); returns the merged block, not linked.
    func release(_ node: Int32) -> Int32 {
        var n = Int(node)
        isFree[n] = true
        usedBytes &-= size[n]
        freeBytes &+= size[n]
        let next = physicalNext[n]
        if next >= 0, isFree[Int(next)] {
            unlink(next)
            absorb(next, into: node)
        }
        let previous = physicalPrevious[n]
        if previous >= 0, isFree[Int(previous)] {
            if rover == previous { rover = freeNext[Int(previous)] }
            unlink(previous)
            absorb(node, into: previous)
            n = Int(previous)
        }
        return Int32(n)
    }

    /// Merges block `upper` into its physical predecessor `lower` and recycles `upper`'s node.
    private func absorb(_ upper: Int32, into lower: Int32) {
        let u = Int(upper), l = Int(lower)
        size[l] &+= size[u]
        let next = physicalNext[u]
        physicalNext[l] = next
        if next >= 0 { physicalPrevious[Int(next)] = lower } else { lastBlock = lower }
        if rover == upper { rover = -1 }
        recycledNodes.append(upper)
    }

    /// Grows the heap so that a free block of at least `needed` bytes ends it, reusing a free last
    /// block; returns that block (taken off its list), or -1 when the heap limit forbids it.
    func extend(toFit needed: UInt64) -> Int32 {
        if lastBlock >= 0, isFree[Int(lastBlock)] {
            let last = lastBlock, l = Int(last)
            let growth = needed &- size[l]
            guard footprintBytes &+ growth <= limitBytes else { return -1 }
            unlink(last)
            size[l] &+= growth
            freeBytes &+= growth
            top &+= growth
            return last
        }
        guard footprintBytes &+ needed <= limitBytes else { return -1 }
        let node = newNode(start: top, size: needed)
        let n = Int(node)
        isFree[n] = true
        freeBytes &+= needed
        physicalPrevious[n] = lastBlock
        if lastBlock >= 0 { physicalNext[Int(lastBlock)] = node } else { firstBlock = node }
        lastBlock = node
        top &+= needed
        return node
    }

    // MARK: Views

    /// The largest free block, scanning the lists from the highest non-empty bin down (bins are in
    /// ascending size order, so the first non-empty one from the top holds the largest).
    func largestFreeBlock() -> UInt64 {
        for bin in stride(from: heads.count - 1, through: 0, by: -1) where heads[bin] >= 0 {
            var largest: UInt64 = 0
            var node = heads[bin]
            while node >= 0 {
                largest = max(largest, size[Int(node)])
                node = freeNext[Int(node)]
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
            blocks.append(HeapBlock(start: start[n], bytes: size[n], kind: isFree[n] ? .free : .used))
            node = physicalNext[n]
        }
        return HeapSnapshot(regions: footprintBytes == 0 ? [] : [HeapRegion(start: base, bytes: footprintBytes, name: name)], blocks: blocks)
    }

    /// The payload address of a used block.
    @inline(__always) func payloadAddress(_ node: Int32) -> UInt64 { start[Int(node)] &+ 8 }

    /// Checks the heap's invariants; `binFor` names the list each free block belongs on (nil: any),
    /// `addressOrdered` says the lists must be sorted by address.
    func checkInvariants(binFor: ((UInt64) -> Int)?, addressOrdered: Bool) {
        var cursor = base, used: UInt64 = 0, free: UInt64 = 0, freeCount = 0
        var node = firstBlock, previous: Int32 = -1
        var previousFree = false
        while node >= 0 {
            let n = Int(node)
            precondition(start[n] == cursor, "blocks are not contiguous at \(cursor)")
            precondition(size[n] >= Self.minimumBlockBytes && size[n] % Self.alignment == 0, "bad block size \(size[n])")
            precondition(physicalPrevious[n] == previous, "broken physical links")
            if isFree[n] {
                precondition(!previousFree, "two adjacent free blocks at \(start[n]) were not coalesced")
                precondition(binOf[n] >= 0, "free block at \(start[n]) is on no list")
                if let binFor { precondition(Int(binOf[n]) == binFor(size[n]), "free block of \(size[n]) bytes on the wrong list") }
                free += size[n]
                freeCount += 1
            } else {
                used += size[n]
            }
            previousFree = isFree[n]
            cursor += size[n]
            previous = node
            node = physicalNext[n]
        }
        precondition(previous == lastBlock && cursor == top, "heap top out of step")
        precondition(used == usedBytes && free == freeBytes, "byte counters out of step")
        var listed = 0
        for bin in heads.indices {
            var node = heads[bin], last: UInt64 = 0, back: Int32 = -1
            while node >= 0 {
                let n = Int(node)
                precondition(isFree[n] && Int(binOf[n]) == bin && freePrevious[n] == back, "broken free list \(bin)")
                if addressOrdered { precondition(start[n] > last || back < 0, "free list \(bin) is not in address order") }
                last = start[n]
                back = node
                listed += 1
                node = freeNext[n]
            }
            precondition(tails[bin] == back, "free list \(bin) tail out of step")
        }
        precondition(listed == freeCount, "\(freeCount) free blocks but \(listed) listed")
        precondition(rover < 0 || isFree[Int(rover)], "next-fit rover on a used block")
    }
}
