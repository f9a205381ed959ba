import CMemAtlasShims
import TraceIO
import TraceModel

/// Per-stack figures gathered by `HeapAnalysis`.
public struct StackStatistics: Sendable, Equatable {
    /// Successful allocations (malloc family and realloc results) from this stack.
    public var allocations: UInt64 = 0
    /// Bytes those allocations requested.
    public var allocatedBytes: UInt64 = 0
    /// Allocations freed before the allocating thread allocated anything else.
    public var temporary: UInt64 = 0
    /// Bytes live from this stack at the global peak of the live heap.
    public var peakBytes: UInt64 = 0
    /// Blocks live from this stack at the global peak.
    public var peakBlocks: UInt64 = 0
    /// Bytes still live at the end of the trace (leaked at exit).
    public var leakedBytes: UInt64 = 0
    /// Blocks still live at the end of the trace.
    public var leakedBlocks: UInt64 = 0
    /// Creates zeroed statistics.
    public init() {}
}

/// The result of one streaming pass over a trace: totals, peak, leaks, per-stack figures.
public struct HeapProfile: Sendable {
    /// Calls per function, failed calls included.
    public var calls: [AllocationFunction: UInt64] = [:]
    /// Calls that returned NULL / MAP_FAILED (size 0 requests excluded).
    public var failedCalls: [AllocationFunction: UInt64] = [:]
    /// Successful heap allocations (malloc family + realloc results).
    public var allocations: UInt64 = 0
    /// Bytes requested by those allocations.
    public var allocatedBytes: UInt64 = 0
    /// Allocations freed before the allocating thread allocated again.
    public var temporaryAllocations: UInt64 = 0
    /// Peak of the live heap (sum of requested sizes of live blocks), in bytes.
    public var peakBytes: UInt64 = 0
    /// Live blocks at that peak.
    public var peakBlocks: UInt64 = 0
    /// When the peak was reached, in ns since the process started (tick resolution).
    public var peakTimeNs: UInt64 = 0
    /// Bytes live at the end of the trace.
    public var leakedBytes: UInt64 = 0
    /// Blocks live at the end of the trace.
    public var leakedBlocks: UInt64 = 0
    /// Frees of addresses that were not live (allocated before recording started, or foreign).
    public var unmatchedFrees: UInt64 = 0
    /// Highest resident set size sampled, in bytes.
    public var peakResidentBytes: UInt64 = 0
    /// When it was sampled, in ns since start.
    public var peakResidentTimeNs: UInt64 = 0
    /// Peak bytes of anonymous mappings made by the program (mmap/mremap, not malloc's own).
    public var peakMappedBytes: UInt64 = 0
    /// Anonymous mapping bytes still mapped at the end.
    public var mappedBytesAtEnd: UInt64 = 0
    /// Events in the trace.
    public var events: UInt64 = 0
    /// Per-stack figures, indexed by stack id (index 0: events without a stack).
    public var stacks: [StackStatistics] = []
    /// Threads that made allocator calls, with their call counts.
    public var threadCalls: [ThreadID: UInt64] = [:]
    /// Timeline samples: (ns since start, live heap bytes, resident bytes) at every tick.
    public var timeline: [TimelineSample] = []
}

/// One point of the memory timeline.
public struct TimelineSample: Sendable, Equatable {
    /// ns since the process started.
    public var timeNs: UInt64
    /// Live heap bytes at that moment.
    public var heapBytes: UInt64
    /// Resident set size in bytes (0 when not sampled).
    public var residentBytes: UInt64
}

