import TraceIO
import TraceModel

/// Successful allocations and their requested bytes per stack per time slice: what the report
/// needs to show the call sites and flame graphs of a time range. Slice `k` holds the events whose
/// time (the last sample tick before them) is in `[k × widthNs, (k + 1) × widthNs)`.
public struct AllocationSlices: Sendable, Equatable {
    /// One stack's figures in one slice.
    public struct Entry: Sendable, Equatable {
        /// The allocating stack.
        public var stack: StackID
        /// The slice's index.
        public var slice: UInt32
        /// Successful allocations (malloc family and realloc results) from the stack in the slice.
        public var allocations: UInt64
        /// Bytes those allocations requested.
        public var bytes: UInt64
        /// Creates an entry.
        public init(stack: StackID, slice: UInt32, allocations: UInt64, bytes: UInt64) {
            self.stack = stack
            self.slice = slice
            self.allocations = allocations
            self.bytes = bytes
        }
    }
    /// The width of one slice, in ns.
    public var widthNs: UInt64
    /// Slices from the start of the run to its end (the last covers the end).
    public var count: Int
    /// One entry per (stack, slice) with allocations, by stack id, then slice.
    public var entries: [Entry]

    /// Creates slices from parts (tests build them in code).
    public init(widthNs: UInt64, count: Int, entries: [Entry]) {
        self.widthNs = widthNs
        self.count = count
        self.entries = entries
    }

    /// The slice that holds time `ns`.
    public func slice(at ns: UInt64) -> Int { min(Int(ns / widthNs), count - 1) }
}

/// A streaming pass that counts successful allocations and their bytes per stack per time slice
/// (`AllocationSlices`), without knowing the run's length beforehand: the run is cut into at most
/// `maxSlices` slices whose width starts at `initialWidthNs` and doubles (neighbouring slices
/// merged) whenever an event falls past the last slice.
///
/// Cost per allocation: one compare and two adds on the stack's pending slice; a stack's figures go
/// to a log only when its slice changes. Memory: 16 bytes per stack plus 24 bytes per (stack,
/// slice) pair with allocations, at most min(allocations, 2 × stacks × maxSlices) entries.
public struct AllocationSliceAnalysis: TraceVisitor {
    /// Slices at most (the width doubles to keep the run within them).
    public let maxSlices: Int
    /// The current slice width, in ns (a power-of-two multiple of the initial width).
    public var widthNs: UInt64 { counters.widthNs }

    private let counters: SliceCounters
    private var lastTimeNs: UInt64 = 0
    private var currentSlice: UInt32 = 0

    /// Creates the pass: at most `maxSlices` slices, starting `initialWidthNs` wide (1 ms).
    public init(maxSlices: Int = 64, initialWidthNs: UInt64 = 1_000_000) {
        precondition(maxSlices >= 2 && initialWidthNs > 0)
        self.maxSlices = maxSlices
        counters = SliceCounters(widthNs: initialWidthNs)
    }

    /// Counts a successful allocation (malloc family or realloc result) in its stack's slice.
    @inline(__always) public mutating func visit(_ event: TraceEvent) {
        switch event.function {
        case .free, .mmap, .munmap, .mremap: return
        default: if event.address.rawValue == 0 { return }
        }
        if event.timeNs != lastTimeNs { setTime(event.timeNs) }
        counters.add(stack: Int(event.stack.rawValue), slice: currentSlice, bytes: event.size)
    }

    private mutating func setTime(_ ns: UInt64) {
        lastTimeNs = ns
        counters.cover(ns, maxSlices: maxSlices)
        currentSlice = UInt32(ns / counters.widthNs)
    }

    /// The figures, with the width widened (if needed) until the run's end, `durationNs`, falls in
    /// the last of at most `maxSlices` slices.
    public func finish(durationNs: UInt64) -> AllocationSlices {
        counters.cover(max(durationNs, lastTimeNs), maxSlices: maxSlices)
        counters.flushAll()
        counters.compact()
        let width = counters.widthNs
        return AllocationSlices(widthNs: width, count: Int(max(durationNs, lastTimeNs) / width) + 1, entries: counters.log)
    }
}

/// `AllocationSliceAnalysis`'s counters in plain memory (one owner, no copy-on-write): the pending
/// slice of every stack and the log of finished (stack, slice) figures.
final class SliceCounters {
    struct Pending {
        var slice: UInt32 = .max  // .max: nothing pending
        var count: UInt32 = 0
        var bytes: UInt64 = 0
    }
    @exclusivity(unchecked) private(set) var widthNs: UInt64
    @exclusivity(unchecked) private var pending: UnsafeMutablePointer<Pending>
    @exclusivity(unchecked) private var capacity: Int
    @exclusivity(unchecked) private(set) var log: [AllocationSlices.Entry] = []

    init(widthNs: UInt64) {
        self.widthNs = widthNs
        capacity = 1024
        pending = .allocate(capacity: capacity)
        pending.initialize(repeating: Pending(), count: capacity)
    }

    deinit { pending.deallocate() }

    @inline(__always) func add(stack s: Int, slice: UInt32, bytes: UInt64) {
        if s >= capacity { grow(to: s) }
        let p = pending + s
        if p.pointee.slice != slice || p.pointee.count == .max {
            flush(s)
            p.pointee.slice = slice
        }
        p.pointee.count &+= 1
        p.pointee.bytes &+= bytes
    }

    private func grow(to s: Int) {
        let grown = max(s + 1, capacity * 2)
        let larger = UnsafeMutablePointer<Pending>.allocate(capacity: grown)
        larger.moveInitialize(from: pending, count: capacity)
        (larger + capacity).initialize(repeating: Pending(), count: grown - capacity)
        pending.deallocate()
        pending = larger
        capacity = grown
    }

    /// Moves stack `s`'s pending figures to the log.
    @inline(never) private func flush(_ s: Int) {
        let p = pending + s
        guard p.pointee.count > 0 else { return }
        log.append(.init(stack: StackID(UInt32(s)), slice: p.pointee.slice, allocations: UInt64(p.pointee.count), bytes: p.pointee.bytes))
        p.pointee.count = 0
        p.pointee.bytes = 0
    }

    func flushAll() {
        for s in 0..<capacity { flush(s) }
    }

    /// Doubles the width until `ns` falls within the first `maxSlices` slices, merging neighbours.
    func cover(_ ns: UInt64, maxSlices: Int) {
        var shift: UInt32 = 0
        while ns / (widthNs << UInt64(shift)) >= UInt64(maxSlices) { shift += 1 }
        guard shift > 0 else { return }
        widthNs <<= UInt64(shift)
        for s in 0..<capacity where pending[s].slice != .max { pending[s].slice >>= shift }
        for i in log.indices { log[i].slice >>= shift }
        compact()
    }

    /// Sorts the log by stack then slice and merges the entries of the same (stack, slice).
    func compact() {
        guard !log.isEmpty else { return }
        log.sort { $0.stack != $1.stack ? $0.stack < $1.stack : $0.slice < $1.slice }
        var out = 0
        for i in 1..<log.count {
            if log[i].stack == log[out].stack && log[i].slice == log[out].slice {
                log[out].allocations &+= log[i].allocations
                log[out].bytes &+= log[i].bytes
            } else {
                out += 1
                log[out] = log[i]
            }
        }
        log.removeSubrange((out + 1)...)
    }
}
