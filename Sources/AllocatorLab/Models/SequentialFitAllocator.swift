/// The classic sequential-fit allocators on one explicit free list: first fit, next fit, best fit and
/// worst fit, each with the list kept in address order or in LIFO order (freed blocks at the front).
///
/// Blocks carry boundary tags, are split when the fit is bigger than needed, and merge with free
/// neighbours when freed (see `BlockHeap`). The heap grows at its top when no free block fits and
/// never shrinks.
///
/// The searches read a `FreeBlockIndex` that shadows the list (in list order; by size for best fit)
/// instead of walking it: the block chosen is the one the walk would choose, found without the walk.
public final class SequentialFitAllocator: AllocatorModel {
    /// Which free block serves a request.
    public enum Policy: String, CaseIterable, Sendable {
        /// The first block on the list that is big enough.
        case firstFit = "first-fit"
        /// Like first fit, but the search starts where the previous one stopped.
        case nextFit = "next-fit"
        /// The smallest block that is big enough (first such on the list on ties).
        case bestFit = "best-fit"
        /// The largest block.
        case worstFit = "worst-fit"
    }

    /// How freed blocks go on the list.
    public enum Ordering: String, CaseIterable, Sendable {
        /// Sorted by address.
        case addressOrdered = "address"
        /// Pushed at the front.
        case lifo
    }

    /// The search policy.
    public let policy: Policy
    /// The free-list order.
    public let ordering: Ordering
    private let heap: BlockHeap
    /// Whether the list itself is kept in address order (best fit's order lives in its size index).
    private let keepsAddressOrder: Bool
    /// Blocks put on a LIFO list so far (a block's list key there is its link number: newest first).
    private var links: UInt64 = 0

    /// Creates an empty heap at `base` that may grow to `limitBytes`.
    public init(policy: Policy, ordering: Ordering, base: UInt64 = 0x10_0000, limitBytes: UInt64 = .max) {
        self.policy = policy
        self.ordering = ordering
        keepsAddressOrder = ordering == .addressOrdered && policy != .bestFit
        // Best fit searches by size, and among equal sizes by list place (address, or newest
        // first): that order is all it reads, so its list itself need not be kept in order. The
        // others search in list order.
        heap = BlockHeap(
            base: base, binCount: 1, limitBytes: limitBytes,
            listIndex: keepsAddressOrder, linkOrder: ordering == .lifo && policy != .bestFit, sizeIndex: policy == .bestFit,
            listKeys: ordering == .addressOrdered ? .increasing : .decreasing)
    }

    /// `first-fit`, `first-fit-lifo`, ...
    public var name: String { ordering == .lifo ? policy.rawValue + "-lifo" : policy.rawValue }
    /// Bytes of heap taken so far (the heap never shrinks).
    public var footprintBytes: UInt64 { heap.footprintBytes }

    public func allocate(_ bytes: UInt64) -> UInt64? {
        let needed = BlockHeap.blockBytes(for: bytes)
        let found = search(needed)
        // No fit: the heap grows (a free top block grows and leaves the list).
        let node = found >= 0 ? found : heap.extend(toFit: needed)
        guard node >= 0 else { return nil }
        let remainder = heap.place(node, needed: needed)
        if found >= 0, remainder >= 0, keepsAddressOrder {
            // A split block's remainder takes its place on an address-ordered list...
            heap.replace(found, with: remainder, listKey: heap.nodes[Int(remainder)].start)
        } else {
            // ...else it goes on as a freed block would.
            if found >= 0 { heap.unlink(found) }
            if remainder >= 0 { addFree(remainder) }
        }
        if remainder >= 0, policy == .nextFit { heap.rover = remainder }
        return UInt64(node) + 1
    }

