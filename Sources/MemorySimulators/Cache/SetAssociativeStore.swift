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
/// its key, the time of its last use (the LRU order) and a dirty bit. A miss always allocates the
/// key, replacing an empty entry if there is one, else the least recently used.
struct SetAssociativeStore {
    /// The marker of an empty entry (no real key reaches it: keys are addresses shifted right).
    static let invalidKey = UInt64.max

    /// One entry: its key, when it was last used (0 for never: the LRU order) and its dirty bit.
    private struct Entry {
        var key: UInt64 = SetAssociativeStore.invalidKey
        var lastUse: UInt64 = 0
        var dirty = false
    }

    let geometry: SetAssociativeGeometry
    private let ways: Int
    private let setMask: UInt64
    private var entries: [Entry]
    private var clock: UInt64 = 0
    /// Hits in each set.
    private(set) var setHits: [UInt64]
    /// Misses in each set.
    private(set) var setMisses: [UInt64]

    init(geometry: SetAssociativeGeometry) {
        precondition(geometry.setCount > 0 && geometry.setCount.nonzeroBitCount == 1, "set count must be a power of two")
        precondition(geometry.ways > 0, "at least one way")
        self.geometry = geometry
        ways = geometry.ways
        setMask = UInt64(geometry.setCount - 1)
        entries = Array(repeating: Entry(), count: geometry.entryCount)
        setHits = Array(repeating: 0, count: geometry.setCount)
        setMisses = Array(repeating: 0, count: geometry.setCount)
    }

    /// Looks `key` up, makes it the most recently used of its set (allocating it on a miss), and
    /// sets its dirty bit when `markDirty`.
    @inline(__always)
    mutating func access(_ key: UInt64, markDirty: Bool) -> SetAssociativeLookup {
        let set = Int(truncatingIfNeeded: key & setMask)
        let first = set &* ways
        let end = first &+ ways
        clock &+= 1
        let now = clock
        let lookup = entries.withUnsafeMutableBufferPointer { entries -> SetAssociativeLookup in
            var index = first
            while index < end {
                if entries[index].key == key {
                    entries[index].lastUse = now
                    if markDirty { entries[index].dirty = true }
                    return SetAssociativeLookup(isHit: true, evictedKey: Self.invalidKey, evictedDirty: false)
                }
                index &+= 1
            }
            // Empty entries have lastUse 0, so the oldest entry is an empty one if any.
            var victim = first
            index = first &+ 1
            while index < end {
                if entries[index].lastUse < entries[victim].lastUse { victim = index }
                index &+= 1
            }
            let lookup = SetAssociativeLookup(isHit: false, evictedKey: entries[victim].key, evictedDirty: entries[victim].dirty)
            entries[victim] = Entry(key: key, lastUse: now, dirty: markDirty)
            return lookup
        }
        if lookup.isHit {
            setHits[set] &+= 1
        } else {
            setMisses[set] &+= 1
            #if DEBUG
            checkSetInvariants(set)
            #endif
        }
        return lookup
    }

    /// Whether `key` is present, without changing anything.
    func contains(_ key: UInt64) -> Bool {
        let first = Int(truncatingIfNeeded: key & setMask) * ways
        return entries[first..<(first + ways)].contains { $0.key == key }
    }

    /// The keys held, in no particular order.
    var residentKeys: [UInt64] { entries.lazy.map(\.key).filter { $0 != Self.invalidKey } }

    #if DEBUG
    /// Checks one set: every key belongs in it, no key twice, no dirty empty entry.
    private func checkSetInvariants(_ set: Int) {
        let first = set * ways
        for index in first..<(first + ways) {
            let key = entries[index].key
            if key == Self.invalidKey {
                assert(!entries[index].dirty && entries[index].lastUse == 0, "an empty entry is never used or dirty")
                continue
            }
            assert(Int(key & setMask) == set, "key \(key) sits in set \(set)")
            for other in (index + 1)..<(first + ways) { assert(entries[other].key != key, "key \(key) twice in set \(set)") }
        }
    }

    /// Checks every set.
    func checkInvariants() {
        for set in 0..<geometry.setCount { checkSetInvariants(set) }
    }
    #endif
}