/// A streaming pass over a trace that computes a `HeapProfile` with bounded memory: the live-block
/// table and per-stack counters, never the events.
public struct HeapAnalysis: TraceVisitor {
    private var profile = HeapProfile()
    private let counters = HeapCounters()
    private let live = LiveBlockMap(capacity: 1 << 16)
    private var liveBytes: UInt64 = 0
    /// Incremented at every new global peak: a stack whose saved epoch differs has not changed since
    /// the last peak, so its current live figures are its figures at the peak.
    private var peakEpoch: UInt32 = 1
    /// The allocating thread's last allocation, for "temporary" (freed before the next allocation).
    private var currentThread = ThreadID(0)
    private var currentLastAllocation: UInt64 = 0
    private var lastAllocationByThread: [ThreadID: UInt64] = [:]
    private var currentThreadCalls: UInt64 = 0
    private var mappings = MappingSet()
    private var latestTimeNs: UInt64 = 0

    /// Creates an analysis.
    public init() {}

    public mutating func visitTick(timeNs: UInt64, residentBytes: UInt64) {
        latestTimeNs = timeNs
        if residentBytes > profile.peakResidentBytes {
            profile.peakResidentBytes = residentBytes
            profile.peakResidentTimeNs = timeNs
        }
        profile.timeline.append(TimelineSample(timeNs: timeNs, heapBytes: liveBytes, residentBytes: residentBytes))
    }

    @inline(__always) public mutating func visit(_ event: TraceEvent) {
        profile.events &+= 1
        if event.thread != currentThread { switchThread(to: event.thread) }
        currentThreadCalls &+= 1
        let index = Int(event.function.rawValue & 0x0f)
        counters.calls[index] &+= 1
        switch event.function {
        case .free:
            release(event.address, freeingThread: event.thread)
        case .realloc, .reallocarray:
            if event.address.rawValue != 0 {
                if event.oldAddress.rawValue != 0 { release(event.oldAddress, freeingThread: event.thread, countTemporary: false) }
                allocate(event)
            } else if event.size == 0 {
                if event.oldAddress.rawValue != 0 { release(event.oldAddress, freeingThread: event.thread, countTemporary: false) }
            } else {
                counters.failed[index] &+= 1  // the old block stays live
            }
        case .mmap:
            if event.address.rawValue == 0 { counters.failed[index] &+= 1 } else { mappings.map(event.address.rawValue, length: event.size, stack: event.stack) }
            profile.peakMappedBytes = max(profile.peakMappedBytes, mappings.totalBytes)
        case .munmap:
            mappings.unmap(event.address.rawValue, length: event.size)
        case .mremap:
            if event.address.rawValue == 0 {
                counters.failed[index] &+= 1
            } else {
                mappings.move(from: event.oldAddress.rawValue, oldLength: event.oldSize, to: event.address.rawValue, length: event.size, stack: event.stack)
                profile.peakMappedBytes = max(profile.peakMappedBytes, mappings.totalBytes)
            }
        default:
            if event.address.rawValue != 0 {
                allocate(event)
            } else if event.size != 0 {
                counters.failed[index] &+= 1
            }
        }
    }

    /// Fetches the live-block slots and the stack's counters that `visit(event)` will touch: with
    /// many live blocks and stacks both tables are several MiB, and their lookups were most of
    /// the pass's time.
    @inline(__always) public mutating func prefetch(for event: TraceEvent) {
        live.prefetch(event.address)
        if event.oldAddress.rawValue != 0 { live.prefetch(event.oldAddress) }
        counters.prefetch(Int(event.stack.rawValue))
    }

    private mutating func switchThread(to thread: ThreadID) {
        if currentThread.rawValue != 0 {
            lastAllocationByThread[currentThread] = currentLastAllocation
            profile.threadCalls[currentThread, default: 0] &+= currentThreadCalls
        }
        currentThreadCalls = 0
        currentThread = thread
        currentLastAllocation = lastAllocationByThread[thread] ?? 0
    }

    /// The stack's counters, with its figures at the last peak saved before its first change
    /// since that peak.
    @inline(__always) private func touchStack(_ s: Int) -> UnsafeMutablePointer<HeapCounters.Stack> {
        if s >= counters.stackCount {
            counters.grow(to: s)
            counters.noteStack(s)
        }
        let entry = counters.stacks + s
        if entry.pointee.savedEpoch != peakEpoch {
            entry.pointee.peakBytes = entry.pointee.liveBytes
            entry.pointee.peakBlocks = entry.pointee.liveBlocks
            entry.pointee.savedEpoch = peakEpoch
        }
        return entry
    }