    /// The free block the policy picks for `needed` bytes, or -1: what walking the list gives.
    private func search(_ needed: UInt64) -> Int32 {
        switch policy {
        case .firstFit:
            return firstOnList(atLeast: needed, from: -1)
        case .nextFit:
            // From the rover to the back of the list, then from the front.
            if heap.rover >= 0 {
                let node = firstOnList(atLeast: needed, from: heap.rover)
                if node >= 0 { return node }
            }
            return firstOnList(atLeast: needed, from: -1)
        case .bestFit:
            // The smallest big enough, the first on the list among equals.
            return heap.sizeIndex!.firstFit(atLeast: needed, from: UInt128(needed) << 64)
        case .worstFit:
            // The largest, the first on the list among equals.
            let largest = heap.largestFreeBlock()
            return largest >= needed ? firstOnList(atLeast: largest, from: -1) : -1
        }
    }

    /// The first block on the list, from block `node` on (-1: from the front), of `needed` bytes or
    /// more, or -1. List keys grow towards the back of an address-ordered list, the front of a LIFO one.
    private func firstOnList(atLeast needed: UInt64, from node: Int32) -> Int32 {
        if ordering == .addressOrdered {
            return heap.listIndex!.firstFit(atLeast: needed, from: node < 0 ? 0 : heap.listIndex!.key(of: node))
        }
        return heap.linkOrder!.firstFit(onList: 0, atLeast: needed, from: node)
    }

    /// Puts free block `node` on the list: at its address place on an address-ordered list, at the
    /// front of a LIFO one (and of best fit's, whose order is its size index's).
    private func addFree(_ node: Int32) {
        if ordering == .addressOrdered {
            heap.link(node, bin: 0, listKey: heap.nodes[Int(node)].start)
        } else {
            links &+= 1
            heap.link(node, bin: 0, listKey: links)
        }
    }

    public func free(_ handle: UInt64, requestedBytes: UInt64) {
        let node = Int32(handle - 1)
        if keepsAddressOrder {
            _ = heap.releaseOntoAddressOrderedList(node)
        } else {
            addFree(heap.release(node))
        }
    }

    public func occupancy() -> HeapOccupancy { heap.occupancy() }
    public func snapshot() -> HeapSnapshot { heap.snapshot() }
    public func address(of handle: UInt64) -> UInt64 { heap.payloadAddress(Int32(handle - 1)) }
    public func checkInvariants() {
        heap.checkInvariants(binFor: { _ in 0 }, addressOrdered: keepsAddressOrder)
        guard ordering == .addressOrdered else { return }
        let index = heap.listIndex ?? heap.sizeIndex!
        var node = heap.heads[0]
        while node >= 0 {
            precondition(UInt64(truncatingIfNeeded: index.key(of: node)) == heap.nodes[Int(node)].start, "address-ordered list key is not the address")
            node = heap.nodes[Int(node)].freeNext
        }
    }
}

/// Segregated free lists ("segregated fits", as in glibc's bins): one LIFO list per power-of-two size
/// class (32-63 bytes, 64-127, ...), first fit within the request's class and then in larger classes;
/// blocks split and coalesce as in `BlockHeap`.
///
/// The search reads a `FreeBlockIndex` ordered by class, then list position, instead of walking the
/// lists: the first big enough block from the request's class on is the one the walk would find.
public final class SegregatedFitAllocator: AllocatorModel {
    /// The number of size classes; the last holds every larger block.
    public static let classCount = 24
    private let heap: BlockHeap
    /// Blocks put on a list so far (a block's list key is its link number: newest first).
    private var links: UInt64 = 0

    /// Creates an empty heap at `base` that may grow to `limitBytes`.
    public init(base: UInt64 = 0x10_0000, limitBytes: UInt64 = .max) {
        heap = BlockHeap(base: base, binCount: Self.classCount, limitBytes: limitBytes, linkOrder: true, listKeys: .decreasing)
    }

    /// `segregated`.
    public var name: String { "segregated" }
    /// Bytes of heap taken so far.
    public var footprintBytes: UInt64 { heap.footprintBytes }

    /// The list a free block of `blockBytes` belongs on.
    @inline(__always) static func sizeClass(_ blockBytes: UInt64) -> Int { min(log2Floor(blockBytes) - 5, classCount - 1) }

