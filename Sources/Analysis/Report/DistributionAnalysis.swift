import TraceIO
import TraceModel

/// A histogram over fixed, increasing bucket bounds.
public struct Histogram: Sendable, Equatable {
    /// One bucket: the values in `(previous bucket's upTo, upTo]`.
    public struct Bucket: Sendable, Equatable {
        /// The largest value counted here (inclusive; `UInt64.max` for the last bucket).
        public var upTo: UInt64
        /// Values counted.
        public var count: UInt64
        /// The sum of a byte figure of those values (the sizes for the size histogram, else 0).
        public var bytes: UInt64
        /// Creates a bucket.
        public init(upTo: UInt64, count: UInt64 = 0, bytes: UInt64 = 0) {
            self.upTo = upTo
            self.count = count
            self.bytes = bytes
        }
    }
    /// The buckets, by increasing `upTo`.
    public var buckets: [Bucket]
    /// Creates a histogram from buckets.
    public init(buckets: [Bucket]) { self.buckets = buckets }

    /// Values counted in all buckets.
    public var total: UInt64 { buckets.reduce(0) { $0 &+ $1.count } }

    /// Empty buckets with bounds 0, 1, 2, 4, ... 2^maxExponent, then everything above.
    public static func powersOfTwo(upToExponent maxExponent: Int) -> Histogram {
        var b = [Bucket(upTo: 0)]
        for e in 0...maxExponent { b.append(Bucket(upTo: 1 << UInt64(e))) }
        b.append(Bucket(upTo: .max))
        return Histogram(buckets: b)
    }

    /// Empty buckets with bounds 0, then 1, 10, 100, ... 10^maxExponent, then everything above.
    public static func powersOfTen(from minExponent: Int, upToExponent maxExponent: Int) -> Histogram {
        var b = [Bucket(upTo: 0)]
        var v: UInt64 = 1
        for _ in 0..<minExponent { v *= 10 }
        for _ in minExponent...maxExponent {
            b.append(Bucket(upTo: v))
            v *= 10
        }
        b.append(Bucket(upTo: .max))
        return Histogram(buckets: b)
    }
}

/// A streaming pass that gathers the allocation size histogram and the lifetime histograms
/// (in ns at tick resolution, and in allocations made in between at full resolution), with its own
/// live-block table: bounded memory, never the events.
public struct DistributionAnalysis: TraceVisitor {
    /// Requested sizes (bytes) of successful allocations and realloc results: power-of-two buckets up to 4 GiB.
    public private(set) var sizes = Histogram.powersOfTwo(upToExponent: 32)
    /// Lifetimes in ns: 0 (freed within one sample interval), then decades from 1 µs to 1000 s.
    public private(set) var lifetimeNs = Histogram.powersOfTen(from: 3, upToExponent: 12)
    /// Lifetimes in allocations made (by any thread) between the block's allocation and its free.
    public private(set) var lifetimeAllocations = Histogram.powersOfTwo(upToExponent: 36)
    /// Allocations seen so far.
    public private(set) var allocations: UInt64 = 0
    /// Blocks live now (at the end: never freed).
    public var liveBlocks: UInt64 { UInt64(live.count) }

    /// Per live block: `size` holds the allocation's ordinal, `stack` the index of its tick time in `tickTimes`.
    private let live = LiveBlockMap(capacity: 1 << 16)
    private var tickTimes: [UInt64] = [0]

    /// Creates an empty analysis.
    public init() {}

    /// Notes the tick's time (ns since start): blocks allocated from now on are stamped with it.
    public mutating func visitTick(timeNs: UInt64, residentBytes: UInt64) {
        if timeNs != tickTimes[tickTimes.count - 1] { tickTimes.append(timeNs) }
    }

    /// Counts an allocation's size, or a free's lifetimes (frees of unknown blocks are ignored).
    public mutating func visit(_ event: TraceEvent) {
        switch event.function {
        case .free:
            release(event.address)
        case .realloc, .reallocarray:
            if event.address.rawValue != 0 {
                release(event.oldAddress)
                allocate(event)
            } else if event.size == 0 {
                release(event.oldAddress)
            }
        case .mmap, .munmap, .mremap:
            break
        default:
            if event.address.rawValue != 0 { allocate(event) }
        }
    }

    @inline(__always) private mutating func allocate(_ event: TraceEvent) {
        allocations &+= 1
        Self.add(event.size, bytes: event.size, to: &sizes, powersOfTwo: true)
        let tick = UInt32(truncatingIfNeeded: tickTimes.count - 1)
        _ = live.insert(event.address, .init(size: allocations, stack: StackID(tick), thread: ThreadID(0)))
    }

    @inline(__always) private mutating func release(_ address: Address) {
        guard address.rawValue != 0, let block = live.remove(address) else { return }
        Self.add(allocations &- block.size, bytes: 0, to: &lifetimeAllocations, powersOfTwo: true)
        let born = tickTimes[Int(block.stack.rawValue)]
        Self.add(tickTimes[tickTimes.count - 1] &- born, bytes: 0, to: &lifetimeNs, powersOfTwo: false)
    }

    /// Counts `value` in its bucket: bounds 0, 1, 2, 4, ... (a bit count), or 0 then powers of ten.
    @inline(__always) static func add(_ value: UInt64, bytes: UInt64, to histogram: inout Histogram, powersOfTwo: Bool) {
        var index: Int
        if value == 0 {
            index = 0
        } else if powersOfTwo {
            // value in (2^(k-1), 2^k] goes to bucket k + 1.
            index = 1 + (value == 1 ? 0 : 64 - (value - 1).leadingZeroBitCount)
        } else {
            index = 1
            while index < histogram.buckets.count - 1 && value > histogram.buckets[index].upTo { index += 1 }
        }
        if index >= histogram.buckets.count { index = histogram.buckets.count - 1 }
        histogram.buckets[index].count &+= 1
        histogram.buckets[index].bytes &+= bytes
    }
}

/// Runs two visitors in one pass over a trace.
public struct VisitorPair<A: TraceVisitor, B: TraceVisitor>: TraceVisitor {
    /// The first visitor (sees every event first).
    public var first: A
    /// The second visitor.
    public var second: B
    /// Pairs two visitors.
    public init(_ first: A, _ second: B) {
        self.first = first
        self.second = second
    }
    /// Hands the event to both visitors.
    @inline(__always) public mutating func visit(_ event: TraceEvent) {
        first.visit(event)
        second.visit(event)
    }
    /// Announces a coming event to both visitors.
    @inline(__always) public mutating func prefetch(for event: TraceEvent) {
        first.prefetch(for: event)
        second.prefetch(for: event)
    }
    /// Hands the tick (ns since start, resident bytes) to both visitors.
    @inline(__always) public mutating func visitTick(timeNs: UInt64, residentBytes: UInt64) {
        first.visitTick(timeNs: timeNs, residentBytes: residentBytes)
        second.visitTick(timeNs: timeNs, residentBytes: residentBytes)
    }
}

extension TimelineSample {
    /// A timeline point: `timeNs` since start, live heap and resident bytes (for reports built in code).
    public static func point(timeNs: UInt64, heapBytes: UInt64, residentBytes: UInt64) -> TimelineSample {
        TimelineSample(timeNs: timeNs, heapBytes: heapBytes, residentBytes: residentBytes)
    }
}
