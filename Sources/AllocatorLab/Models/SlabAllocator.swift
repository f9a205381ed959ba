/// A size-class slab allocator in the style of jemalloc and mimalloc: requests round up to one of
/// 36 small size classes (8 bytes to 14 KiB, four classes per doubling), and each class fills its own
/// 64 KiB slabs of equal blocks (no per-block header). A slab that empties goes back to the system;
/// requests above 14 KiB get their own page-rounded extent, returned when freed.
public final class SlabAllocator: AllocatorModel {
    /// The small size classes in bytes.
    public static let sizeClasses: [UInt64] = {
        var classes: [UInt64] = [8, 16, 32, 48, 64, 80, 96, 112, 128]
        var step: UInt64 = 32
        while classes.last! < 14336 {
            for _ in 0..<4 where classes.last! < 14336 { classes.append(classes.last! + step) }
            step *= 2
        }
        return classes
    }()
    /// Bytes in one slab.
    public static let slabBytes: UInt64 = 64 << 10
    /// Page size in bytes (large extents round up to it).
    public static let pageBytes: UInt64 = 4096
    /// Class index for every request size up to the largest small class, in 8-byte steps.
    private static let classLookup: [UInt8] = {
        var table = [UInt8](repeating: 0, count: Int(14336 / 8) + 1)
        var c = 0
        for i in table.indices {
            while sizeClasses[c] < UInt64(i * 8) { c += 1 }
            table[i] = UInt8(c)
        }
        return table
    }()

    /// The first slab's address.
    public let base: UInt64
    /// The first large extent's address.
    public let largeBase: UInt64
    /// The largest footprint allowed, in bytes.
    public let limitBytes: UInt64
    public private(set) var footprintBytes: UInt64 = 0

    private var slabClass: [Int16] = []  // -1: not in use
    private var slabUnusedFrom: [UInt32] = []  // blocks below this index were handed out at least once
    private var slabFreeBlocks: [[UInt32]] = []
    private var slabLiveBlocks: [UInt32] = []
    private var slabPositionInAvailable: [Int32] = []
    private var releasedSlabs: [Int32] = []
    /// Per class: slabs with a free block; the last is the one allocated from.
    private var available = [[Int32]](repeating: [], count: SlabAllocator.sizeClasses.count)
    private var largeExtents: [UInt64: UInt64] = [:]
    private var nextLargeAddress: UInt64
    private var usedBytes: UInt64 = 0

    /// Creates an empty allocator that may hold `limitBytes`.
    public init(base: UInt64 = 2 << 40, limitBytes: UInt64 = .max) {
        self.base = base
        self.largeBase = base + (1 << 39)
        self.nextLargeAddress = base + (1 << 39)
        self.limitBytes = limitBytes
    }

    /// `slab`.
    public var name: String { "slab" }

    /// The small class index for `bytes`, or nil for a large request.
    @inline(__always) static func sizeClass(for bytes: UInt64) -> Int? {
        bytes <= 14336 ? Int(classLookup[Int((bytes &+ 7) >> 3)]) : nil
    }

    /// The extent size for a large request: four sizes per doubling, page multiples.
    static func largeExtentBytes(for bytes: UInt64) -> UInt64 {
        let pages = roundUp(bytes, pageBytes)
        let log = log2Floor(pages)
        let step = max(pageBytes, UInt64(1) << UInt64(max(0, log - 2)))
        return roundUp(pages, step)
    }

    public func allocate(_ bytes: UInt64) -> UInt64? {
        guard let c = Self.sizeClass(for: bytes) else {
            let extent = Self.largeExtentBytes(for: bytes)
            guard footprintBytes &+ extent <= limitBytes else { return nil }
            let address = nextLargeAddress
            nextLargeAddress &+= extent
            largeExtents[address] = extent
            footprintBytes &+= extent
            usedBytes &+= extent
            return address
        }
        var slab = available[c].last ?? -1
        if slab < 0 {
            guard footprintBytes &+ Self.slabBytes <= limitBytes else { return nil }
            slab = openSlab(for: c)
        }
        let s = Int(slab)
        let blockIndex: UInt32
        if let reused = slabFreeBlocks[s].popLast() {
            blockIndex = reused
        } else {
            blockIndex = slabUnusedFrom[s]
            slabUnusedFrom[s] += 1
        }
        slabLiveBlocks[s] += 1
        let blockBytes = Self.sizeClasses[c]
        usedBytes &+= blockBytes
        if slabFreeBlocks[s].isEmpty, UInt64(slabUnusedFrom[s] + 1) * blockBytes > Self.slabBytes { removeFromAvailable(slab) }
        return base &+ UInt64(s) &* Self.slabBytes &+ UInt64(blockIndex) &* blockBytes
    }

    private func openSlab(for c: Int) -> Int32 {
        let slab: Int32
        if let reused = releasedSlabs.popLast() {
            slab = reused
        } else {
            slab = Int32(slabClass.count)
            slabClass.append(-1)
            slabUnusedFrom.append(0)
            slabFreeBlocks.append([])
            slabLiveBlocks.append(0)
            slabPositionInAvailable.append(-1)
        }
        let s = Int(slab)
        slabClass[s] = Int16(c)
        slabUnusedFrom[s] = 0
        slabFreeBlocks[s].removeAll(keepingCapacity: true)
        slabLiveBlocks[s] = 0
        slabPositionInAvailable[s] = Int32(available[c].count)
        available[c].append(slab)
        footprintBytes &+= Self.slabBytes
        return slab
    }