    public func allocate(_ bytes: UInt64) -> UInt64? {
        let needed = BlockHeap.blockBytes(for: bytes)
        var found: Int32 = -1
        for sizeClass in Self.sizeClass(needed) ..< Self.classCount where heap.heads[sizeClass] >= 0 {
            found = firstOnList(sizeClass, atLeast: needed)
            if found >= 0 { break }
        }
        if found >= 0 {
            heap.unlink(found)
        } else {
            found = heap.extend(toFit: needed)
            if found < 0 { return nil }
        }
        let remainder = heap.place(found, needed: needed)
        if remainder >= 0 { addFree(remainder) }
        return UInt64(found) + 1
    }

    /// The first block on list `sizeClass` of `needed` bytes or more, or -1.
    private func firstOnList(_ sizeClass: Int, atLeast needed: UInt64) -> Int32 {
        heap.linkOrder!.firstFit(onList: sizeClass, atLeast: needed, from: -1)
    }

    /// Puts free block `node` at the front of its class's list.
    private func addFree(_ node: Int32) {
        links &+= 1
        heap.link(node, bin: Self.sizeClass(heap.nodes[Int(node)].size), listKey: links)
    }

    public func free(_ handle: UInt64, requestedBytes: UInt64) {
        addFree(heap.release(Int32(handle - 1)))
    }

    public func occupancy() -> HeapOccupancy { heap.occupancy() }
    public func snapshot() -> HeapSnapshot { heap.snapshot() }
    public func address(of handle: UInt64) -> UInt64 { heap.payloadAddress(Int32(handle - 1)) }
    public func checkInvariants() { heap.checkInvariants(binFor: Self.sizeClass, addressOrdered: false) }
}

/// Two-Level Segregated Fit (Masmano et al.): free lists indexed by a first level (power of two) and
/// 16 second-level subdivisions, found through two bitmaps in O(1); a request is rounded up to the next
/// list boundary so that any block on the list found fits ("good fit"). Immediate coalescing.
public final class TLSFAllocator: AllocatorModel {
    /// log2 of the second-level lists per first level.
    static let secondLevelBits = 4
    /// Sizes below this (256 bytes) map linearly onto first level 0, in 16-byte steps.
    static let smallBlockBytes: UInt64 = 1 << (secondLevelBits + 4)
    /// First levels kept.
    static let firstLevelCount = 40
    private let heap: BlockHeap
    private var firstLevelMap: UInt64 = 0
    private var secondLevelMaps = [UInt32](repeating: 0, count: TLSFAllocator.firstLevelCount)

    /// Creates an empty heap at `base` that may grow to `limitBytes`.
    public init(base: UInt64 = 0x10_0000, limitBytes: UInt64 = .max) {
        heap = BlockHeap(base: base, binCount: Self.firstLevelCount << Self.secondLevelBits, limitBytes: limitBytes)
    }

    /// `tlsf`.
    public var name: String { "tlsf" }
    /// Bytes of heap taken so far.
    public var footprintBytes: UInt64 { heap.footprintBytes }

    /// The (first, second) level of a free block of `bytes`: TLSF's `mapping_insert`.
    @inline(__always) static func mapping(_ bytes: UInt64) -> (first: Int, second: Int) {
        if bytes < smallBlockBytes { return (0, Int(bytes >> 4)) }
        let log = log2Floor(bytes)
        return (log - (secondLevelBits + 4) + 1, Int((bytes >> UInt64(log - secondLevelBits)) ^ (1 << UInt64(secondLevelBits))))
    }

    @inline(__always) static func bin(_ bytes: UInt64) -> Int {
        let (f, s) = mapping(bytes)
        return f << secondLevelBits | s
    }

