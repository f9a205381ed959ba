/// CPython's own pymalloc figures, parsed from the text `sys._debugmallocstats()` prints (3.8+).
public struct DebugMallocStats: Sendable, Equatable {
    /// One size-class line of the table.
    public struct SizeClass: Sendable, Equatable {
        /// The class index (0...31).
        public var index: Int
        /// Block size in bytes.
        public var blockBytes: Int
        /// Pools of this class in use.
        public var pools: Int
        /// Blocks handed out.
        public var blocksInUse: Int
        /// Free blocks in those pools.
        public var availableBlocks: Int
    }
    /// The size classes that have pools (CPython omits the others).
    public var sizeClasses: [SizeClass] = []
    /// `# arenas allocated total`.
    public var arenasAllocatedTotal = 0
    /// `# arenas reclaimed`.
    public var arenasReclaimed = 0
    /// `# arenas highwater mark`.
    public var arenasHighWaterMark = 0
    /// `# arenas allocated current`.
    public var arenasAllocatedCurrent = 0

    /// Parses the output; nil when it holds no size-class table.
    public init?(parsing text: String) {
        var inTable = false
        for rawLine in text.split(separator: "\n") {
            let line = rawLine.trimmingPrefix(while: { $0 == " " })
            if line.hasPrefix("-----") { inTable = true; continue }
            if inTable {
                let fields = line.split(separator: " ").compactMap { Int($0) }
                if fields.count == 5, !line.contains("#") {
                    sizeClasses.append(SizeClass(index: fields[0], blockBytes: fields[1], pools: fields[2], blocksInUse: fields[3], availableBlocks: fields[4]))
                    continue
                }
                inTable = false
            }
            func value() -> Int? { line.split(separator: "=").last.flatMap { Int($0.filter(\.isNumber)) } }
            if line.hasPrefix("# arenas allocated total") { arenasAllocatedTotal = value() ?? 0 }
            if line.hasPrefix("# arenas reclaimed") { arenasReclaimed = value() ?? 0 }
            if line.hasPrefix("# arenas highwater mark") { arenasHighWaterMark = value() ?? 0 }
            if line.hasPrefix("# arenas allocated current") { arenasAllocatedCurrent = value() ?? 0 }
        }
        if sizeClasses.isEmpty { return nil }
    }

    /// Pools in use over all classes.
    public var totalPools: Int { sizeClasses.reduce(0) { $0 + $1.pools } }
    /// Blocks in use over all classes.
    public var totalBlocksInUse: Int { sizeClasses.reduce(0) { $0 + $1.blocksInUse } }
}

extension Substring {
    fileprivate func trimmingPrefix(while predicate: (Character) -> Bool) -> Substring { self.drop(while: predicate) }
}

extension OperationLog {
    /// The index of the first allocation of `bytes` to `bytes + slack` bytes (a marker a script
    /// makes, such as `bytearray(7_777_777)`), or nil.
    public func firstAllocation(ofAtLeast bytes: UInt64, slack: UInt64 = 64) -> Int? {
        operations.firstIndex { $0.kind != .free && $0.bytes >= bytes && $0.bytes <= bytes + slack }
    }
}
