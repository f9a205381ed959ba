/// The shape and latencies of a TLB in front of a 4-level page table.
public struct TranslationConfiguration: Sendable, Codable, Equatable {
    /// The page size mapped (and cached by the TLB).
    public var pageSize: PageSize
    /// TLB entries in all.
    public var tlbEntries: Int
    /// TLB entries per set (associativity); `tlbEntries / tlbWays` sets, a power of two.
    public var tlbWays: Int
    /// Cycles a TLB lookup costs, hit or miss.
    public var tlbHitCycles: Double
    /// Cycles each page-walk memory reference costs (a page-table entry read, often from cache).
    public var walkReferenceCycles: Double

    /// A configuration; the defaults are a 64-entry 4-way data TLB, 1 cycle a lookup, 25 cycles a
    /// page-walk reference (walks mostly hit the L2/L3 caches).
    public init(pageSize: PageSize = .size4KiB, tlbEntries: Int = 64, tlbWays: Int = 4,
                tlbHitCycles: Double = 1, walkReferenceCycles: Double = 25) {
        self.pageSize = pageSize
        self.tlbEntries = tlbEntries
        self.tlbWays = tlbWays
        self.tlbHitCycles = tlbHitCycles
        self.walkReferenceCycles = walkReferenceCycles
    }

    /// Sets in the TLB.
    public var tlbSets: Int { tlbEntries / max(tlbWays, 1) }

    /// Throws unless the TLB shape is valid (ways divide entries into a power-of-two set count).
    public func validate() throws {
        guard tlbEntries > 0, tlbWays > 0, tlbEntries % tlbWays == 0, tlbSets.nonzeroBitCount == 1 else {
            throw CacheConfigurationError(description:
                "TLB: \(tlbEntries) entries / \(tlbWays) ways must give a power-of-two number of sets")
        }
        guard tlbHitCycles >= 0, walkReferenceCycles >= 0, tlbHitCycles.isFinite, walkReferenceCycles.isFinite else {
            throw CacheConfigurationError(description: "TLB: latencies must be finite and not negative")
        }
    }
}

/// The result of an address translation simulation.
public struct TranslationResult: Sendable, Codable, Equatable {
    /// The TLB shape and latencies used.
    public var configuration: TranslationConfiguration
    /// Accesses replayed (trace records).
    public var accesses: UInt64
    /// Translations: one per page an access touches (an access across a page boundary needs two).
    public var translations: UInt64
    /// Instruction fetches left out (`--data-only`).
    public var skippedInstructionFetches: UInt64
    /// Translations the TLB answered.
    public var tlbHits: UInt64
    /// Translations that needed a page walk.
    public var tlbMisses: UInt64
    /// tlbHits / translations (0 when there were none).
    public var tlbHitRatio: Double
    /// Page walks made (one per TLB miss).
    public var walks: UInt64
    /// Page walks per access.
    public var walksPerAccess: Double
    /// Page-table memory references made by walks (4 or 3 per walk).
    public var walkMemoryReferences: UInt64
    /// Page-table pages allocated: PML4, PDPT, PD, PT.
    public var tablePagesByLevel: [Int]
    /// Page-table pages allocated in all.
    public var tablePages: Int
    /// Memory the page-table pages cost (bytes).
    public var tableBytes: UInt64
    /// Distinct pages mapped.
    public var mappedPages: Int
    /// Memory those pages map (bytes).
    public var mappedBytes: UInt64
    /// Estimated cycles per translation: tlbHitCycles + missRatio x walkLevels x walkReferenceCycles.
    public var cyclesPerAccess: Double
    /// TLB hits per set (for the heat map).
    public var setHits: [UInt64]
    /// TLB misses per set (for the heat map).
    public var setMisses: [UInt64]
}

