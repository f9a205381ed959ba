@testable import MemorySimulators

// Small, obviously-correct models written independently of the simulators (lists and linear
// searches, no shared code), used as oracles on seeded random traces.

/// Page replacement over an explicit list of frames, one policy per branch.
struct ReferencePageReplacement {
    struct Counts: Equatable { var faults = 0, compulsory = 0, swapIns = 0, writeBacks = 0 }

    static func run(_ refs: [PageReference], policy: ReplacementPolicy, frames: Int, seed: UInt64) -> Counts {
        var counts = Counts()
        var framePages: [UInt64?] = Array(repeating: nil, count: frames)
        var frameDirty = Array(repeating: false, count: frames)
        var loadedAt = Array(repeating: 0, count: frames)
        var lastUsed = Array(repeating: 0, count: frames)
        var uses = Array(repeating: 0, count: frames)
        var refBit = Array(repeating: false, count: frames)
        var hand = 0
        var seen = Set<UInt64>(), inSwap = Set<UInt64>()
        var rng = SplitMix64(seed: seed)
        for (time, ref) in refs.enumerated() {
            if let frame = framePages.firstIndex(of: ref.page) {
                lastUsed[frame] = time
                uses[frame] += 1
                refBit[frame] = true
                if ref.isWrite { frameDirty[frame] = true }
                continue
            }
            counts.faults += 1
            if !seen.contains(ref.page) { counts.compulsory += 1; seen.insert(ref.page) }
            else if inSwap.contains(ref.page) { counts.swapIns += 1 }
            var frame: Int
            if let free = framePages.firstIndex(of: nil) {
                frame = free
            } else {
                switch policy {
                case .fifo:
                    frame = loadedAt.indices.min { loadedAt[$0] < loadedAt[$1] }!
                case .lru:
                    frame = lastUsed.indices.min { lastUsed[$0] < lastUsed[$1] }!
                case .lfu:
                    frame = uses.indices.min { (uses[$0], lastUsed[$0]) < (uses[$1], lastUsed[$1]) }!
                case .opt:
                    func nextUse(_ page: UInt64) -> Int {
                        refs[(time + 1)...].firstIndex { $0.page == page } ?? Int.max
                    }
                    frame = 0
                    for candidate in 1..<frames where nextUse(framePages[candidate]!) > nextUse(framePages[frame]!) {
                        frame = candidate
                    }
                case .clock:
                    while refBit[hand] { refBit[hand] = false; hand = (hand + 1) % frames }
                    frame = hand
                    hand = (hand + 1) % frames
                case .random:
                    frame = Int(rng.next(below: UInt64(frames)))
                }
                if frameDirty[frame] { counts.writeBacks += 1; inSwap.insert(framePages[frame]!) }
            }
            framePages[frame] = ref.page
            frameDirty[frame] = ref.isWrite
            loadedAt[frame] = time
            lastUsed[frame] = time
            uses[frame] = 1
            refBit[frame] = true
        }
        return counts
    }
}

/// A set-associative LRU structure as arrays of recency-ordered lists (most recent first).
struct ReferenceLRUSets {
    var sets: [[(key: UInt64, dirty: Bool)]]
    let ways: Int
    var hits = 0, misses = 0, evictions = 0, writeBacks = 0

    init(sets: Int, ways: Int) {
        self.sets = Array(repeating: [], count: sets)
        self.ways = ways
    }

    /// Returns the evicted dirty key, if any, and whether it hit.
    mutating func access(_ key: UInt64, write: Bool) -> (hit: Bool, dirtyVictim: UInt64?) {
        let set = Int(key % UInt64(sets.count))
        if let position = sets[set].firstIndex(where: { $0.key == key }) {
            var entry = sets[set].remove(at: position)
            entry.dirty = entry.dirty || write
            sets[set].insert(entry, at: 0)
            hits += 1
            return (true, nil)
        }
        misses += 1
        var dirtyVictim: UInt64?
        if sets[set].count == ways {
            let victim = sets[set].removeLast()
            evictions += 1
            if victim.dirty { writeBacks += 1; dirtyVictim = victim.key }
        }
        sets[set].insert((key, write), at: 0)
        return (false, dirtyVictim)
    }
}

/// A two-level write-back, write-allocate cache with the same line size at both levels.
struct ReferenceTwoLevelCache {
    var l1: ReferenceLRUSets, l2: ReferenceLRUSets
    let lineSize: UInt64
    var memoryReads = 0, memoryWrites = 0

    mutating func access(_ access: MemoryAccess) {
        let first = access.address / lineSize
        let last = (access.address + UInt64(max(access.size, 1)) - 1) / lineSize
        for line in first...last { accessL1(line, write: access.kind == .write || access.kind == .modify) }
    }

    private mutating func accessL1(_ line: UInt64, write: Bool) {
        let (hit, victim) = l1.access(line, write: write)
        if hit { return }
        if let victim { accessL2(victim, write: true) }
        accessL2(line, write: false)
    }

    private mutating func accessL2(_ line: UInt64, write: Bool) {
        let (hit, victim) = l2.access(line, write: write)
        if hit { return }
        if victim != nil { memoryWrites += 1 }
        memoryReads += 1
    }
}
