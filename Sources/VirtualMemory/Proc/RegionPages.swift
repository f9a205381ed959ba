/// Counts of a region's pages by state and, for present pages, by kind.
public struct PageCensus: Hashable, Sendable {
    /// Pages in RAM.
    public var present: UInt64 = 0
    /// Pages in swap.
    public var swapped: UInt64 = 0
    /// Pages neither in RAM nor in swap.
    public var notPresent: UInt64 = 0
    /// Present pages of anonymous memory.
    public var anonymous: UInt64 = 0
    /// Present pages backed by a file (or shared anonymous memory).
    public var fileBacked: UInt64 = 0
    /// Present pages mapped by other processes too.
    public var shared: UInt64 = 0
    /// Present pages that are part of a huge page (needs `/proc/kpageflags`).
    public var huge: UInt64 = 0
    /// Present pages on the active LRU list (needs `/proc/kpageflags`).
    public var active: UInt64 = 0
    /// Present pages referenced recently (needs `/proc/kpageflags`).
    public var referenced: UInt64 = 0
    /// Present pages that are the shared zero page (needs `/proc/kpageflags`).
    public var zeroPage: UInt64 = 0

    /// Creates an all-zero census.
    public init() {}

    /// All pages counted.
    public var total: UInt64 { present + swapped + notPresent }

    /// Adds `other` into this census.
    public mutating func add(_ other: PageCensus) {
        present += other.present; swapped += other.swapped; notPresent += other.notPresent
        anonymous += other.anonymous; fileBacked += other.fileBacked; shared += other.shared
        huge += other.huge; active += other.active; referenced += other.referenced; zeroPage += other.zeroPage
    }
}

/// A run of consecutive pages drawn as one cell of a region's strip.
public struct PageStripCell: Hashable, Sendable {
    /// Pages of the run in RAM.
    public var present: UInt32 = 0
    /// Pages of the run in swap.
    public var swapped: UInt32 = 0
    /// Pages of the run in neither.
    public var notPresent: UInt32 = 0
    /// Pages in the run.
    public var total: UInt32 { present + swapped + notPresent }
}

/// The pages of one region: a census and a strip of at most `cellLimit` cells for pictures.
public struct RegionPages: Sendable {
    /// The region.
    public var region: Region
    /// Counts by state and kind.
    public var census: PageCensus
    /// The strip: consecutive runs of `pagesPerCell` pages, in address order.
    public var strip: [PageStripCell]
    /// Pages in each strip cell (the last may have fewer).
    public var pagesPerCell: UInt64
    /// Whether the pagemap was skipped because `smaps` said nothing of the region is in RAM or swap.
    public var skippedAsUntouched: Bool
}

/// The pages of every region of a process.
public struct AddressSpacePages: Sendable {
    /// The snapshot the pages belong to.
    public var snapshot: AddressSpaceSnapshot
    /// One entry per region, in address order.
    public var regions: [RegionPages]
    /// The base page size in bytes.
    public var pageSize: UInt64
    /// Whether `/proc/kpageflags` was readable (huge, active, referenced and zero-page counts are valid).
    public var hasKernelPageFlags: Bool
    /// The census of all regions together.
    public var total: PageCensus {
        var sum = PageCensus()
        for region in regions { sum.add(region.census) }
        return sum
    }
}

/// Walks `/proc/PID/pagemap` region by region (never the holes between regions), in batches.
public enum PageScanner {
    /// Scans every region of `snapshot`; strips get at most `cellLimit` cells each.
    /// - Parameters:
    ///   - useKernelPageFlags: read `/proc/kpageflags` for present pages when it can be opened.
    ///   - skipUntouchedRegions: trust `smaps` and skip the pagemap of regions with no resident or swapped page.
    public static func scan(
        _ snapshot: AddressSpaceSnapshot, cellLimit: Int = 512, useKernelPageFlags: Bool = true,
        skipUntouchedRegions: Bool = true
    ) throws -> AddressSpacePages {
        let reader = try PageMapReader(pid: snapshot.pid)
        let flagsReader = useKernelPageFlags ? try? KernelPageFlagsReader() : nil
        var result: [RegionPages] = []
        for region in snapshot.regions {
            result.append(try scan(region, reader: reader, flagsReader: flagsReader, cellLimit: cellLimit,
                                   skipIfUntouched: skipUntouchedRegions))
        }
        return AddressSpacePages(snapshot: snapshot, regions: result, pageSize: reader.pageSize, hasKernelPageFlags: flagsReader != nil)
    }