/// A set-associative LRU TLB in front of an x86-64 4-level page table: each translation looks up
/// the virtual page number in the TLB; a miss walks the table (allocating tables on first touch)
/// and fills the TLB.
public struct AddressTranslationSimulator {
    /// The TLB shape and latencies.
    public let configuration: TranslationConfiguration
    /// Whether instruction fetches are skipped (a data TLB only).
    public let dataOnly: Bool
    private var tlb: SetAssociativeStore
    /// The page table behind the TLB.
    public private(set) var pageTable: FourLevelPageTable
    private let shift: UInt64
    private var accessCount: UInt64 = 0
    private var translations: UInt64 = 0
    private var tlbHits: UInt64 = 0
    private var walkReferences: UInt64 = 0
    private var skippedInstructionFetches: UInt64 = 0

    /// A cold TLB and an empty page table.
    public init(configuration: TranslationConfiguration, dataOnly: Bool = false) throws {
        try configuration.validate()
        self.configuration = configuration
        self.dataOnly = dataOnly
        tlb = SetAssociativeStore(geometry: SetAssociativeGeometry(setCount: configuration.tlbSets, ways: configuration.tlbWays))
        pageTable = FourLevelPageTable(pageSize: configuration.pageSize)
        shift = configuration.pageSize.shift
    }

    /// Translates every page one access touches.
    @inline(__always)
    public mutating func access(_ access: MemoryAccess) {
        if dataOnly && access.kind == .instructionFetch {
            skippedInstructionFetches &+= 1
            return
        }
        accessCount &+= 1
        var page = (access.address & FourLevelPageTable.addressMask) >> shift
        let lastPage = (access.lastAddress & FourLevelPageTable.addressMask) >> shift
        while true {
            translate(page)
            if page == lastPage { break }
            page &+= 1
        }
    }

    @inline(__always)
    private mutating func translate(_ page: UInt64) {
        translations &+= 1
        if tlb.access(page, markDirty: false).isHit {
            tlbHits &+= 1
        } else {
            walkReferences &+= UInt64(pageTable.walk(page << shift))
        }
    }

    /// Replays a batch of accesses in order.
    public mutating func access(_ batch: UnsafeBufferPointer<MemoryAccess>) {
        for item in batch { access(item) }
    }

    /// Replays every access of `source`.
    public mutating func run(_ source: MemoryAccessSource) throws {
        try source.forEachBatch { access($0) }
    }

    /// The counts so far, with the cycle estimate.
    public var result: TranslationResult {
        #if DEBUG
        checkInvariants()
        #endif
        let misses = translations - tlbHits
        let missRatio = translations == 0 ? 0 : Double(misses) / Double(translations)
        let cycles = translations == 0 ? 0 : configuration.tlbHitCycles
            + missRatio * Double(configuration.pageSize.walkLevels) * configuration.walkReferenceCycles
        return TranslationResult(
            configuration: configuration, accesses: accessCount, translations: translations,
            skippedInstructionFetches: skippedInstructionFetches, tlbHits: tlbHits, tlbMisses: misses,
            tlbHitRatio: translations == 0 ? 0 : Double(tlbHits) / Double(translations),
            walks: misses, walksPerAccess: accessCount == 0 ? 0 : Double(misses) / Double(accessCount),
            walkMemoryReferences: walkReferences, tablePagesByLevel: pageTable.tablePagesByLevel,
            tablePages: pageTable.tablePages, tableBytes: pageTable.tableBytes,
            mappedPages: pageTable.mappedPageCount,
            mappedBytes: UInt64(pageTable.mappedPageCount) * configuration.pageSize.bytes,
            cyclesPerAccess: cycles, setHits: tlb.setHits, setMisses: tlb.setMisses)
    }

    #if DEBUG
    /// Checks the TLB sets, the page table, and that hits + misses = translations.
    public func checkInvariants() {
        tlb.checkInvariants()
        pageTable.checkInvariants()
        precondition(tlb.setHits.reduce(0, +) == tlbHits && tlb.setMisses.reduce(0, +) == translations - tlbHits)
        precondition(walkReferences == (translations - tlbHits) * UInt64(configuration.pageSize.walkLevels))
        precondition(tlb.residentKeys.count <= min(configuration.tlbEntries, pageTable.mappedPageCount))
    }
    #endif
}
