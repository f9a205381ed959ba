/// The shape of a set-associative structure (a cache level or a TLB).
public struct SetAssociativeGeometry: Sendable, Codable, Equatable {
    /// Number of sets, a power of two.
    public var setCount: Int
    /// Entries per set (associativity).
    public var ways: Int

    /// A geometry of `setCount` sets (a power of two) of `ways` entries each.
    public init(setCount: Int, ways: Int) {
        self.setCount = setCount
        self.ways = ways
    }

    /// Total entries (`setCount * ways`).
    public var entryCount: Int { setCount * ways }
}

/// What a lookup in a `SetAssociativeStore` found.
struct SetAssociativeLookup {
    /// Whether the key was present.
    var isHit: Bool
    /// On a miss that replaced a valid entry: the evicted key; otherwise `SetAssociativeStore.invalidKey`.
    var evictedKey: UInt64
    /// Whether the evicted entry was dirty.
    var evictedDirty: Bool
}

/// Keys in sets with LRU replacement: the common core of the cache levels and the TLB.
///
/// A key (a line number or a virtual page number) lives in set `key % setCount`. Each entry holds
/// its key and a stamp: the time of its last use shifted left by one (the LRU order; 0 for an
/// empty entry) with the dirty bit in bit 0. A miss always allocates the key, replacing an empty
/// entry if there is one, else the least recently used.
///
/// Layout, chosen so a lookup touches one contiguous block: per set, `ways` keys, then `ways`
/// stamps, then the set's hit and miss counters, all in one `[UInt64]`.
struct SetAssociativeStore {
    /// The marker of an empty entry (no real key reaches it: keys are addresses shifted right).
    static let invalidKey = UInt64.max

    let geometry: SetAssociativeGeometry
    private let ways: Int
    private let blockSize: Int
    private let setMask: UInt64
    private var storage: [UInt64]
    private var clock: UInt64 = 0

    init(geometry: SetAssociativeGeometry) {
        precondition(geometry.setCount > 0 && geometry.setCount.nonzeroBitCount == 1, "set count must be a power of two")
        precondition(geometry.ways > 0, "at least one way")
        self.geometry = geometry
        ways = geometry.ways
        blockSize = 2 * geometry.ways + 2
        setMask = UInt64(geometry.setCount - 1)
        storage = Array(repeating: 0, count: geometry.setCount * blockSize)
        for set in 0..<geometry.setCount {
            for way in 0..<ways { storage[set * blockSize + way] = Self.invalidKey }
        }
    }

    /// Looks `key` up, makes it the most recently used of its set (allocating it on a miss), and
    /// sets its dirty bit when `markDirty`.
    @inline(__always)
    mutating func access(_ key: UInt64, markDirty: Bool) -> SetAssociativeLookup {
        let set = Int(truncatingIfNeeded: key & setMask)
        let base = set &* blockSize
        let ways = self.ways
        clock &+= 1
        let stamp = clock << 1 | (markDirty ? 1 : 0)
        let lookup = storage.withUnsafeMutableBufferPointer { buffer -> SetAssociativeLookup in
            let block = buffer.baseAddress! + base
            let stamps = block + ways
            var victim = 0
            var oldest = UInt64.max
            var way = 0
            while way < ways {
                if block[way] == key {
                    stamps[way] = stamp | (stamps[way] & 1)
                    block[2 &* ways] &+= 1
                    return SetAssociativeLookup(isHit: true, evictedKey: Self.invalidKey, evictedDirty: false)
                }
                // Empty entries have stamp 0, so the oldest entry is an empty one if any.
                if stamps[way] < oldest {
                    oldest = stamps[way]
                    victim = way
                }
                way &+= 1
            }
            let lookup = SetAssociativeLookup(isHit: false, evictedKey: block[victim], evictedDirty: stamps[victim] & 1 == 1)
            block[victim] = key
            stamps[victim] = stamp
            block[2 &* ways &+ 1] &+= 1
            return lookup
        }
        #if DEBUG
        if !lookup.isHit { checkSetInvariants(set) }
        #endif
        return lookup
    }

    /// Hits in each set, set 0 first.
    var setHits: [UInt64] { (0..<geometry.setCount).map { storage[$0 * blockSize + 2 * ways] } }
    /// Misses in each set, set 0 first.
    var setMisses: [UInt64] { (0..<geometry.setCount).map { storage[$0 * blockSize + 2 * ways + 1] } }

    /// Whether `key` is present, without changing anything.
    func contains(_ key: UInt64) -> Bool {
        let base = Int(truncatingIfNeeded: key & setMask) * blockSize
        return storage[base..<(base + ways)].contains(key)
    }

    /// The keys held, in no particular order.
    var residentKeys: [UInt64] {
        (0..<geometry.setCount).flatMap { set in
            storage[(set * blockSize)..<(set * blockSize + ways)].filter { $0 != Self.invalidKey }
        }
    }

    #if DEBUG
    /// Checks one set: every key belongs in it, no key twice, an empty entry is unused and clean.
    private func checkSetInvariants(_ set: Int) {
        let base = set * blockSize
        for way in 0..<ways {
            let key = storage[base + way]
            if key == Self.invalidKey {
                assert(storage[base + ways + way] == 0, "an empty entry is never used or dirty")
                continue
            }
            assert(Int(key & setMask) == set, "key \(key) sits in set \(set)")
            assert(storage[base + ways + way] >> 1 <= clock, "stamps come from the clock")
            for other in (way + 1)..<ways { assert(storage[base + other] != key, "key \(key) twice in set \(set)") }
        }
    }

    /// Checks every set.
    func checkInvariants() {
        for set in 0..<geometry.setCount { checkSetInvariants(set) }
    }
    #endif
}
