/// A built-in access pattern, so a learner can see thrashing (or its absence) without a program.
///
/// Spelled on the command line as:
/// - `stride:BYTES:COUNT[:PASSES]`: COUNT addresses BYTES apart, swept PASSES times (default 100).
///   A stride equal to (sets x line size) puts every address in the same cache set: thrashing.
/// - `sequential:SPAN[:PASSES]`: every 8-byte word of SPAN bytes in order, PASSES times (default 1).
/// - `random:SPAN:COUNT`: COUNT 8-byte-aligned addresses drawn uniformly in SPAN bytes (seeded).
/// Sizes accept the suffixes k, m, g (KiB, MiB, GiB).
public struct SyntheticTrace: MemoryAccessSource, Sendable, Equatable {
    /// The shape of the address sequence.
    public enum Pattern: Sendable, Equatable {
        /// `count` addresses `strideBytes` apart, swept `passes` times.
        case stride(strideBytes: UInt64, count: UInt64, passes: UInt64)
        /// Every 8-byte word of `spanBytes` in order, `passes` times.
        case sequential(spanBytes: UInt64, passes: UInt64)
        /// `count` uniformly random 8-byte-aligned addresses within `spanBytes`.
        case random(spanBytes: UInt64, count: UInt64)
    }

    /// The first address of every pattern (bytes): 256 MiB, aligned to any cache or page geometry.
    public static let baseAddress: UInt64 = 0x1000_0000
    /// Bytes per synthetic access.
    public static let accessSize: UInt32 = 8

    /// The address sequence.
    public var pattern: Pattern
    /// Read, write or modify for every access.
    public var kind: AccessKind
    /// Seed of the generator used by `random`.
    public var seed: UInt64
    /// Accesses handed to the consumer at a time.
    public var batchSize: Int = 1 << 16

    /// A synthetic trace of `pattern`, every access of `kind`, random draws seeded by `seed`.
    public init(pattern: Pattern, kind: AccessKind = .read, seed: UInt64 = 1) {
        self.pattern = pattern
        self.kind = kind
        self.seed = seed
    }

    /// Parses `stride:BYTES:COUNT[:PASSES]`, `sequential:SPAN[:PASSES]` or `random:SPAN:COUNT`.
    public init(specification: String, kind: AccessKind = .read, seed: UInt64 = 1) throws {
        let parts = specification.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func number(_ index: Int, _ what: String) throws -> UInt64 {
            guard index < parts.count, let value = parseByteCount(parts[index]), value > 0 else {
                throw SyntheticTraceError(description:
                    "--synthetic \(specification): expected a positive \(what) in field \(index + 1)"
                    + " (forms: stride:BYTES:COUNT[:PASSES], sequential:SPAN[:PASSES], random:SPAN:COUNT)")
            }
            return value
        }
        let pattern: Pattern
        switch parts.first {
        case "stride" where parts.count == 3 || parts.count == 4:
            pattern = .stride(strideBytes: try number(1, "stride in bytes"), count: try number(2, "address count"),
                              passes: parts.count == 4 ? try number(3, "pass count") : 100)
        case "sequential" where parts.count == 2 || parts.count == 3:
            pattern = .sequential(spanBytes: try number(1, "span in bytes"),
                                  passes: parts.count == 3 ? try number(2, "pass count") : 1)
        case "random" where parts.count == 3:
            pattern = .random(spanBytes: try number(1, "span in bytes"), count: try number(2, "access count"))
        default:
            throw SyntheticTraceError(description:
                "--synthetic \(specification): expected stride:BYTES:COUNT[:PASSES], sequential:SPAN[:PASSES] or random:SPAN:COUNT")
        }
        self.init(pattern: pattern, kind: kind, seed: seed)
    }

    /// How many accesses the pattern makes.
    public var accessCount: UInt64 {
        switch pattern {
        case let .stride(_, count, passes): return count &* passes
        case let .sequential(span, passes): return max(span / 8, 1) &* passes
        case let .random(_, count): return count
        }
    }

    /// Generates the accesses in batches of `batchSize`.
    public func forEachBatch(_ body: (UnsafeBufferPointer<MemoryAccess>) throws -> Void) throws {
        var batch = [MemoryAccess](repeating: MemoryAccess(address: 0, size: 0, kind: kind), count: batchSize)
        var generator = SplitMix64(seed: seed)
        let total = accessCount
        var produced: UInt64 = 0
        let base = Self.baseAddress, size = Self.accessSize, kind = self.kind
        while produced < total {
            let n = Int(min(UInt64(batchSize), total - produced))
            batch.withUnsafeMutableBufferPointer { out in
                switch pattern {
                case let .stride(strideBytes, count, _):
                    var index = produced % count
                    for slot in 0..<n {
                        out[slot] = MemoryAccess(address: base &+ index &* strideBytes, size: size, kind: kind)
                        index += 1
                        if index == count { index = 0 }
                    }
                case let .sequential(span, _):
                    let words = max(span / 8, 1)
                    var index = produced % words
                    for slot in 0..<n {
                        out[slot] = MemoryAccess(address: base &+ index &* 8, size: size, kind: kind)
                        index += 1
                        if index == words { index = 0 }
                    }
                case let .random(span, _):
                    let words = max(span / 8, 1)
                    for slot in 0..<n {
                        out[slot] = MemoryAccess(address: base &+ generator.next(below: words) &* 8, size: size, kind: kind)
                    }
                }
            }
            try batch.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[0..<n])) }
            produced += UInt64(n)
        }
    }
}

/// A `--synthetic` specification that does not parse.
public struct SyntheticTraceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The one-line message.
    public var description: String
}

/// Parses a byte count such as `4096`, `32k`, `2m`, `1g` (binary multiples); nil when malformed.
public func parseByteCount(_ text: String) -> UInt64? {
    var digits = Substring(text.lowercased())
    var multiplier: UInt64 = 1
    if digits.hasSuffix("kib") || digits.hasSuffix("mib") || digits.hasSuffix("gib") { digits = digits.dropLast(2) }
    else if digits.hasSuffix("kb") || digits.hasSuffix("mb") || digits.hasSuffix("gb") { digits = digits.dropLast(1) }
    switch digits.last {
    case "k": multiplier = 1 << 10
    case "m": multiplier = 1 << 20
    case "g": multiplier = 1 << 30
    default: break
    }
    if multiplier != 1 { digits = digits.dropLast() }
    guard let value = UInt64(digits) else { return nil }
    let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
    return overflow ? nil : product
}
