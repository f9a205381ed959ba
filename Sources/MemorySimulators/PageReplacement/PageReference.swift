/// One reference to a virtual page, as page replacement sees it.
public struct PageReference: Sendable, Equatable, Hashable {
    /// The virtual page number (address / page size).
    public var page: UInt64
    /// Whether the reference writes the page (which makes it dirty).
    public var isWrite: Bool

    /// A reference to `page`, writing it when `isWrite`.
    public init(page: UInt64, isWrite: Bool = false) {
        self.page = page
        self.isWrite = isWrite
    }

    /// Reads a page reference string such as `"1,2,3w,4"` (see `TraceFormat.pageReferenceString`).
    public static func parse(_ text: String) throws -> [PageReference] {
        var parser = TraceLineParser(format: .pageReferenceString, fileName: "<reference string>", pageSize: 1)
        var accesses: [MemoryAccess] = []
        var bytes = Array(text.utf8)
        bytes.append(UInt8(ascii: "\n"))
        try bytes.withUnsafeBytes { try parser.parse($0, into: &accesses) }
        return accesses.map { PageReference(page: $0.address, isWrite: $0.kind.isWrite) }
    }

    /// Collects the page references of every access of `source`: one per page an access touches.
    /// - Parameters:
    ///   - pageSize: bytes per page, a power of two.
    ///   - dataOnly: skip instruction fetches.
    public static func collect(from source: MemoryAccessSource, pageSize: UInt64, dataOnly: Bool = false) throws -> [PageReference] {
        precondition(pageSize.nonzeroBitCount == 1, "page size must be a power of two")
        let shift = UInt64(pageSize.trailingZeroBitCount)
        var references: [PageReference] = []
        try source.forEachBatch { batch in
            for access in batch where !(dataOnly && access.kind == .instructionFetch) {
                let first = access.address >> shift, last = access.lastAddress >> shift
                let isWrite = access.kind.isWrite
                var page = first
                while true {
                    references.append(PageReference(page: page, isWrite: isWrite))
                    if page == last { break }
                    page += 1
                }
            }
        }
        return references
    }
}

/// A page replacement policy: which resident page to evict when a fault finds every frame full.
public enum ReplacementPolicy: String, Sendable, Codable, CaseIterable, Comparable {
    /// First in, first out: evict the page loaded longest ago.
    case fifo
    /// Least recently used: evict the page whose last reference is oldest.
    case lru
    /// Clock (second chance): sweep a hand over the frames, clearing reference bits, evict the
    /// first page found with its bit clear. Loading or referencing a page sets its bit.
    case clock
    /// Belady's optimal: evict the page whose next reference is farthest away (or never comes);
    /// ties go to the lowest frame number.
    case opt
    /// Least frequently used: evict the page referenced fewest times since it was loaded; ties go
    /// to the least recently used of them.
    case lfu
    /// Random: evict the page in a frame drawn uniformly by the seeded generator.
    case random

    /// The name shown in tables and legends (`FIFO`, `LRU`, `Clock`, `OPT`, `LFU`, `Random`).
    public var displayName: String {
        switch self {
        case .fifo: return "FIFO"
        case .lru: return "LRU"
        case .clock: return "Clock"
        case .opt: return "OPT"
        case .lfu: return "LFU"
        case .random: return "Random"
        }
    }

    /// Orders policies as declared (FIFO, LRU, Clock, OPT, LFU, Random).
    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
