/// The shape of one cache level.
public struct CacheLevelConfiguration: Sendable, Codable, Equatable {
    /// The level's name (`L1`, `L2`, ...).
    public var name: String
    /// Capacity (bytes): `setCount * ways * lineSize`.
    public var sizeBytes: Int
    /// Lines per set (associativity).
    public var ways: Int
    /// Bytes per line, a power of two.
    public var lineSize: Int

    /// A level of `sizeBytes` bytes, `ways`-way set-associative, with `lineSize`-byte lines.
    public init(name: String, sizeBytes: Int, ways: Int, lineSize: Int) {
        self.name = name
        self.sizeBytes = sizeBytes
        self.ways = ways
        self.lineSize = lineSize
    }

    /// Parses `SIZE:WAYS:LINE`, e.g. `32k:8:64`; sizes accept k, m, g suffixes.
    public init(name: String, specification: String) throws {
        let parts = specification.split(separator: ":").map(String.init)
        guard parts.count == 3, let size = parseByteCount(parts[0]), let ways = Int(parts[1]),
              let line = parseByteCount(parts[2]), size > 0, ways > 0, line > 0,
              size <= UInt64(Int.max), line <= UInt64(Int.max) else {
            throw CacheConfigurationError(description:
                "\(name) cache '\(specification)': expected SIZE:WAYS:LINE, e.g. 32k:8:64")
        }
        self.init(name: name, sizeBytes: Int(size), ways: ways, lineSize: Int(line))
        try validate()
    }

    /// Number of sets: `sizeBytes / (ways * lineSize)`.
    public var setCount: Int { sizeBytes / max(ways * lineSize, 1) }

    /// Throws unless the line size and set count are powers of two and the sizes divide evenly.
    public func validate() throws {
        guard lineSize > 0, lineSize.nonzeroBitCount == 1 else {
            throw CacheConfigurationError(description: "\(name) cache: line size \(lineSize) bytes is not a power of two")
        }
        guard ways > 0, sizeBytes > 0, sizeBytes % (ways * lineSize) == 0, setCount.nonzeroBitCount == 1 else {
            throw CacheConfigurationError(description:
                "\(name) cache: \(sizeBytes) bytes / (\(ways) ways x \(lineSize)-byte lines) must be a power-of-two set count")
        }
    }

    /// The Intel-like default L1 data cache: 32 KiB, 8-way, 64-byte lines (64 sets).
    public static let defaultL1 = CacheLevelConfiguration(name: "L1", sizeBytes: 32 << 10, ways: 8, lineSize: 64)
    /// The default L2: 256 KiB, 4-way, 64-byte lines (1024 sets).
    public static let defaultL2 = CacheLevelConfiguration(name: "L2", sizeBytes: 256 << 10, ways: 4, lineSize: 64)
}

/// A cache geometry that cannot be simulated.
public struct CacheConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The one-line message.
    public var description: String
}

/// The counts of one cache level.
public struct CacheLevelStatistics: Sendable, Codable, Equatable {
    /// The level's shape.
    public var configuration: CacheLevelConfiguration
    /// Sets in the level.
    public var setCount: Int
    /// Line lookups at this level (reads + writes).
    public var accesses: UInt64
    /// Lookups that read: loads and instruction fetches at L1, line fills for the level above below L1.
    public var reads: UInt64
    /// Lookups that write: stores and modifies at L1, write-backs from the level above below L1.
    public var writes: UInt64
    /// Lookups that found the line.
    public var hits: UInt64
    /// Lookups that did not (the line is then fetched from below and allocated: write-allocate).
    public var misses: UInt64
    /// Valid lines replaced to make room.
    public var evictions: UInt64
    /// Evicted lines that were dirty, written to the level below (write-back).
    public var writeBacks: UInt64
    /// hits / accesses (0 when there were none).
    public var hitRatio: Double
    /// Hits per set, set 0 first (for the heat map).
    public var setHits: [UInt64]
    /// Misses per set, set 0 first (for the heat map).
    public var setMisses: [UInt64]
}

