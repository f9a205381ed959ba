/// The classic sequential-fit allocators on one explicit free list: first fit, next fit, best fit and
/// worst fit, each with the list kept in address order or in LIFO order (freed blocks at the front).
///
/// Blocks carry boundary tags, are split when the fit is bigger than needed, and merge with free
/// neighbours when freed (see `BlockHeap`). The heap grows at its top when no free block fits and
/// never shrinks.
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
        /// Sorted by address (finding the place walks back along the boundary tags).
        case addressOrdered = "address"
        /// Pushed at the front.
        case lifo
    }

    /// The search policy.
    public let policy: Policy
    /// The free-list order.
    public let ordering: Ordering
    private let heap: BlockHeap

    /// Creates an empty heap at `base` that may grow to `limitBytes`.
    public init(policy: Policy, ordering: Ordering, base: UInt64 = 0x10_0000, limitBytes: UInt64 = .max) {
        self.policy = policy
        self.ordering = ordering
        heap = BlockHeap(base: base, binCount: 1, limitBytes: limitBytes)
    }

    /// `first-fit`, `first-fit-lifo`, ...
    public var name: String { ordering == .lifo ? policy.rawValue + "-lifo" : policy.rawValue }
    /// Bytes of heap taken so far (the heap never shrinks).
    public var footprintBytes: UInt64 { heap.footprintBytes }

    public func allocate(_ bytes: UInt64) -> UInt64? {
        let needed = BlockHeap.blockBytes(for: bytes)
        var node = search(needed)
        var previous: Int32 = -1
        if node >= 0 {
            previous = heap.freePrevious[Int(node)]
            heap.unlink(node)
        } else {
            // The top block is the highest free block: on an address-ordered list it goes last.
            let last = heap.lastBlock
            previous = last >= 0 && heap.isFree[Int(last)] ? heap.freePrevious[Int(last)] : heap.tails[0]
            node = heap.extend(toFit: needed)
            if node < 0 { return nil }
        }
        let remainder = heap.place(node, needed: needed)
        if remainder >= 0 {
            // The remainder takes the block's place on an address-ordered list, the front on a LIFO one.
            heap.link(remainder, bin: 0, after: ordering == .addressOrdered ? previous : -1)
            if policy == .nextFit { heap.rover = remainder }
        }
        return UInt64(node) + 1
    }

    private func search(_ needed: UInt64) -> Int32 {
        switch policy {
        case .firstFit:
            var node = heap.heads[0]
            while node >= 0 {
                if heap.size[Int(node)] >= needed { return node }
                node = heap.freeNext[Int(node)]
            }
            return -1
        case .nextFit:
            let begin = heap.rover >= 0 ? heap.rover : heap.heads[0]
            var node = begin
            while node >= 0 {
                if heap.size[Int(node)] >= needed { return node }
                node = heap.freeNext[Int(node)]
            }
            node = heap.heads[0]
            while node >= 0, node != begin {
                if heap.size[Int(node)] >= needed { return node }
                node = heap.freeNext[Int(node)]
            }
            return -1
        case .bestFit, .worstFit:
            var node = heap.heads[0], chosen: Int32 = -1, chosenSize: UInt64 = 0
            while node >= 0 {
                let s = heap.size[Int(node)]
                if s >= needed {
                    if chosen < 0 || (policy == .bestFit ? s < chosenSize : s > chosenSize) {
                        chosen = node
                        chosenSize = s
                        if policy == .bestFit, s == needed { break }
                    }
                }
                node = heap.freeNext[Int(node)]
            }
            return chosen
        }
    }

    public func free(_ handle: UInt64, requestedBytes: UInt64) {
        let merged = heap.release(Int32(handle - 1))
        heap.link(merged, bin: 0, after: ordering == .addressOrdered ? heap.previousFreeBlock(before: merged) : -1)
    }

    public func occupancy() -> HeapOccupancy { heap.occupancy() }
    public func snapshot() -> HeapSnapshot { heap.snapshot() }
    public func address(of handle: UInt64) -> UInt64 { heap.payloadAddress(Int32(handle - 1)) }
    public func checkInvariants() { heap.checkInvariants(binFor: { _ in 0 }, addressOrdered: ordering == .addressOrdered) }
}

/// Segregated free lists ("segregated fits", as in glibc's bins): one LIFO list per power-of-two size
/// class (32-63 bytes, 64-127, ...), first fit within the request's class and then in larger classes;
/// blocks split and coalesce as in `BlockHeap`.
public final class SegregatedFitAllocator: AllocatorModel {
    /// The number of size classes; the last holds every larger block.
    public static let classCount = 24
    private let heap: BlockHeap

    /// Creates an empty heap at `base` that may grow to `limitBytes`.
    public init(base: UInt64 = 0x10_0000, limitBytes: UInt64 = .max) {
        heap = BlockHeap(base: base, binCount: Self.classCount, limitBytes: limitBytes)
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
        var sizeClass = Self.sizeClass(needed)
        while sizeClass < Self.classCount, found < 0 {
            var node = heap.heads[sizeClass]
            while node >= 0 {
                if heap.size[Int(node)] >= needed { found = node; break }
                node = heap.freeNext[Int(node)]
            }
            sizeClass += 1
        }
        if found >= 0 {
            heap.unlink(found)
        } else {
            found = heap.extend(toFit: needed)
            if found < 0 { return nil }
        }
        let remainder = heap.place(found, needed: needed)
        if remainder >= 0 { heap.link(remainder, bin: Self.sizeClass(heap.size[Int(remainder)]), after: -1) }
        return UInt64(found) + 1
    }

    public func free(_ handle: UInt64, requestedBytes: UInt64) {
        let merged = heap.release(Int32(handle - 1))
        heap.link(merged, bin: Self.sizeClass(heap.size[Int(merged)]), after: -1)
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
        let (f, s) = Self.mapping(heap.size[Int(node)])
        heap.link(node, bin: f << Self.secondLevelBits | s, after: -1)
        firstLevelMap |= 1 << UInt64(f)
        secondLevelMaps[f] |= 1 << UInt32(s)
    }

    private func remove(_ node: Int32) {
        let bin = Self.bin(heap.size[Int(node)])
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
        let next = heap.physicalNext[Int(node)], previous = heap.physicalPrevious[Int(node)]
        let nextBin = next >= 0 && heap.isFree[Int(next)] ? Self.bin(heap.size[Int(next)]) : -1
        let previousBin = previous >= 0 && heap.isFree[Int(previous)] ? Self.bin(heap.size[Int(previous)]) : -1
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
