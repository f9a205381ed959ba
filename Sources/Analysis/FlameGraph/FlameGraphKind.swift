/// What a flame graph measures: which per-stack figure sets the width of a frame.
public enum FlameGraphKind: String, CaseIterable, Sendable, Codable {
    /// Bytes requested by every successful allocation.
    case allocated
    /// The number of successful allocations.
    case allocations
    /// Bytes live at the moment of the global heap peak.
    case peak
    /// Bytes still live when the process ended.
    case leaked
    /// Allocations freed before their thread allocated anything else (a count).
    case temporary

    /// True when the figure is in bytes, false when it is a count.
    public var isBytes: Bool {
        switch self {
        case .allocated, .peak, .leaked: true
        case .allocations, .temporary: false
        }
    }

    /// A short caption for titles: `allocated bytes`, `live bytes at the peak`, ...
    public var caption: String {
        switch self {
        case .allocated: "allocated bytes"
        case .allocations: "allocations"
        case .peak: "bytes live at the heap peak"
        case .leaked: "bytes leaked (live at exit)"
        case .temporary: "temporary allocations"
        }
    }

    /// The figure that sets a frame's width, from one stack's statistics (bytes or a count).
    @inlinable public func weight(_ s: StackStatistics) -> UInt64 {
        switch self {
        case .allocated: s.allocatedBytes
        case .allocations: s.allocations
        case .peak: s.peakBytes
        case .leaked: s.leakedBytes
        case .temporary: s.temporary
        }
    }

    /// The byte figure shown next to the weight (0 where the kind has none, as for `temporary`).
    @inlinable public func bytes(_ s: StackStatistics) -> UInt64 {
        switch self {
        case .allocated, .allocations: s.allocatedBytes
        case .peak: s.peakBytes
        case .leaked: s.leakedBytes
        case .temporary: 0
        }
    }

    /// The block count shown next to the weight: allocations, blocks live at the peak or at exit,
    /// or temporary allocations.
    @inlinable public func count(_ s: StackStatistics) -> UInt64 {
        switch self {
        case .allocated, .allocations: s.allocations
        case .peak: s.peakBlocks
        case .leaked: s.leakedBlocks
        case .temporary: s.temporary
        }
    }
}
