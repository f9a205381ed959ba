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
    /// The levels' shapes, L1 first.
    public let configurations: [CacheLevelConfiguration]
    /// Whether instruction fetches are skipped (a data cache only).
    public let dataOnly: Bool
    private var stores: [SetAssociativeStore]
    private var lineShifts: [UInt64]
    private var reads: [UInt64]
    private var writes: [UInt64]
    private var evictions: [UInt64]
    private var writeBacks: [UInt64]
    private var accessCount: UInt64 = 0
    private var lineSplits: UInt64 = 0
    private var skippedInstructionFetches: UInt64 = 0
    private var memoryLineReads: UInt64 = 0
    private var memoryLineWrites: UInt64 = 0

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
        stores = levels.map { SetAssociativeStore(geometry: SetAssociativeGeometry(setCount: $0.setCount, ways: $0.ways)) }
        lineShifts = levels.map { UInt64($0.lineSize.trailingZeroBitCount) }
        reads = Array(repeating: 0, count: levels.count)
        writes = reads
        evictions = reads
        writeBacks = reads
    }

    /// Replays one access: one L1 lookup per line it touches.
    @inline(__always)
    public mutating func access(_ access: MemoryAccess) {
        if dataOnly && access.kind == .instructionFetch {
            skippedInstructionFetches &+= 1
            return
        }
        accessCount &+= 1
        let shift = lineShifts[0]
        let isWrite = access.kind.isWrite
        var line = access.address >> shift
        let lastLine = access.lastAddress >> shift
        lookUp(level: 0, address: line << shift, isWrite: isWrite)
        while line != lastLine {
            line &+= 1
            lineSplits &+= 1
            lookUp(level: 0, address: line << shift, isWrite: isWrite)
        }
    }

    /// Replays a batch of accesses in order.
    public mutating func access(_ batch: UnsafeBufferPointer<MemoryAccess>) {
        for item in batch { access(item) }
    }

    @inline(__always)
    private mutating func lookUp(level: Int, address: UInt64, isWrite: Bool) {
        if isWrite { writes[level] &+= 1 } else { reads[level] &+= 1 }
        let shift = lineShifts[level]
        let lookup = stores[level].access(address >> shift, markDirty: isWrite)
        if lookup.isHit { return }
        if lookup.evictedKey != SetAssociativeStore.invalidKey {
            evictions[level] &+= 1
            if lookup.evictedDirty {
                writeBacks[level] &+= 1
                if level + 1 < stores.count {
                    lookUp(level: level + 1, address: lookup.evictedKey << shift, isWrite: true)
                } else {
                    memoryLineWrites &+= 1
                }
            }
        }
        if level + 1 < stores.count {
            lookUp(level: level + 1, address: address, isWrite: false)
        } else {
            memoryLineReads &+= 1
        }
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
        let levels = configurations.indices.map { index -> CacheLevelStatistics in
            let store = stores[index]
            let hits = store.setHits.reduce(0, &+), misses = store.setMisses.reduce(0, &+)
            let accesses = reads[index] + writes[index]
            return CacheLevelStatistics(
                configuration: configurations[index], setCount: configurations[index].setCount,
                accesses: accesses, reads: reads[index], writes: writes[index], hits: hits, misses: misses,
                evictions: evictions[index], writeBacks: writeBacks[index],
                hitRatio: accesses == 0 ? 0 : Double(hits) / Double(accesses),
                setHits: store.setHits, setMisses: store.setMisses)
        }
        return CacheSimulationResult(
            accesses: accessCount, lineSplits: lineSplits, skippedInstructionFetches: skippedInstructionFetches,
            levels: levels, memoryLineReads: memoryLineReads, memoryLineWrites: memoryLineWrites)
    }

    #if DEBUG
    /// Checks each level: sets consistent, hits + misses = lookups, write-backs <= evictions <= misses.
    public func checkInvariants() {
        for index in stores.indices {
            stores[index].checkInvariants()
            let hits = stores[index].setHits.reduce(0, &+), misses = stores[index].setMisses.reduce(0, &+)
            precondition(hits + misses == reads[index] + writes[index], "every lookup hits or misses")
            precondition(writeBacks[index] <= evictions[index] && evictions[index] <= misses)
            precondition(UInt64(stores[index].residentKeys.count) == misses - evictions[index], "lines held = fills - evictions")
            if index > 0 {
                precondition(reads[index] == stores[index - 1].setMisses.reduce(0, &+), "each miss above reads one line here")
                precondition(writes[index] == writeBacks[index - 1], "each write-back above writes one line here")
            }
        }
    }
    #endif
}
