/// A small seeded pseudo-random generator (SplitMix64, Steele, Lea and Flood 2014): the same seed
/// gives the same sequence on every machine and every Swift version, so simulations are reproducible.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator's 64-bit state; advanced by a fixed odd constant on every draw.
    public private(set) var state: UInt64

    /// A generator that starts from `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// A uniformly distributed integer in `0..<bound` (Lemire's multiply-shift with rejection,
    /// so the result is exact and depends only on this generator's sequence).
    public mutating func next(below bound: UInt64) -> UInt64 {
        precondition(bound > 0, "bound must be positive")
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold {
                product = next().multipliedFullWidth(by: bound)
            }
        }
        return product.high
    }
}
