import TraceModel

/// Where a process's resident memory went at one moment: live heap data, allocator overhead,
/// freed heap the allocator still holds in resident pages, the program's own anonymous mmaps
/// (measured only), and everything else.
///
/// With a residency snapshot the heap terms count resident bytes only and `otherBytes` is the
/// remainder (stacks, code, file mappings, other anonymous memory), so the terms add up to
/// `residentBytes` exactly. Without one, `freeResidentBytes` is nil ("not measured") and
/// `otherBytes` also holds the freed-but-resident heap.
public struct RSSBreakdown: Sendable, Equatable, Codable {
    /// ns since start.
    public var timeNs: UInt64
    /// RSS sampled at that moment, in bytes.
    public var residentBytes: UInt64
    /// Live payload (requested bytes of live blocks), resident or not.
    public var liveBytes: UInt64
    /// Allocator overhead of live blocks (chunk minus request), resident or not.
    public var overheadBytes: UInt64
    /// Resident bytes of live payload (nil when residency was not measured).
    public var liveResidentBytes: UInt64?
    /// Resident bytes of overhead (nil when residency was not measured).
    public var overheadResidentBytes: UInt64?
    /// Heap bytes in resident pages that no live block covers: freed, not returned (nil: not measured).
    public var freeResidentBytes: UInt64?
    /// Resident bytes of the program's own anonymous mmaps (pymalloc arenas, custom allocators) (nil: not measured).
    public var mappedResidentBytes: UInt64?
    /// Resident heap mapping bytes (brk heap, arena heaps, malloc's mmaps) (nil: not measured).
    public var heapResidentBytes: UInt64?
    /// Everything else: RSS minus the terms above, in bytes (negative only if the inputs disagree).
    public var otherBytes: Int64

    /// True when the heap terms come from a residency snapshot.
    public var isMeasured: Bool { freeResidentBytes != nil }

    /// The terms that add up to `residentBytes`, in bytes.
    public var terms: [Int64] {
        if isMeasured {
            return [Int64(liveResidentBytes!), Int64(overheadResidentBytes!), Int64(freeResidentBytes!), Int64(mappedResidentBytes ?? 0), otherBytes]
        }
        return [Int64(liveBytes), Int64(overheadBytes), otherBytes]
    }

    /// The breakdown from the live-heap figures alone (no residency): other = RSS - live - overhead.
    public static func unmeasured(timeNs: UInt64, residentBytes: UInt64, liveBytes: UInt64, chunkBytes: UInt64) -> RSSBreakdown {
        let overhead = chunkBytes >= liveBytes ? chunkBytes - liveBytes : 0
        return RSSBreakdown(
            timeNs: timeNs, residentBytes: residentBytes, liveBytes: liveBytes, overheadBytes: overhead,
            otherBytes: Int64(residentBytes) - Int64(liveBytes) - Int64(overhead))
    }

    /// The measured breakdown: live blocks (in any order) against a residency snapshot of the
    /// same moment, and the program's own anonymous mappings (sorted ranges). Heap mappings are
    /// the `[heap]` mapping, the anonymous mappings inside non-main arena heaps (`arenaBases`,
    /// clipped to 64 MiB each) and malloc's own mmaps of live blocks.
    public static func measured<Blocks: Sequence>(
        timeNs: UInt64, residentBytes: UInt64, blocks: Blocks, residency: ResidencySnapshot,
        arenaBases: Set<UInt64>, programMappings: [(start: UInt64, end: UInt64)] = [], pageSize: UInt64 = 4096
    ) -> RSSBreakdown where Blocks.Element == LiveBlock {
        var heapRanges: [(start: UInt64, end: UInt64)] = []
        for region in residency.regions {
            let end = region.start + region.length
            if region.kind == .brkHeap {
                heapRanges.append((region.start, end))
                continue
            }
            for base in arenaBases where base < end && base + GlibcChunk.arenaHeapAlignment > region.start {
                heapRanges.append((max(base, region.start), min(end, base + GlibcChunk.arenaHeapAlignment)))
            }
        }
        heapRanges.sort { $0.start < $1.start }
        var all = ResidentIntervals(residency)
        let heapOnly = all.restricted(to: heapRanges)
        let pages = ResidentPageBitmap(residency)
        let heapPages = ResidentPageBitmap(ResidencySnapshot(timeNs: residency.timeNs, regions: heapOnly.ranges.map {
            ResidentRegion(start: $0.start, length: $0.end - $0.start, kind: .anonymous, pageSize: pageSize,
                           runs: [0, UInt32((($0.end - $0.start) + pageSize - 1) / pageSize)])
        }))
        var live: UInt64 = 0, chunk: UInt64 = 0, liveResident: UInt64 = 0, overheadResident: UInt64 = 0
        var heapChunkResident: UInt64 = 0, mmappedResident: UInt64 = 0
        // Resident bytes of each live chunk, split into payload first, then overhead.
        for b in blocks {
            let f = GlibcChunk.footprint(address: b.address, request: b.size, pageSize: pageSize)
            live += b.size
            chunk += f.bytes
            let r = pages.residentBytes(from: f.start, to: f.start + f.bytes)
            let payload = min(b.size, r)
            liveResident += payload
            overheadResident += r - payload
            if f.mmapped { mmappedResident += r } else { heapChunkResident += heapPages.residentBytes(from: f.start, to: f.start + f.bytes) }
        }
        let heapResident = heapOnly.totalBytes
        let freeResident = heapResident >= heapChunkResident ? heapResident - heapChunkResident : 0
        all.rewind()
        var mappedResident: UInt64 = 0
        for r in programMappings { mappedResident += all.residentBytes(from: r.start, to: r.end) }
        return RSSBreakdown(
            timeNs: timeNs, residentBytes: residentBytes, liveBytes: live, overheadBytes: chunk - min(chunk, live),
            liveResidentBytes: liveResident, overheadResidentBytes: overheadResident, freeResidentBytes: freeResident,
            mappedResidentBytes: mappedResident, heapResidentBytes: heapResident + mmappedResident,
            otherBytes: Int64(residentBytes) - Int64(liveResident) - Int64(overheadResident) - Int64(freeResident) - Int64(mappedResident))
    }
}
