import TraceModel

/// What kind of address range a heap map region is, as inferred from block addresses.
public enum HeapRegionKind: String, Sendable, Codable {
    /// glibc's main arena: the brk heap, one contiguous range near the program.
    case brkHeap = "brk heap"
    /// A non-main glibc arena: a 64 MiB-aligned heap of its own.
    case arenaHeap = "arena heap"
    /// One large block that malloc served with its own mmap.
    case mmappedBlock = "mmap'd block"
}

/// One live block as drawn: its chunk (header and padding included) at its real address.
public struct HeapMapBlock: Sendable, Equatable {
    /// The chunk's first address (16 bytes below the pointer malloc returned).
    public var start: UInt64
    /// The chunk's size in bytes.
    public var bytes: UInt64
    /// Requested bytes.
    public var payload: UInt64
    /// The allocating call stack.
    public var stack: StackID
}

/// How many holes of a size range, and their bytes.
public struct HoleBucket: Sendable, Equatable, Codable {
    /// The largest hole size counted here, in bytes (`UInt64.max` for the last bucket).
    public var upTo: UInt64
    /// Holes in the bucket.
    public var count: UInt64
    /// Their bytes.
    public var bytes: UInt64
}

/// Fragmentation figures of a region or of the whole heap at one moment.
public struct FragmentationFigures: Sendable, Equatable, Codable {
    /// Live blocks.
    public var blocks: UInt64 = 0
    /// Bytes the program asked for (live payload).
    public var liveBytes: UInt64 = 0
    /// Chunk bytes minus payload: headers, rounding, minimum sizes, page rounding of mmaps.
    public var overheadBytes: UInt64 = 0
    /// From the first live chunk's start to the last one's end, summed over regions, in bytes.
    public var extentBytes: UInt64 = 0
    /// Bytes inside the extent that no live chunk covers (the holes).
    public var freeBytes: UInt64 = 0
    /// Maximal free gaps between live chunks.
    public var holes: UInt64 = 0
    /// The largest hole, in bytes.
    public var largestHoleBytes: UInt64 = 0
    /// Holes by size: <= 64 B, 256 B, 1 KiB, 4 KiB, 64 KiB, 1 MiB, more.
    public var holeSizes: [HoleBucket] = FragmentationFigures.emptyBuckets()
    /// Free bytes of the holes in pages that are still resident (nil: no residency snapshot at this moment).
    public var freeResidentBytes: UInt64?

    /// Creates zeroed figures.
    public init() {}

    /// 1 - largest hole / total free (0 when nothing is free): how badly free space is split.
    public var externalFragmentation: Double {
        freeBytes == 0 ? 0 : 1 - Double(largestHoleBytes) / Double(freeBytes)
    }

    /// The share of free bytes that sit in resident pages (nil when not measured).
    public var freeResidentShare: Double? {
        freeResidentBytes.map { freeBytes == 0 ? 0 : Double($0) / Double(freeBytes) }
    }

    static func emptyBuckets() -> [HoleBucket] {
        [64, 256, 1024, 4096, 65536, 1 << 20, UInt64.max].map { HoleBucket(upTo: $0, count: 0, bytes: 0) }
    }

    mutating func addHole(_ bytes: UInt64, resident: UInt64?) {
        holes += 1
        freeBytes += bytes
        largestHoleBytes = max(largestHoleBytes, bytes)
        let i = holeSizes.firstIndex { bytes <= $0.upTo }!
        holeSizes[i].count += 1
        holeSizes[i].bytes += bytes
        if let resident { freeResidentBytes = (freeResidentBytes ?? 0) + resident }
    }

    mutating func merge(_ other: FragmentationFigures) {
        blocks += other.blocks
        liveBytes += other.liveBytes
        overheadBytes += other.overheadBytes
        extentBytes += other.extentBytes
        freeBytes += other.freeBytes
        holes += other.holes
        largestHoleBytes = max(largestHoleBytes, other.largestHoleBytes)
        for i in holeSizes.indices {
            holeSizes[i].count += other.holeSizes[i].count
            holeSizes[i].bytes += other.holeSizes[i].bytes
        }
        if let r = other.freeResidentBytes { freeResidentBytes = (freeResidentBytes ?? 0) + r }
    }
}

/// One region of the heap map: a contiguous address range holding live blocks.
public struct HeapMapRegion: Sendable, Equatable {
    /// What the range is.
    public var kind: HeapRegionKind
    /// First address drawn (the first live chunk's start).
    public var start: UInt64
    /// One past the last address drawn (the last live chunk's end).
    public var end: UInt64
    /// Indices of its blocks in `HeapMap.blocks`.
    public var blockRange: Range<Int>
    /// Its figures.
    public var figures: FragmentationFigures
    /// Bytes from this region's start back to the previous region's end (0 for the first): the cut gap.
    public var gapBefore: UInt64
    /// Size in bytes.
    public var bytes: UInt64 { end - start }
    /// A short name: kind and start address.
    public var name: String { "\(kind.rawValue) 0x\(String(start, radix: 16))" }
}