    public func allocate(_ bytes: UInt64) -> UInt64? {
        let needed = BlockHeap.blockBytes(for: bytes)
        // mapping_search: round up so that every block on the list found is big enough.
        var rounded = needed
        if needed >= Self.smallBlockBytes { rounded = needed &+ (1 << UInt64(log2Floor(needed) - Self.secondLevelBits)) &- 1 }
        var (f, s) = Self.mapping(rounded)
        var node: Int32 = -1
        if f < Self.firstLevelCount {
            var secondMap = secondLevelMaps[f] & (~UInt32(0) << UInt32(s))
            if secondMap == 0 {
                let firstMap = f + 1 < 64 ? firstLevelMap & (~UInt64(0) << UInt64(f + 1)) : 0
                if firstMap != 0 {
                    f = firstMap.trailingZeroBitCount
                    secondMap = secondLevelMaps[f]
                }
            }
            if secondMap != 0 {
                s = secondMap.trailingZeroBitCount
                node = heap.heads[f << Self.secondLevelBits | s]
            }
        }
        if node >= 0 {
            remove(node)
        } else {
            node = heap.extend(toFit: needed)
            if node < 0 { return nil }
            clearBitsIfEmpty()
        }
        let remainder = heap.place(node, needed: needed)
        if remainder >= 0 { insert(remainder) }
        return UInt64(node) + 1
    }

    private func insert(_ node: Int32) {
        let (f, s) = Self.mapping(heap.nodes[Int(node)].size)
        heap.link(node, bin: f << Self.secondLevelBits | s, after: -1)
        firstLevelMap |= 1 << UInt64(f)
        secondLevelMaps[f] |= 1 << UInt32(s)
    }

    private func remove(_ node: Int32) {
        let bin = Self.bin(heap.nodes[Int(node)].size)
        heap.unlink(node)
        if heap.heads[bin] < 0 { clearBit(bin) }
    }

    private func clearBit(_ bin: Int) {
        let f = bin >> Self.secondLevelBits, s = bin & ((1 << Self.secondLevelBits) - 1)
        secondLevelMaps[f] &= ~(1 << UInt32(s))
        if secondLevelMaps[f] == 0 { firstLevelMap &= ~(1 << UInt64(f)) }
    }

    /// After `BlockHeap` unlinked blocks itself (extending a free last block, merging neighbours),
    /// clears the bits of lists that became empty.
    private func clearBitsIfEmpty() {
        var map = firstLevelMap
        while map != 0 {
            let f = map.trailingZeroBitCount
            map &= map - 1
            var second = secondLevelMaps[f]
            while second != 0 {
                let s = second.trailingZeroBitCount
                second &= second - 1
                if heap.heads[f << Self.secondLevelBits | s] < 0 { clearBit(f << Self.secondLevelBits | s) }
            }
        }
    }

    public func free(_ handle: UInt64, requestedBytes: UInt64) {
        let node = Int32(handle - 1)
        // Neighbours leave their lists inside `release`; note their bins to clear emptied bits.
        let next = heap.nodes[Int(node)].physicalNext, previous = heap.nodes[Int(node)].physicalPrevious
        let nextBin = next >= 0 && heap.nodes[Int(next)].isFree ? Self.bin(heap.nodes[Int(next)].size) : -1
        let previousBin = previous >= 0 && heap.nodes[Int(previous)].isFree ? Self.bin(heap.nodes[Int(previous)].size) : -1
        let merged = heap.release(node)
        if nextBin >= 0, heap.heads[nextBin] < 0 { clearBit(nextBin) }
        if previousBin >= 0, heap.heads[previousBin] < 0 { clearBit(previousBin) }
        insert(merged)
    }

    public func occupancy() -> HeapOccupancy { heap.occupancy() }
    public func snapshot() -> HeapSnapshot { heap.snapshot() }
    public func address(of handle: UInt64) -> UInt64 { heap.payloadAddress(Int32(handle - 1)) }
    public func checkInvariants() {
        heap.checkInvariants(binFor: Self.bin, addressOrdered: false)
        for bin in heap.heads.indices {
            let f = bin >> Self.secondLevelBits, s = bin & ((1 << Self.secondLevelBits) - 1)
            let bit = secondLevelMaps[f] & (1 << UInt32(s)) != 0
            precondition(bit == (heap.heads[bin] >= 0), "TLSF bitmap out of step for list (\(f), \(s))")
        }
        for f in 0..<Self.firstLevelCount {
            precondition((firstLevelMap & (1 << UInt64(f)) != 0) == (secondLevelMaps[f] != 0), "TLSF first-level bitmap out of step")
        }
    }
}
