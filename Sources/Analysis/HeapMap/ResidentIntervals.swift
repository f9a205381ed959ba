import TraceModel

/// The resident pages of a residency snapshot as sorted address intervals, answering "how many
/// resident bytes in `[from, to)`" for queries in increasing address order in amortized constant time.
public struct ResidentIntervals: Sendable {
    /// Resident ranges `[start, end)`, sorted, not overlapping.
    public private(set) var ranges: [(start: UInt64, end: UInt64)] = []
    private var cursor = 0

    /// Flattens a snapshot's regions into resident ranges.
    public init(_ snapshot: ResidencySnapshot) {
        for region in snapshot.regions.sorted(by: { $0.start < $1.start }) {
            var page = region.start
            for (i, run) in region.runs.enumerated() {
                let end = page + UInt64(run) * region.pageSize
                if i % 2 == 1, end > page {
                    if let last = ranges.last, last.end == page { ranges[ranges.count - 1].end = end } else { ranges.append((page, end)) }
                }
                page = end
            }
        }
    }

    /// Resident bytes in `[from, to)`. Calls must come with non-decreasing `from` (call `rewind`
    /// to start over).
    public mutating func residentBytes(from: UInt64, to: UInt64) -> UInt64 {
        guard from < to else { return 0 }
        while cursor < ranges.count, ranges[cursor].end <= from { cursor += 1 }
        var total: UInt64 = 0
        var i = cursor
        while i < ranges.count, ranges[i].start < to {
            let a = max(from, ranges[i].start), b = min(to, ranges[i].end)
            if a < b { total += b - a }
            i += 1
        }
        return total
    }

    /// Starts the increasing-address queries over.
    public mutating func rewind() { cursor = 0 }
}

extension ResidentIntervals {
    /// Resident ranges restricted to `ranges` (sorted, not overlapping).
    public func restricted(to ranges: [(start: UInt64, end: UInt64)]) -> ResidentIntervals {
        var result = ResidentIntervals(ranges: [])
        var copy = self
        for r in ranges {
            copy.rewind()
            for piece in copy.ranges where piece.end > r.start && piece.start < r.end {
                result.ranges.append((max(piece.start, r.start), min(piece.end, r.end)))
            }
        }
        result.ranges.sort { $0.start < $1.start }
        return result
    }

    /// Wraps resident ranges (sorted, not overlapping).
    init(ranges: [(start: UInt64, end: UInt64)]) { self.ranges = ranges }

    /// All resident bytes.
    public var totalBytes: UInt64 { ranges.reduce(0) { $0 + ($1.end - $1.start) } }
}

/// A residency snapshot as one bit per page, for resident-byte queries in any address order
/// (no sorting of the blocks asked about).
public struct ResidentPageBitmap: Sendable {
    private var regionStarts: [UInt64] = []
    private var regionEnds: [UInt64] = []
    private var firstWord: [Int] = []
    private var words: [UInt64] = []
    private let pageSize: UInt64

    /// Expands a snapshot's runs into bits.
    public init(_ snapshot: ResidencySnapshot) {
        pageSize = snapshot.regions.first?.pageSize ?? 4096
        for region in snapshot.regions.sorted(by: { $0.start < $1.start }) where region.pageSize == pageSize {
            regionStarts.append(region.start)
            regionEnds.append(region.start + region.length)
            firstWord.append(words.count)
            let pages = Int((region.length + pageSize - 1) / pageSize)
            let base = words.count
            words.append(contentsOf: repeatElement(0, count: (pages + 63) / 64))
            var page = 0
            for (i, run) in region.runs.enumerated() {
                if i % 2 == 1 {
                    for p in page..<min(pages, page + Int(run)) { words[base + p / 64] |= 1 << UInt64(p % 64) }
                }
                page += Int(run)
            }
        }
    }

    /// Resident bytes in `[from, to)`.
    public func residentBytes(from: UInt64, to: UInt64) -> UInt64 {
        guard from < to else { return 0 }
        // The last region starting at or below `from`, then forward while regions overlap.
        var lo = 0, hi = regionStarts.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if regionStarts[mid] <= from { lo = mid + 1 } else { hi = mid }
        }
        var r = max(0, lo - 1)
        var total: UInt64 = 0
        while r < regionStarts.count, regionStarts[r] < to {
            let a = max(from, regionStarts[r]), b = min(to, regionEnds[r])
            if a < b {
                var page = (a - regionStarts[r]) / pageSize
                var cursor = a
                while cursor < b {
                    let pageEnd = min(b, regionStarts[r] + (page + 1) * pageSize)
                    let p = Int(page)
                    if words[firstWord[r] + p / 64] & (1 << UInt64(p % 64)) != 0 { total += pageEnd - cursor }
                    cursor = pageEnd
                    page += 1
                }
            }
            r += 1
        }
        return total
    }
}
