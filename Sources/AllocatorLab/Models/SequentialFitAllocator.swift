/// The classic sequential-fit allocators on one explicit free list: first fit, next fit, best fit and
/// worst fit, each with the list kept in address order or in LIFO order (freed blocks at the front).
///
/// Blocks carry boundary tags, are split when the fit is bigger than needed, and merge with free
/// neighbours when freed (see `BlockHeap`). The heap grows at its top when no free block fits and
/// never shrinks.
///
/// The searches read an index that shadows the list instead of walking it: a `FreeBlockIndex` in
/// address order (address-ordered first and next fit), a `LinkOrderIndex` in link order (LIFO first
/// and next fit), a `FreeBlockIndex` by size, then list place (best fit), or a `LargestBlockHeap`
/// in that order (worst fit, which reads only the largest). The block
/// chosen is the one the walk would choose, found without the walk.
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
    /// Whether the list itself is kept in address order (best and worst fit's order lives in their
    /// size index).
    private let keepsAddressOrder: Bool
    /// Whether the search reads a size index (best and worst fit).
    private let bySize: Bool
    /// Blocks put on a LIFO list so far (a block's list key there is its link number: newest first).
    private var links: UInt64 = 0

    /// Creates an empty heap at `base` that may grow to `limitBytes`.
    public init(policy: Policy, ordering: Ordering, base: UInt64 = 0x10_0000, limitBytes: UInt64 = .max) {
        self.policy = policy
        self.ordering = ordering
        // Best and worst fit search by size, and among equal sizes by list place (address, or
        // newest first): that order is all they read, so their list itself need not be kept in
        // order. First and next fit search in list order.
        bySize = policy == .bestFit || policy == .worstFit
        keepsAddressOrder = ordering == .addressOrdered && !bySize
        heap = BlockHeap(
            base: base, binCount: 1, limitBytes: limitBytes,
            listIndex: keepsAddressOrder, linkOrder: ordering == .lifo && !bySize,
            sizeIndex: policy == .bestFit, largestIndex: policy == .worstFit,
            listKeys: ordering == .addressOrdered ? .increasing : .decreasing)
    }

    /// `first-fit`, `first-fit-lifo`, ...
    public var name: String { ordering == .lifo ? policy.rawValue + "-lifo" : policy.rawValue }
    /// Bytes of heap taken so far (the heap never shrinks).
    public var footprintBytes: UInt64 { heap.footprintBytes }

    public func allocate(_ bytes: UInt64) -> UInt64? {
        let needed = BlockHeap.blockBytes(for: bytes)
        let found = search(needed)
        if found >= 0, keepsAddressOrder {
            // A split block's rest keeps its node and place on the address-ordered list.
            let used = heap.takeFront(of: found, needed: needed)
            if policy == .nextFit, used != found { heap.rover = found }
            return UInt64(used) + 1
        }
        // No fit: the heap grows (a free top block grows and leaves the list).
        let node = found >= 0 ? found : heap.extend(toFit: needed)
        guard node >= 0 else { return nil }
        let remainder = heap.place(node, needed: needed)
        if found >= 0, remainder >= 0, bySize {
            // A split block's remainder takes its block's entry in best and worst fit's size
            // index where it can...
            heap.relink(found, as: remainder, bin: 0, listKey: newListKey(remainder))
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
            // The smallest big enough, the first on the list among equals: the first block in the
            // size index's order that is big enough (found from the size summaries, without binary
            // searches of 128-bit keys for `needed << 64`).
            return heap.sizeIndex!.firstFit(atLeast: needed)
        case .worstFit:
            // The largest, the first on the list among equals: the top of its heap.
            return heap.largestIndex!.largestSize >= needed ? heap.largestIndex!.top : -1
        }
    }

    /// The first block on the list, from block `node` on (-1: from the front), of `needed` bytes or
    /// more, or -1. List keys grow towards the back of an address-ordered list, the front of a LIFO one.
    private func firstOnList(atLeast needed: UInt64, from node: Int32) -> Int32 {
        if ordering == .addressOrdered {
            return node < 0 ? heap.listIndex!.firstFit(atLeast: needed) : heap.listIndex!.firstFit(atLeast: needed, fromNode: node)
        }
        return heap.linkOrder!.firstFit(onList: 0, atLeast: needed, from: node)
    }

    /// Puts free block `node` on the list: at its address place on an address-ordered list, at the
    /// front of a LIFO one (and of best and worst fit's, whose order is their size index's).
    private func addFree(_ node: Int32) {
        heap.link(node, bin: 0, listKey: newListKey(node))
    }

    /// The list key of free block `node`, going on the list: its address, or on a LIFO list the next
    /// link number.
    @inline(__always) private func newListKey(_ node: Int32) -> UInt64 {
        if ordering == .addressOrdered { return heap.nodes[Int(node)].start }
        links &+= 1
        return links
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
        var node = heap.heads[0]
        while node >= 0 {
            let key = heap.listIndex.map { UInt128($0.key(of: node)) } ?? heap.sizeIndex?.key(of: node) ?? heap.largestIndex!.key(of: node)
            precondition(UInt64(truncatingIfNeeded: key) == heap.nodes[Int(node)].start, "address-ordered list key is not the address")
            node = heap.nodes[Int(node)].freeNext
        }
    }
}