    @inline(__always) private mutating func allocate(_ event: TraceEvent) {
        let s = Int(event.stack.rawValue)
        let entry = touchStack(s)
        if let replaced = live.insert(event.address, .init(size: event.size, stack: event.stack, thread: event.thread)) {
            // The same address handed out twice without a free in between (the free happened
            // before recording began, or in untraced code): drop the stale block.
            dropLive(replaced)
        }
        profile.allocations &+= 1
        profile.allocatedBytes &+= event.size
        entry.pointee.allocations &+= 1
        entry.pointee.allocatedBytes &+= event.size
        entry.pointee.liveBytes &+= event.size
        entry.pointee.liveBlocks &+= 1
        liveBytes &+= event.size
        currentLastAllocation = event.address.rawValue
        if liveBytes > profile.peakBytes {
            profile.peakBytes = liveBytes
            profile.peakBlocks = UInt64(live.count)
            profile.peakTimeNs = latestTimeNs
            peakEpoch &+= 1
        }
    }

    @inline(__always) private mutating func dropLive(_ block: LiveBlockMap.Block) {
        let entry = touchStack(Int(block.stack.rawValue))
        entry.pointee.liveBytes &-= block.size
        entry.pointee.liveBlocks &-= 1
        liveBytes &-= block.size
    }

    @inline(__always) private mutating func release(_ address: Address, freeingThread: ThreadID, countTemporary: Bool = true) {
        guard address.rawValue != 0 else { return }
        guard let block = live.remove(address) else {
            profile.unmatchedFrees &+= 1
            return
        }
        dropLive(block)
        guard countTemporary else { return }
        if block.thread == currentThread {
            if currentLastAllocation == address.rawValue {
                counters.stacks[Int(block.stack.rawValue)].temporary &+= 1
                profile.temporaryAllocations &+= 1
                currentLastAllocation = 0
            }
        } else if lastAllocationByThread[block.thread] == address.rawValue {
            counters.stacks[Int(block.stack.rawValue)].temporary &+= 1
            profile.temporaryAllocations &+= 1
            lastAllocationByThread[block.thread] = 0
        }
    }

    /// Finishes the pass: leaks are what is live now.
    public mutating func finish() -> HeapProfile {
        if currentThread.rawValue != 0 { profile.threadCalls[currentThread, default: 0] &+= currentThreadCalls }
        var stats: [StackStatistics] = []
        stats.reserveCapacity(counters.stackCount)
        for s in 0..<counters.stackCount {
            let c = counters.stacks[s]
            var figures = StackStatistics()
            figures.allocations = c.allocations
            figures.allocatedBytes = c.allocatedBytes
            figures.temporary = c.temporary
            // Unchanged since the last peak: its current figures are its figures at the peak.
            figures.peakBytes = c.savedEpoch == peakEpoch ? c.peakBytes : c.liveBytes
            figures.peakBlocks = c.savedEpoch == peakEpoch ? c.peakBlocks : c.liveBlocks
            figures.leakedBytes = c.liveBytes
            figures.leakedBlocks = c.liveBlocks
            stats.append(figures)
        }
        profile.leakedBytes = liveBytes
        profile.leakedBlocks = UInt64(live.count)
        profile.mappedBytesAtEnd = mappings.totalBytes
        for function in AllocationFunction.allCases {
            let i = Int(function.rawValue & 0x0f)
            profile.calls[function] = counters.calls[i]
            if counters.failed[i] > 0 { profile.failedCalls[function] = counters.failed[i] }
        }
        // munmap counts only calls that released a mapping the program made itself.
        profile.calls[.munmap] = mappings.unmapCalls
        profile.stacks = stats
        profile.timeline.append(TimelineSample(timeNs: latestTimeNs, heapBytes: liveBytes, residentBytes: profile.timeline.last?.residentBytes ?? 0))
        return profile
    }
}

