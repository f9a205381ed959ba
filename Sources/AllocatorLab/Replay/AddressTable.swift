/// A map from non-zero 64-bit keys (trace addresses) to 32-bit values (slots, node indices): open
/// addressing with linear probing and backward-shift deletion, several times faster than `Dictionary`.
public struct AddressTable {
    private var keys: [UInt64]
    private var values: [UInt32]
    private var mask: Int
    /// The number of keys stored.
    public private(set) var count = 0

    /// Creates an empty table with room for about `capacity` keys before it grows.
    public init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: 0, count: size)
        values = [UInt32](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always) private static func hash(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: ((key >> 3) &* 0x9E37_79B9_7F4A_7C15) >> 24)
    }

    /// The value stored for `key` (non-zero), or nil.
    @inline(__always) public func value(for key: UInt64) -> UInt32? {
        var i = Self.hash(key) & mask
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    /// Stores `value` for `key` (non-zero), returning the value it replaced.
    @discardableResult
    public mutating func set(_ key: UInt64, _ value: UInt32) -> UInt32? {
        precondition(key != 0, "AddressTable keys must be non-zero")
        if (count + 1) * 2 > mask + 1 { grow() }
        var i = Self.hash(key) & mask
        while true {
            let k = keys[i]
            if k == key {
                let old = values[i]
                values[i] = value
                return old
            }
            if k == 0 {
                keys[i] = key
                values[i] = value
                count += 1
                return nil
            }
            i = (i + 1) & mask
        }
    }

    /// Removes `key`, returning its value, or nil when absent.
    @discardableResult
    public mutating func remove(_ key: UInt64) -> UInt32? {
        guard key != 0 else { return nil }
        var i = Self.hash(key) & mask
        while true {
            let k = keys[i]
            if k == 0 { return nil }
            if k == key { break }
            i = (i + 1) & mask
        }
        let found = values[i]
        var hole = i
        var j = (i + 1) & mask
        while keys[j] != 0 {
            let home = Self.hash(keys[j]) & mask
            if (j &- home) & mask >= (j &- hole) & mask {
                keys[hole] = keys[j]
                values[hole] = values[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        keys[hole] = 0
        count -= 1
        return found
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        let size = (mask + 1) * 2
        keys = [UInt64](repeating: 0, count: size)
        values = [UInt32](repeating: 0, count: size)
        mask = size - 1
        count = 0
        for i in 0..<oldKeys.count where oldKeys[i] != 0 { set(oldKeys[i], oldValues[i]) }
    }
}
