/// Which pages of the process's private anonymous writable memory were resident at one moment
/// (from `mincore`, recorded by the recorder): the brk heap, malloc's arenas and large blocks,
/// and other anonymous mappings.
public struct ResidencySnapshot: Sendable {
    /// When, in ns since the process started.
    public var timeNs: UInt64
    /// The regions, in address order.
    public var regions: [ResidentRegion]

    /// Creates a snapshot.
    public init(timeNs: UInt64, regions: [ResidentRegion]) {
        self.timeNs = timeNs
        self.regions = regions
    }

    /// Resident bytes of all regions.
    public var residentBytes: UInt64 { regions.reduce(0) { $0 + $1.residentBytes } }

    /// Resident bytes within `[start, end)`, over every region it overlaps.
    public func residentBytes(from start: UInt64, to end: UInt64) -> UInt64 {
        regions.reduce(0) { $0 + $1.residentBytes(from: start, to: end) }
    }
}

/// One mapping of a residency snapshot, with its pages as alternating runs.
public struct ResidentRegion: Sendable {
    /// What kind of mapping it was.
    public enum Kind: UInt8, Sendable {
        /// The brk heap (`[heap]` in /proc/PID/maps).
        case brkHeap = 1
        /// Another private anonymous writable mapping (malloc arenas, large blocks, mmap).
        case anonymous = 2
    }
    /// First address.
    public var start: UInt64
    /// Length in bytes.
    public var length: UInt64
    /// The mapping's kind.
    public var kind: Kind
    /// Page size in bytes.
    public var pageSize: UInt64
    /// Run lengths in pages, alternately not resident and resident, starting with not resident.
    public var runs: [UInt32]

    /// Creates a region.
    public init(start: UInt64, length: UInt64, kind: Kind, pageSize: UInt64, runs: [UInt32]) {
        self.start = start
        self.length = length
        self.kind = kind
        self.pageSize = pageSize
        self.runs = runs
    }

    /// Resident bytes in the region.
    public var residentBytes: UInt64 {
        var total: UInt64 = 0
        for (i, run) in runs.enumerated() where i % 2 == 1 { total += UInt64(run) * pageSize }
        return total
    }

    /// Resident bytes of the region within `[from, to)` (partial pages counted by their overlap).
    public func residentBytes(from: UInt64, to: UInt64) -> UInt64 {
        let lo = max(from, start), hi = min(to, start + length)
        guard lo < hi else { return 0 }
        var total: UInt64 = 0
        var page = start
        for (i, run) in runs.enumerated() {
            let runEnd = page + UInt64(run) * pageSize
            if i % 2 == 1 {
                let a = max(lo, page), b = min(hi, runEnd)
                if a < b { total += b - a }
            }
            page = runEnd
            if page >= hi { break }
        }
        return total
    }
}