    private func removeFromAvailable(_ slab: Int32) {
        let s = Int(slab), c = Int(slabClass[s])
        let position = Int(slabPositionInAvailable[s])
        let moved = available[c].removeLast()
        if moved != slab {
            available[c][position] = moved
            slabPositionInAvailable[Int(moved)] = Int32(position)
        }
        slabPositionInAvailable[s] = -1
    }

    public func free(_ handle: UInt64, requestedBytes: UInt64) {
        guard let c = Self.sizeClass(for: requestedBytes) else {
            let extent = largeExtents.removeValue(forKey: handle)!
            footprintBytes &-= extent
            usedBytes &-= extent
            return
        }
        let offset = handle &- base
        let s = Int(offset / Self.slabBytes)
        let blockBytes = Self.sizeClasses[c]
        slabFreeBlocks[s].append(UInt32((offset % Self.slabBytes) / blockBytes))
        slabLiveBlocks[s] -= 1
        usedBytes &-= blockBytes
        if slabPositionInAvailable[s] < 0 {
            slabPositionInAvailable[s] = Int32(available[c].count)
            available[c].insert(Int32(s), at: max(0, available[c].count - 1))
            // Keep the current slab last: the reopened one goes just before it.
            for (i, slab) in available[c].enumerated().suffix(2) { slabPositionInAvailable[Int(slab)] = Int32(i) }
        }
        if slabLiveBlocks[s] == 0 {
            removeFromAvailable(Int32(s))
            slabClass[s] = -1
            releasedSlabs.append(Int32(s))
            footprintBytes &-= Self.slabBytes
        }
    }

    public func occupancy() -> HeapOccupancy {
        var largest: UInt64 = 0
        for c in stride(from: available.count - 1, through: 0, by: -1) where !available[c].isEmpty {
            largest = Self.sizeClasses[c]
            break
        }
        return HeapOccupancy(footprintBytes: footprintBytes, usedBlockBytes: usedBytes, freeBytes: footprintBytes - usedBytes, largestFreeBytes: largest)
    }

    public func snapshot() -> HeapSnapshot {
        var regions: [HeapRegion] = [], blocks: [HeapBlock] = []
        for s in slabClass.indices where slabClass[s] >= 0 {
            let start = base + UInt64(s) * Self.slabBytes
            let blockBytes = Self.sizeClasses[Int(slabClass[s])]
            regions.append(HeapRegion(start: start, bytes: Self.slabBytes, name: "slab \(s): \(blockBytes) B blocks"))
            let free = Set(slabFreeBlocks[s])
            let count = UInt64(Self.slabBytes / blockBytes)
            for i in 0..<count {
                let kind: HeapBlockKind = UInt32(i) >= slabUnusedFrom[s] || free.contains(UInt32(i)) ? .free : .used
                if i > 0, let last = blocks.last, kind == .free, last.kind == .free, last.start + last.bytes == start + i * blockBytes {
                    blocks[blocks.count - 1].bytes += blockBytes
                } else {
                    blocks.append(HeapBlock(start: start + i * blockBytes, bytes: blockBytes, kind: kind))
                }
            }
            let tail = Self.slabBytes - count * blockBytes
            if tail > 0 { blocks.append(HeapBlock(start: start + count * blockBytes, bytes: tail, kind: .overhead)) }
        }
        for (address, extent) in largeExtents.sorted(by: { $0.key < $1.key }) {
            regions.append(HeapRegion(start: address, bytes: extent, name: "large extent"))
            blocks.append(HeapBlock(start: address, bytes: extent, kind: .used))
        }
        return HeapSnapshot(regions: regions, blocks: blocks)
    }

    public func address(of handle: UInt64) -> UInt64 { handle }

    public func checkInvariants() {
        var slabs: UInt64 = 0, used: UInt64 = 0
        for s in slabClass.indices where slabClass[s] >= 0 {
            slabs += 1
            let c = Int(slabClass[s])
            let blockBytes = Self.sizeClasses[c]
            precondition(Int(slabUnusedFrom[s]) - slabFreeBlocks[s].count == Int(slabLiveBlocks[s]), "slab \(s) block count out of step")
            precondition(Set(slabFreeBlocks[s]).count == slabFreeBlocks[s].count, "slab \(s) has a block freed twice")
            precondition(slabLiveBlocks[s] > 0 || slabPositionInAvailable[s] >= 0, "empty slab \(s) kept")
            let hasRoom = !slabFreeBlocks[s].isEmpty || UInt64(slabUnusedFrom[s] + 1) * blockBytes <= Self.slabBytes
            precondition(hasRoom == (slabPositionInAvailable[s] >= 0), "slab \(s) availability out of step")
            if slabPositionInAvailable[s] >= 0 { precondition(available[c][Int(slabPositionInAvailable[s])] == Int32(s), "slab \(s) position out of step") }
            used += UInt64(slabLiveBlocks[s]) * blockBytes
        }
        used += largeExtents.values.reduce(0, +)
        precondition(used == usedBytes, "slab used bytes out of step")
        precondition(slabs * Self.slabBytes + largeExtents.values.reduce(0, +) == footprintBytes, "slab footprint out of step")
    }
}
