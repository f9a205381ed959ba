/// The counts of one page replacement run.
public struct PageReplacementResult: Sendable, Codable, Equatable {
    /// The policy simulated.
    public var policy: ReplacementPolicy
    /// Physical frames available (pages that fit in memory at once).
    public var frameCount: Int
    /// Page references replayed.
    public var references: Int
    /// Distinct pages referenced.
    public var distinctPages: Int
    /// References that found their page resident.
    public var hits: Int
    /// References that did not (page faults), including the compulsory ones.
    public var faults: Int
    /// Faults on a page's first reference (unavoidable with any policy).
    public var compulsoryFaults: Int
    /// Faults on a page whose contents were written to swap earlier (read back from swap).
    public var swapIns: Int
    /// Evictions of dirty pages, each written to swap (a swap-out).
    public var writeBacks: Int
    /// Seed of the generator (used by the random policy only).
    public var seed: UInt64

    /// hits / references, 0 when there were none.
    public var hitRatio: Double = 0
}

/// Replays page references through `frameCount` frames under one replacement policy.
///
/// Frames fill in order (frame 0 first). Writes make a page dirty; evicting a dirty page writes it
/// to swap (a write-back); a later fault on it reads it back (a swap-in). A clean page is dropped.
public struct PageReplacementSimulator {
    /// The policy choosing victims.
    public let policy: ReplacementPolicy
    /// Physical frames available.
    public let frameCount: Int
    private var slotOfPage: [UInt64: Int] = [:]
    private var pageInSlot: [UInt64]
    private var dirty: [Bool]
    private var lastUse: [Int]
    private var useCount: [Int]
    private var referenced: [Bool]
    private var nextUse: [Int]
    private var usedSlots = 0
    private var hand = 0
    private var generator: SplitMix64
    private var seenPages = UInt64HashSet()
    private var pagesInSwap = UInt64HashSet()
    private var time = 0
    private var counts: PageReplacementResult
    /// The counts so far, with the hit ratio.
    public var result: PageReplacementResult {
        var result = counts
        result.hitRatio = counts.references == 0 ? 0 : Double(counts.hits) / Double(counts.references)
        return result
    }

    /// A simulator with `frameCount` empty frames (at least 1); `seed` drives the random policy.
    public init(policy: ReplacementPolicy, frameCount: Int, seed: UInt64 = 1) {
        precondition(frameCount >= 1, "at least one frame")
        self.policy = policy
        self.frameCount = frameCount
        pageInSlot = Array(repeating: 0, count: frameCount)
        dirty = Array(repeating: false, count: frameCount)
        lastUse = Array(repeating: 0, count: frameCount)
        useCount = Array(repeating: 0, count: frameCount)
        referenced = Array(repeating: false, count: frameCount)
        nextUse = Array(repeating: 0, count: frameCount)
        generator = SplitMix64(seed: seed)
        counts = PageReplacementResult(
            policy: policy, frameCount: frameCount, references: 0, distinctPages: 0, hits: 0, faults: 0,
            compulsoryFaults: 0, swapIns: 0, writeBacks: 0, seed: seed)
    }

    /// Replays `references` from empty frames and returns the counts. OPT looks ahead in the list.
    public static func run(
        _ references: [PageReference], policy: ReplacementPolicy, frameCount: Int, seed: UInt64 = 1
    ) -> PageReplacementResult {
        let nextUse = policy == .opt ? nextReferenceIndices(references) : []
        return run(references, policy: policy, frameCount: frameCount, seed: seed, nextUse: nextUse)
    }

    static func run(
        _ references: [PageReference], policy: ReplacementPolicy, frameCount: Int, seed: UInt64, nextUse: [Int]
    ) -> PageReplacementResult {
        var simulator = PageReplacementSimulator(policy: policy, frameCount: frameCount, seed: seed)
        for index in references.indices {
            simulator.reference(references[index], nextReferenceIndex: policy == .opt ? nextUse[index] : 0)
        }
        #if DEBUG
        simulator.checkInvariants()
        #endif
        return simulator.result
    }