/// HeapAnalysis's hot counters in plain memory: per-stack figures and per-function call counts,
/// updated millions of times a second without copy-on-write or exclusivity checks (one owner).
final class HeapCounters {
    struct Stack {
        var allocations: UInt64 = 0
        var allocatedBytes: UInt64 = 0
        var temporary: UInt64 = 0
        var liveBytes: UInt64 = 0
        var liveBlocks: UInt64 = 0
        var peakBytes: UInt64 = 0
        var peakBlocks: UInt64 = 0
        var savedEpoch: UInt32 = 0
    }
    @exclusivity(unchecked) private(set) var stacks: UnsafeMutablePointer<Stack>
    @exclusivity(unchecked) private(set) var stackCapacity: Int
    /// One past the highest stack id seen.
    @exclusivity(unchecked) private(set) var stackCount = 1
    let calls = UnsafeMutablePointer<UInt64>.allocate(capacity: 16)
    let failed = UnsafeMutablePointer<UInt64>.allocate(capacity: 16)

    init() {
        stackCapacity = 1024
        stacks = .allocate(capacity: stackCapacity)
        stacks.initialize(repeating: Stack(), count: stackCapacity)
        calls.initialize(repeating: 0, count: 16)
        failed.initialize(repeating: 0, count: 16)
    }

    deinit {
        stacks.deallocate()
        calls.deallocate()
        failed.deallocate()
    }

    /// Fetches stack `s`'s counters (when allocated: a new stack grows the table at its visit).
    @inline(__always) func prefetch(_ s: Int) {
        if s < stackCapacity { mematlas_shim_prefetch(stacks + s) }
    }

    func grow(to s: Int) {
        if s >= stackCapacity {
            let capacity = Swift.max(s + 1, stackCapacity * 2)
            let grown = UnsafeMutablePointer<Stack>.allocate(capacity: capacity)
            grown.moveInitialize(from: stacks, count: stackCapacity)
            (grown + stackCapacity).initialize(repeating: Stack(), count: capacity - stackCapacity)
            stacks.deallocate()
            stacks = grown
            stackCapacity = capacity
        }
    }

    @inline(__always) func noteStack(_ s: Int) { if s >= stackCount { stackCount = s + 1 } }
}

/// Anonymous mappings made by the program: address ranges that munmap can cut in parts.
struct MappingSet {
    private var ranges: [(start: UInt64, end: UInt64, stack: StackID)] = []
    private(set) var totalBytes: UInt64 = 0
    private(set) var unmapCalls: UInt64 = 0

    mutating func map(_ start: UInt64, length: UInt64, stack: StackID) {
        unmapRange(start, start &+ length)  // MAP_FIXED may replace what was there
        ranges.append((start, start &+ length, stack))
        totalBytes &+= length
    }

    /// mremap: the old range goes (not counted as a munmap call), the new one comes.
    mutating func move(from old: UInt64, oldLength: UInt64, to start: UInt64, length: UInt64, stack: StackID) {
        unmapRange(old, old &+ oldLength)
        map(start, length: length, stack: stack)
    }

    mutating func unmap(_ start: UInt64, length: UInt64) {
        if unmapRange(start, start &+ length) { unmapCalls &+= 1 }
    }

    @discardableResult
    private mutating func unmapRange(_ start: UInt64, _ end: UInt64) -> Bool {
        var touched = false
        var kept: [(start: UInt64, end: UInt64, stack: StackID)] = []
        for r in ranges {
            if r.end <= start || r.start >= end {
                kept.append(r)
                continue
            }
            touched = true
            let cutStart = Swift.max(r.start, start), cutEnd = Swift.min(r.end, end)
            totalBytes &-= cutEnd - cutStart
            if r.start < cutStart { kept.append((r.start, cutStart, r.stack)) }
            if cutEnd < r.end { kept.append((cutEnd, r.end, r.stack)) }
        }
        if touched { ranges = kept }
        return touched
    }
}