/// Segregated free lists ("segregated fits", as in glibc's bins): one LIFO list per power-of-two size
/// class (32-63 bytes, 64-127, ...), first fit within the request's class and then in larger classes;
/// blocks split and coalesce as in `BlockHeap`.
///
/// The policy's lists are not walked. Any block of a larger class than the request's fits, so there
/// the search takes the front of the first non-empty class. In the request's own class it needs the
/// newest block that is big enough. Small classes (blocks under `exactListLimit` bytes) are kept as
/// one LIFO list per exact size, and a class's list is those lists merged by link number: the newest
/// big enough block is the newest of the fronts of the lists of sizes from the request's on (at most
/// 32 to compare). Larger classes are single lists searched through a `LinkOrderIndex`.
public final class SegregatedFitAllocator: AllocatorModel {
    /// The number of size classes; the last holds every larger block.
    public static let classCount = 24
    /// Blocks below this many bytes (classes 0-4) sit on exact-size lists.
    static let exactListLimit: UInt64 = 1024
    /// The exact-size lists: sizes 32, 48, ..., 1008 bytes.
    static let exactListCount = Int(exactListLimit / BlockHeap.alignment) - 2
    /// The first class kept as one list.
    static let firstWholeClass = sizeClass(exactListLimit)
    private let heap: BlockHeap
    /// Blocks put on a list so far.
    private var links: UInt64 = 0
    /// Each free block's link number (index = node number): the higher, the nearer the front of its
    /// class's list.
    private var linkNumbers = UncheckedArray<UInt64>()

    /// Creates an empty heap at `base` that may grow to `limitBytes`.
    public init(base: UInt64 = 0x10_0000, limitBytes: UInt64 = .max) {
        heap = BlockHeap(
            base: base, binCount: Self.exactListCount + Self.classCount - Self.firstWholeClass, limitBytes: limitBytes,
            linkOrder: true, linkOrderFrom: Self.exactListCount, listKeys: .decreasing)
    }

    deinit { linkNumbers.deallocate() }

    /// `segregated`.
    public var name: String { "segregated" }
    /// Bytes of heap taken so far.
    public var footprintBytes: UInt64 { heap.footprintBytes }

    /// The policy's list a free block of `blockBytes` belongs on.
    @inline(__always) static func sizeClass(_ blockBytes: UInt64) -> Int { min(log2Floor(blockBytes) - 5, classCount - 1) }

    /// The heap list a free block of `blockBytes` sits on: its exact-size list below
    /// `exactListLimit`, else its class's list.
    @inline(__always) static func list(_ blockBytes: UInt64) -> Int {
        blockBytes < exactListLimit ? Int(blockBytes / BlockHeap.alignment) - 2 : exactListCount + sizeClass(blockBytes) - firstWholeClass
    }

    public func allocate(_ bytes: UInt64) -> UInt64? {
        let needed = BlockHeap.blockBytes(for: bytes)
        let sizeClass = Self.sizeClass(needed)
        var found: Int32
        if sizeClass < Self.firstWholeClass {
            // The newest block of a size from `needed` to the end of its class...
            found = newestFront(lists: Self.list(needed) ..< Self.list(2 << log2Floor(needed)))
        } else {
            let list = Self.list(needed)
            found = heap.heads[list] >= 0 ? heap.linkOrder!.firstFit(onList: list, atLeast: needed, from: -1) : -1
        }
        // ...else the front of the next non-empty class.
        var larger = sizeClass + 1
        while found < 0, larger < Self.classCount {
            if larger < Self.firstWholeClass {
                let first = Self.list(1 << UInt64(larger + 5))
                found = newestFront(lists: first ..< first + (1 << (larger + 1)))
            } else {
                found = heap.heads[Self.exactListCount + larger - Self.firstWholeClass]
            }
            larger += 1
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

    /// The most recently linked of the blocks at the fronts of exact-size lists `lists`, or -1.
    @inline(__always) private func newestFront(lists: Range<Int>) -> Int32 {
        var newest: Int32 = -1, newestLink: UInt64 = 0
        for list in lists {
            let node = heap.heads[list]
            if node >= 0, linkNumbers[Int(node)] > newestLink {
                newest = node
                newestLink = linkNumbers[Int(node)]
            }
        }
        return newest
    }

    /// Puts free block `node` at the front of its list.
    private func addFree(_ node: Int32) {
        links &+= 1
        while linkNumbers.count <= Int(node) { linkNumbers.append(0) }
        linkNumbers[Int(node)] = links
        heap.link(node, bin: Self.list(heap.nodes[Int(node)].size), listKey: links)
    }

    public func free(_ handle: UInt64, requestedBytes: UInt64) {
        addFree(heap.release(Int32(handle - 1)))
    }

    public func occupancy() -> HeapOccupancy { heap.occupancy() }
    public func snapshot() -> HeapSnapshot { heap.snapshot() }
    public func address(of handle: UInt64) -> UInt64 { heap.payloadAddress(Int32(handle - 1)) }
    public func checkInvariants() {
        heap.checkInvariants(binFor: Self.list, addressOrdered: false)
        // Each list runs newest first.
        for list in heap.heads.indices {
            var node = heap.heads[list], previous = UInt64.max
            while node >= 0 {
                precondition(linkNumbers[Int(node)] < previous, "list \(list) is not newest first")
                previous = linkNumbers[Int(node)]
                node = heap.nodes[Int(node)].freeNext
            }
        }
    }
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