/// The live heap at one moment, laid out for a heap map: live chunks at their real addresses,
/// grouped into regions (brk heap, arena heaps, mmap'd blocks), with fragmentation figures.
public struct HeapMap: Sendable {
    /// When, in ns since start (the last tick before the moment).
    public var timeNs: UInt64
    /// Allocator events applied.
    public var events: UInt64
    /// RSS at the last tick, in bytes.
    public var residentBytes: UInt64
    /// The regions, in address order.
    public var regions: [HeapMapRegion]
    /// All live chunks, in address order.
    public var blocks: [HeapMapBlock]
    /// The figures over all regions.
    public var overall: FragmentationFigures
    /// The time of the residency snapshot used for free-but-resident (nil: none matched this moment).
    public var residencyTimeNs: UInt64?

    /// Gaps larger than this (bytes) between live chunks start a new region.
    public static let regionGap: UInt64 = 1 << 20

    /// Lays out sorted live blocks. `residency`, when given, must be a snapshot of the same moment:
    /// it measures how much of each hole is still resident.
    public static func build(
        blocks live: [LiveBlock], timeNs: UInt64 = 0, events: UInt64 = 0, residentBytes: UInt64 = 0,
        residency: ResidencySnapshot? = nil, pageSize: UInt64 = 4096
    ) -> HeapMap {
        var blocks: [HeapMapBlock] = []
        blocks.reserveCapacity(live.count)
        var mmapped: [Bool] = []
        mmapped.reserveCapacity(live.count)
        var previousEnd: UInt64 = 0
        for b in live {
            var f = GlibcChunk.footprint(address: b.address, request: b.size, pageSize: pageSize)
            // Blocks that overlap (allocated before recording began, or foreign) are clipped.
            if f.start < previousEnd {
                let cut = previousEnd - f.start
                guard cut < f.bytes else { continue }
                f.start = previousEnd
                f.bytes -= cut
            }
            blocks.append(HeapMapBlock(start: f.start, bytes: f.bytes, payload: b.size, stack: b.stack))
            mmapped.append(f.mmapped)
            previousEnd = f.start + f.bytes
        }
        let brkRange = residency?.regions.first { $0.kind == .brkHeap }.map { ($0.start, $0.start + $0.length) }
        var intervals = residency.map(ResidentIntervals.init)
        var regions: [HeapMapRegion] = []
        var overall = FragmentationFigures()
        if residency != nil { overall.freeResidentBytes = 0 }
        var i = 0
        var lastEnd: UInt64 = 0
        while i < blocks.count {
            let first = i
            let start = blocks[i].start
            let kind: HeapRegionKind
            if mmapped[i] {
                kind = .mmappedBlock
                i += 1
            } else {
                if let brkRange { kind = start >= brkRange.0 && start < brkRange.1 ? .brkHeap : .arenaHeap }
                else { kind = start < 0x7000_0000_0000 ? .brkHeap : .arenaHeap }
                let heapBase = start & ~(GlibcChunk.arenaHeapAlignment - 1)
                i += 1
                while i < blocks.count, !mmapped[i], blocks[i].start - (blocks[i - 1].start + blocks[i - 1].bytes) <= regionGap,
                      kind == .brkHeap || blocks[i].start & ~(GlibcChunk.arenaHeapAlignment - 1) == heapBase {
                    i += 1
                }
            }
            var figures = FragmentationFigures()
            if residency != nil { figures.freeResidentBytes = 0 }
            var cursor = start
            for j in first..<i {
                let b = blocks[j]
                if b.start > cursor {
                    var resident: UInt64?
                    if intervals != nil { resident = intervals!.residentBytes(from: cursor, to: b.start) }
                    figures.addHole(b.start - cursor, resident: resident)
                }
                figures.blocks += 1
                figures.liveBytes += b.payload
                figures.overheadBytes += b.bytes - min(b.bytes, b.payload)
                cursor = b.start + b.bytes
            }
            figures.extentBytes = cursor - start
            regions.append(HeapMapRegion(kind: kind, start: start, end: cursor, blockRange: first..<i, figures: figures, gapBefore: regions.isEmpty ? 0 : start - lastEnd))
            overall.merge(figures)
            lastEnd = cursor
        }
        return HeapMap(timeNs: timeNs, events: events, residentBytes: residentBytes, regions: regions, blocks: blocks, overall: overall,
                       residencyTimeNs: residency?.timeNs)
    }
}

extension HeapMap {
    /// The same moment restricted to the live blocks whose chunks start in `[start, start + length)`,
    /// laid out again (regions, holes and figures of the window only; residency not carried over).
    public func window(start: UInt64, length: UInt64) -> HeapMap {
        let end = start &+ length
        var lo = 0, hi = blocks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if blocks[mid].start < start { lo = mid + 1 } else { hi = mid }
        }
        var inside: [LiveBlock] = []
        var i = lo
        while i < blocks.count, blocks[i].start < end {
            let b = blocks[i]
            inside.append(LiveBlock(address: b.start + GlibcChunk.headerBytes, size: b.payload, stack: b.stack))
            i += 1
        }
        return HeapMap.build(blocks: inside, timeNs: timeNs, events: events, residentBytes: residentBytes)
    }
}
