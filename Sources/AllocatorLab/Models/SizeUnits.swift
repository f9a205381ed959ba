/// Block sizes as the indexes' size summaries hold them: 16-byte units, 32 bits each, half the
/// bytes of byte counts (so more of a summary stays in cache and a rescan reads half as much).
///
/// `BlockHeap` block sizes are multiples of 16 bytes, so a block's units are exact below 64 GiB.
/// A block of 64 GiB or more saturates at `UInt32.max`: an index keeps its exact size aside and
/// checks it when a search asks for that much.
enum SizeUnits {
    typealias Value = UInt32

    /// `bytes` in units, rounded up (a request of `bytes` fits a block of this many units or more)
    /// and saturated.
    @inline(__always) static func of(_ bytes: UInt64) -> Value {
        let units = bytes &>> 4 &+ (bytes & 15 == 0 ? 0 : 1)
        return Value(truncatingIfNeeded: min(units, UInt64(Value.max)))
    }

    /// The bytes of `units` (exact unless saturated).
    @inline(__always) static func bytes(_ units: Value) -> UInt64 { UInt64(units) &<< 4 }
}