    /// Scans one region; with `skipIfUntouched`, a region whose `smaps` shows no resident or swapped
    /// byte is reported as all not-present without reading its pagemap.
    public static func scan(
        _ region: Region, reader: PageMapReader, flagsReader: KernelPageFlagsReader?, cellLimit: Int = 512,
        skipIfUntouched: Bool = true
    ) throws -> RegionPages {
        let pageSize = reader.pageSize
        let pageCount = region.sizeBytes / pageSize
        let pagesPerCell = max(1, (pageCount + UInt64(cellLimit) - 1) / UInt64(max(1, cellLimit)))
        let cellCount = Int((pageCount + pagesPerCell - 1) / pagesPerCell)
        var strip = [PageStripCell](repeating: PageStripCell(), count: cellCount)
        var census = PageCensus()
        let firstPage = region.start.rawValue / pageSize
        // smaps already says when nothing is resident or swapped: skip the page walk (reservations, guards).
        let hasUsage = !region.usage.fields.isEmpty
        if skipIfUntouched && hasUsage && region.usage.rss == 0 && region.usage.swap == 0 {
            census.notPresent = pageCount
            for index in strip.indices {
                let start = UInt64(index) * pagesPerCell
                strip[index].notPresent = UInt32(min(pagesPerCell, pageCount - start))
            }
            return RegionPages(region: region, census: census, strip: strip, pagesPerCell: pagesPerCell, skippedAsUntouched: true)
        }
        var presentFrames: [FrameNumber] = []
        try reader.forEachBatch(firstPage: firstPage, count: pageCount) { batchStart, entries in
            var index = 0
            while index < entries.count {
                let pageIndex = batchStart - firstPage + UInt64(index)
                let cell = Int(pageIndex / pagesPerCell)
                let raw = entries[index]
                if raw == 0 {
                    // Fast path for untouched runs (most of a large reservation): count zeros up to the cell's end.
                    let cellEnd = min(entries.count, index + Int(UInt64(cell + 1) * pagesPerCell - pageIndex))
                    var next = index + 1
                    while next < cellEnd && entries[next] == 0 { next += 1 }
                    census.notPresent += UInt64(next - index)
                    strip[cell].notPresent += UInt32(next - index)
                    index = next
                    continue
                }
                let entry = PageMapEntry(rawValue: raw)
                switch entry.state {
                case .present:
                    census.present += 1
                    strip[cell].present += 1
                    if entry.isFileOrSharedAnonymous { census.fileBacked += 1 } else { census.anonymous += 1 }
                    if !entry.isExclusivelyMapped { census.shared += 1 }
                    if flagsReader != nil, let frame = entry.frame { presentFrames.append(frame) }
                case .swapped:
                    census.swapped += 1
                    strip[cell].swapped += 1
                case .notPresent:
                    census.notPresent += 1
                    strip[cell].notPresent += 1
                }
                index += 1
            }
        }
        if let flagsReader, !presentFrames.isEmpty {
            for flags in try readFlags(of: presentFrames, reader: flagsReader) {
                if flags.contains(.huge) || flags.contains(.transparentHuge) { census.huge += 1 }
                if flags.contains(.active) { census.active += 1 }
                if flags.contains(.referenced) { census.referenced += 1 }
                if flags.contains(.zeroPage) { census.zeroPage += 1 }
            }
        }
        return RegionPages(region: region, census: census, strip: strip, pagesPerCell: pagesPerCell, skippedAsUntouched: false)
    }

    /// Reads the flags of `frames`, one `pread` per run of consecutive frame numbers.
    static func readFlags(of frames: [FrameNumber], reader: KernelPageFlagsReader) throws -> [KernelPageFlags] {
        let sorted = frames.sorted()
        var result: [KernelPageFlags] = []
        result.reserveCapacity(sorted.count)
        var index = 0
        while index < sorted.count {
            var runEnd = index + 1
            while runEnd < sorted.count, runEnd - index < 4096,
                  sorted[runEnd].rawValue == sorted[runEnd - 1].rawValue + 1 || sorted[runEnd] == sorted[runEnd - 1] {
                runEnd += 1
            }
            let first = sorted[index]
            let span = Int(sorted[runEnd - 1].rawValue - first.rawValue) + 1
            let flags = try reader.flags(ofRunFrom: first, count: span)
            for position in index..<runEnd {
                let at = Int(sorted[position].rawValue - first.rawValue)
                result.append(at < flags.count ? flags[at] : [])
            }
            index = runEnd
        }
        return result
    }
}