/// The result of a cache simulation: one entry per level, then what reached memory.
public struct CacheSimulationResult: Sendable, Codable, Equatable {
    /// Accesses replayed (trace records).
    public var accesses: UInt64
    /// Accesses that span two lines, split into one lookup per line.
    public var lineSplits: UInt64
    /// Instruction fetches left out (`--data-only`).
    public var skippedInstructionFetches: UInt64
    /// Per level, L1 first.
    public var levels: [CacheLevelStatistics]
    /// Lines read from memory (misses of the last level).
    public var memoryLineReads: UInt64
    /// Lines written to memory (write-backs of the last level).
    public var memoryLineWrites: UInt64
}

/// A chain of write-back, write-allocate, LRU set-associative caches (L1, then L2, ...).
///
/// An access looks up each line it touches in L1. A hit updates LRU (and dirties the line on a
/// write). A miss evicts L1's LRU line of that set (writing it back to L2 if dirty: a write lookup
/// in L2), then reads the line from L2 (a read lookup), and so on down to memory.
public struct CacheHierarchySimulator {
    /// One level's state: its sets and its counters.
    private struct Level {
        var store: SetAssociativeStore
        let lineShift: UInt64
        var reads: UInt64 = 0
        var writes: UInt64 = 0
        var evictions: UInt64 = 0
        var writeBacks: UInt64 = 0
    }

    /// What reached memory and how the accesses were split.
    private struct Totals {
        var accesses: UInt64 = 0
        var lineSplits: UInt64 = 0
        var skippedInstructionFetches: UInt64 = 0
        var memoryLineReads: UInt64 = 0
        var memoryLineWrites: UInt64 = 0
    }

    /// The levels' shapes, L1 first.
    public let configurations: [CacheLevelConfiguration]
    /// Whether instruction fetches are skipped (a data cache only).
    public let dataOnly: Bool
    private var levels: [Level]
    private var totals = Totals()

    /// A cold hierarchy of `levels` (at least one; line sizes must not shrink going down).
    public init(levels: [CacheLevelConfiguration], dataOnly: Bool = false) throws {
        guard !levels.isEmpty else { throw CacheConfigurationError(description: "at least one cache level") }
        for (index, level) in levels.enumerated() {
            try level.validate()
            if index > 0 && level.lineSize < levels[index - 1].lineSize {
                throw CacheConfigurationError(description:
                    "\(level.name) line size \(level.lineSize) bytes is smaller than \(levels[index - 1].name)'s")
            }
        }
        configurations = levels
        self.dataOnly = dataOnly
        self.levels = levels.map {
            Level(store: SetAssociativeStore(geometry: SetAssociativeGeometry(setCount: $0.setCount, ways: $0.ways)),
                  lineShift: UInt64($0.lineSize.trailingZeroBitCount))
        }
    }

    /// Replays one access: one L1 lookup per line it touches.
    public mutating func access(_ access: MemoryAccess) {
        withUnsafePointer(to: access) { self.access(UnsafeBufferPointer(start: $0, count: 1)) }
    }

    /// Replays a batch of accesses in order.
    public mutating func access(_ batch: UnsafeBufferPointer<MemoryAccess>) {
        let dataOnly = self.dataOnly
        var totals = self.totals
        levels.withUnsafeMutableBufferPointer { levels in
            let shift = levels[0].lineShift
            for access in batch {
                if dataOnly && access.kind == .instructionFetch {
                    totals.skippedInstructionFetches &+= 1
                    continue
                }
                totals.accesses &+= 1
                let isWrite = access.kind.isWrite
                var line = access.address >> shift
                let lastLine = access.lastAddress >> shift
                Self.lookUp(levels, 0, line << shift, isWrite, &totals)
                while line != lastLine {
                    line &+= 1
                    totals.lineSplits &+= 1
                    Self.lookUp(levels, 0, line << shift, isWrite, &totals)
                }
            }
        }
        self.totals = totals
    }

