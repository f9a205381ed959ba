/// An open-addressing hash set of 64-bit keys with linear probing, for the simulators' hot paths
/// (a `Set<UInt64>` costs a generic hash per probe). `UInt64.max` is reserved as the empty marker.
struct UInt64HashSet {
    private static let emptySlot = UInt64.max
    private var slots: [UInt64]
    private var slotMask: Int
    /// The number of keys held.
    private(set) var count: Int = 0

    /// An empty set sized for about `minimumCapacity` keys before its first growth.
    init(minimumCapacity: Int = 16) {
        var capacity = 16
        while capacity < minimumCapacity * 2 { capacity <<= 1 }
        slots = Array(repeating: Self.emptySlot, count: capacity)
        slotMask = capacity - 1
    }

    @inline(__always)
    private func homeSlot(of key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20) & slotMask
    }

    /// Whether `key` is in the set.
    func contains(_ key: UInt64) -> Bool {
        var slot = homeSlot(of: key)
        while true {
            let stored = slots[slot]
            if stored == key { return true }
            if stored == Self.emptySlot { return false }
            slot = (slot + 1) & slotMask
        }
    }

    /// Adds `key`; returns true when it was not already present.
    @discardableResult
    mutating func insert(_ key: UInt64) -> Bool {
        assert(key != Self.emptySlot, "UInt64.max is reserved as the empty marker")
        if (count + 1) * 2 > slots.count { grow() }
        var slot = homeSlot(of: key)
        while true {
            let stored = slots[slot]
            if stored == key { return false }
            if stored == Self.emptySlot {
                slots[slot] = key
                count += 1
                return true
            }
            slot = (slot + 1) & slotMask
        }
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Self.emptySlot, count: old.count * 2)
        slotMask = slots.count - 1
        count = 0
        for key in old where key != Self.emptySlot { insert(key) }
    }
}