    /// For each reference, the index of the next reference to the same page (`Int.max` if none).
    public static func nextReferenceIndices(_ references: [PageReference]) -> [Int] {
        var next = Array(repeating: Int.max, count: references.count)
        var lastSeen: [UInt64: Int] = [:]
        for index in references.indices.reversed() {
            let page = references[index].page
            if let later = lastSeen[page] { next[index] = later }
            lastSeen[page] = index
        }
        return next
    }

    /// Replays one reference. `nextReferenceIndex` (OPT only) is when this page is referenced next,
    /// as a position in the whole reference list (`Int.max` for never).
    public mutating func reference(_ reference: PageReference, nextReferenceIndex: Int = 0) {
        time += 1
        counts.references += 1
        if let slot = slotOfPage[reference.page] {
            counts.hits += 1
            touch(slot, isWrite: reference.isWrite, nextReferenceIndex: nextReferenceIndex, loaded: false)
            return
        }
        counts.faults += 1
        if seenPages.insert(reference.page) {
            counts.compulsoryFaults += 1
            counts.distinctPages += 1
        } else if pagesInSwap.contains(reference.page) {
            counts.swapIns += 1
        }
        let slot: Int
        if usedSlots < frameCount {
            slot = usedSlots
            usedSlots += 1
        } else {
            slot = victimSlot()
            let victim = pageInSlot[slot]
            if dirty[slot] {
                counts.writeBacks += 1
                pagesInSwap.insert(victim)
            }
            slotOfPage[victim] = nil
        }
        pageInSlot[slot] = reference.page
        slotOfPage[reference.page] = slot
        dirty[slot] = false
        useCount[slot] = 0
        touch(slot, isWrite: reference.isWrite, nextReferenceIndex: nextReferenceIndex, loaded: true)
        assert(slotOfPage.count == usedSlots, "every used frame holds exactly one resident page")
    }

    @inline(__always)
    private mutating func touch(_ slot: Int, isWrite: Bool, nextReferenceIndex: Int, loaded: Bool) {
        if isWrite { dirty[slot] = true }
        lastUse[slot] = time
        useCount[slot] += 1
        referenced[slot] = true
        nextUse[slot] = nextReferenceIndex
    }

    private mutating func victimSlot() -> Int {
        switch policy {
        case .fifo:
            // Frames filled in order and refilled in place, so the oldest load is always at `hand`.
            let slot = hand
            hand = (hand + 1) % frameCount
            return slot
        case .clock:
            while referenced[hand] {
                referenced[hand] = false
                hand = (hand + 1) % frameCount
            }
            let slot = hand
            hand = (hand + 1) % frameCount
            return slot
        case .lru:
            var best = 0
            for slot in 1..<frameCount where lastUse[slot] < lastUse[best] { best = slot }
            return best
        case .lfu:
            var best = 0
            for slot in 1..<frameCount
            where useCount[slot] < useCount[best] || (useCount[slot] == useCount[best] && lastUse[slot] < lastUse[best]) {
                best = slot
            }
            return best
        case .opt:
            var best = 0
            for slot in 1..<frameCount where nextUse[slot] > nextUse[best] { best = slot }
            return best
        case .random:
            return Int(generator.next(below: UInt64(frameCount)))
        }
    }

    #if DEBUG
    /// Checks that frames and the page-to-frame map agree and that the counts add up.
    func checkInvariants() {
        precondition(usedSlots <= frameCount)
        precondition(slotOfPage.count == usedSlots)
        for slot in 0..<usedSlots { precondition(slotOfPage[pageInSlot[slot]] == slot) }
        precondition(counts.hits + counts.faults == counts.references)
        precondition(counts.compulsoryFaults + counts.swapIns <= counts.faults)
        precondition(counts.compulsoryFaults == counts.distinctPages && counts.distinctPages == seenPages.count)
        precondition(counts.writeBacks <= counts.faults - usedSlots, "write-backs happen only on evictions")
    }
    #endif
}