    @inline(__always)
    private static func lookUp(
        _ levels: UnsafeMutableBufferPointer<Level>, _ index: Int, _ address: UInt64, _ isWrite: Bool, _ totals: inout Totals
    ) {
        let level = levels.baseAddress! + index
        if isWrite { level.pointee.writes &+= 1 } else { level.pointee.reads &+= 1 }
        let shift = level.pointee.lineShift
        let lookup = level.pointee.store.access(address >> shift, markDirty: isWrite)
        if lookup.isHit { return }
        let below = index + 1
        if lookup.evictedKey != SetAssociativeStore.invalidKey {
            level.pointee.evictions &+= 1
            if lookup.evictedDirty {
                level.pointee.writeBacks &+= 1
                if below < levels.count {
                    lookUpBelow(levels, below, lookup.evictedKey << shift, true, &totals)
                } else {
                    totals.memoryLineWrites &+= 1
                }
            }
        }
        if below < levels.count {
            lookUpBelow(levels, below, address, false, &totals)
        } else {
            totals.memoryLineReads &+= 1
        }
    }

    /// The recursive step, kept out of line so `lookUp` inlines into the L1 loop.
    @inline(never)
    private static func lookUpBelow(
        _ levels: UnsafeMutableBufferPointer<Level>, _ index: Int, _ address: UInt64, _ isWrite: Bool, _ totals: inout Totals
    ) {
        lookUp(levels, index, address, isWrite, &totals)
    }

    /// Replays every access of `source`.
    public mutating func run(_ source: MemoryAccessSource) throws {
        try source.forEachBatch { access($0) }
    }

    /// The counts so far.
    public var result: CacheSimulationResult {
        #if DEBUG
        checkInvariants()
        #endif
        let statistics = configurations.indices.map { index -> CacheLevelStatistics in
            let level = levels[index]
            let setHits = level.store.setHits, setMisses = level.store.setMisses
            let hits = setHits.reduce(0, &+), misses = setMisses.reduce(0, &+)
            let accesses = level.reads + level.writes
            return CacheLevelStatistics(
                configuration: configurations[index], setCount: configurations[index].setCount,
                accesses: accesses, reads: level.reads, writes: level.writes, hits: hits, misses: misses,
                evictions: level.evictions, writeBacks: level.writeBacks,
                hitRatio: accesses == 0 ? 0 : Double(hits) / Double(accesses),
                setHits: setHits, setMisses: setMisses)
        }
        return CacheSimulationResult(
            accesses: totals.accesses, lineSplits: totals.lineSplits,
            skippedInstructionFetches: totals.skippedInstructionFetches,
            levels: statistics, memoryLineReads: totals.memoryLineReads, memoryLineWrites: totals.memoryLineWrites)
    }

    #if DEBUG
    /// Checks each level: sets consistent, hits + misses = lookups, write-backs <= evictions <= misses.
    public func checkInvariants() {
        for index in levels.indices {
            let level = levels[index]
            level.store.checkInvariants()
            let hits = level.store.setHits.reduce(0, &+), misses = level.store.setMisses.reduce(0, &+)
            precondition(hits + misses == level.reads + level.writes, "every lookup hits or misses")
            precondition(level.writeBacks <= level.evictions && level.evictions <= misses)
            precondition(UInt64(level.store.residentKeys.count) == misses - level.evictions, "lines held = fills - evictions")
            if index > 0 {
                let above = levels[index - 1]
                precondition(level.reads == above.store.setMisses.reduce(0, &+), "each miss above reads one line here")
                precondition(level.writes == above.writeBacks, "each write-back above writes one line here")
            }
        }
    }
    #endif
}
