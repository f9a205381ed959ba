import TraceIO
import TraceModel

/// One live heap block at a moment of a trace.
public struct LiveBlock: Sendable, Equatable {
    /// The address malloc returned.
    public var address: UInt64
    /// Requested bytes.
    public var size: UInt64
    /// The allocating call stack.
    public var stack: StackID
    /// Creates a block record.
    public init(address: UInt64, size: UInt64, stack: StackID) {
        self.address = address
        self.size = size
        self.stack = stack
    }
}

/// A moment of a trace a heap map can be drawn at.
public enum HeapMoment: Sendable, Equatable {
    /// When the live heap (sum of requested sizes) was largest.
    case peak
    /// After the last event.
    case end
    /// After every event stamped at or before this time (ns since the process started).
    case time(ns: UInt64)
    /// After the first `n` allocator events of the trace.
    case afterEvents(UInt64)
    /// At a fraction (0 to 1) of the run's duration (last tick time).
    case fractionOfRun(Double)
}

/// The first pass of a heap map: finds when the live heap peaked, how long the trace runs and
/// which non-main malloc arenas (64 MiB-aligned heaps) it used. Bounded memory: the live table only.
public struct HeapPeakScan: TraceVisitor {
    private let live = LiveBlockMap(capacity: 1 << 12)
    private var liveBytes: UInt64 = 0
    /// Allocator events seen.
    public private(set) var events: UInt64 = 0
    /// The largest live heap, in requested bytes.
    public private(set) var peakBytes: UInt64 = 0
    /// Events applied when the peak was reached (`HeapMoment.afterEvents` of the peak).
    public private(set) var peakEvents: UInt64 = 0
    /// The tick time of the peak, in ns since start.
    public private(set) var peakTimeNs: UInt64 = 0
    /// The last tick's time, in ns since start.
    public private(set) var lastTickNs: UInt64 = 0

    /// Creates a scan.
    public init() {}

    /// Notes the tick's time (ns since start).
    public mutating func visitTick(timeNs: UInt64, residentBytes: UInt64) { lastTickNs = timeNs }

    /// Applies a heap event and notes a new peak.
    public mutating func visit(_ event: TraceEvent) {
        events &+= 1
        LiveHeapReplay.apply(event, to: live, liveBytes: &liveBytes, chunkBytes: nil)
        if liveBytes > peakBytes {
            peakBytes = liveBytes
            peakEvents = events
            peakTimeNs = lastTickNs
        }
    }

    /// The moment as a number of events (time moments are resolved by the replay itself).
    public func resolve(_ moment: HeapMoment) -> HeapMoment {
        switch moment {
        case .peak: .afterEvents(peakEvents)
        case .end: .afterEvents(events)
        case .fractionOfRun(let f): f >= 1 ? .afterEvents(events) : .time(ns: UInt64(Double(lastTickNs) * max(0, f)))
        default: moment
        }
    }
}

/// The live heap at one captured moment, handed to a `LiveHeapReplay` callback. Valid only
/// during the callback.
public struct LiveHeapState {
    /// The caller's tag for the capture.
    public var tag: Int
    /// Allocator events applied so far.
    public var events: UInt64
    /// The time of the last tick, in ns since start.
    public var timeNs: UInt64
    /// RSS at the last tick, in bytes (0 before the first tick).
    public var residentBytes: UInt64
    /// Sum of requested sizes of live blocks, in bytes.
    public var liveBytes: UInt64
    /// Sum of chunk footprints of live blocks (glibc arithmetic), in bytes.
    public var chunkBytes: UInt64
    /// Non-main arena heap bases seen so far in the run.
    public var arenaBases: Set<UInt64>
    /// Anonymous mappings the program made itself (mmap/mremap events; not malloc's own), as sorted
    /// `[start, end)` ranges.
    public var programMappings: [(start: UInt64, end: UInt64)]
    /// The tick whose arrival triggered a time capture (time in ns, RSS in bytes), if any: RSS
    /// measured right after the moment.
    public var triggeringTick: (timeNs: UInt64, residentBytes: UInt64)?
    let live: LiveBlockMap

    /// The number of live blocks.
    public var blockCount: Int { live.count }

    /// The live blocks sorted by address.
    public func sortedBlocks() -> [LiveBlock] {
        var blocks = unsortedBlocks()
        blocks.sort { $0.address < $1.address }
        return blocks
    }

    /// The live blocks in table order (cheaper when the order does not matter).
    public func unsortedBlocks() -> [LiveBlock] {
        var blocks: [LiveBlock] = []
        blocks.reserveCapacity(live.count)
        live.forEach { address, block in blocks.append(LiveBlock(address: address.rawValue, size: block.size, stack: block.stack)) }
        return blocks
    }
}

/// One sample of the RSS timeline: RSS at a tick with the live heap's payload and chunk bytes.
public struct HeapRSSSample: Sendable, Equatable {
    /// ns since start.
    public var timeNs: UInt64
    /// Resident set size at the tick, in bytes.
    public var residentBytes: UInt64
    /// Live payload (requested bytes).
    public var liveBytes: UInt64
    /// Live chunk bytes (payload + allocator overhead).
    public var chunkBytes: UInt64
}

/// The second pass of a heap map: streams a trace once, keeping the live table, and hands the
/// live heap to a callback at each requested moment. One pass serves any number of moments (a
/// frame series, the residency snapshots), so a map at time T never needs its own replay; the
/// callback turns each capture into figures or a picture and drops it (bounded memory).
public struct LiveHeapReplay: TraceVisitor {
    /// A moment to capture, with a tag handed back to the callback.
    public struct Capture: Sendable {
        /// The caller's tag.
        public var tag: Int
        /// When (`.peak` and `.end` must be resolved with `HeapPeakScan.resolve` first).
        public var moment: HeapMoment
        /// Creates a capture request.
        public init(tag: Int, moment: HeapMoment) {
            self.tag = tag
            self.moment = moment
        }
    }

    private let live = LiveBlockMap(capacity: 1 << 16)
    private var liveBytes: UInt64 = 0
    private var chunkBytes: UInt64 = 0
    private var events: UInt64 = 0
    private var timeNs: UInt64 = 0
    private var residentBytes: UInt64 = 0
    private var arenaBases = Set<UInt64>()
    private var mappings = ProgramMappings()
    private var byEvents: [(UInt64, Int)]
    private var byTime: [(UInt64, Int)]
    private var nextByEvents = 0
    private var nextByTime = 0
    private let onCapture: (LiveHeapState) -> Void
    /// RSS, live payload and chunk bytes at every tick.
    public private(set) var samples: [HeapRSSSample] = []

    /// Creates a replay that calls `onCapture` at each of `captures`.
    public init(captures: [Capture], onCapture: @escaping (LiveHeapState) -> Void) {
        var byEvents: [(UInt64, Int)] = [], byTime: [(UInt64, Int)] = []
        for c in captures {
            switch c.moment {
            case .afterEvents(let n): byEvents.append((n, c.tag))
            case .time(let t): byTime.append((t, c.tag))
            case .end: byEvents.append((.max, c.tag))
            case .peak, .fractionOfRun: preconditionFailure("resolve .peak and .fractionOfRun with HeapPeakScan before the replay")
            }
        }
        self.byEvents = byEvents.sorted { $0.0 < $1.0 }
        self.byTime = byTime.sorted { $0.0 < $1.0 }
        self.onCapture = onCapture
    }

    private func capture(_ tag: Int, tick: (timeNs: UInt64, residentBytes: UInt64)? = nil) {
        onCapture(LiveHeapState(
            tag: tag, events: events, timeNs: timeNs, residentBytes: residentBytes, liveBytes: liveBytes,
            chunkBytes: chunkBytes, arenaBases: arenaBases, programMappings: mappings.ranges, triggeringTick: tick, live: live))
    }

    /// Captures the time moments this tick passes (before it counts), then records the RSS sample.
    public mutating func visitTick(timeNs: UInt64, residentBytes: UInt64) {
        while nextByTime < byTime.count, byTime[nextByTime].0 < timeNs {
            capture(byTime[nextByTime].1, tick: (timeNs, residentBytes))
            nextByTime += 1
        }
        self.timeNs = timeNs
        self.residentBytes = residentBytes
        samples.append(HeapRSSSample(timeNs: timeNs, residentBytes: residentBytes, liveBytes: liveBytes, chunkBytes: chunkBytes))
    }

    /// Captures the event-count moments reached, then applies the event (heap blocks and the
    /// program's own mappings).
    public mutating func visit(_ event: TraceEvent) {
        while nextByEvents < byEvents.count, byEvents[nextByEvents].0 <= events {
            capture(byEvents[nextByEvents].1)
            nextByEvents += 1
        }
        events &+= 1
        if event.address.rawValue != 0, event.function.isPlainAllocation || event.function.isReallocation,
           !GlibcChunk.isMmapped(address: event.address.rawValue, request: event.size),
           event.address.rawValue >= 0x7000_0000_0000 {
            // Candidate non-main arena heap; the brk heap sits low, near the program.
            arenaBases.insert(event.address.rawValue & ~(GlibcChunk.arenaHeapAlignment - 1))
        }
        Self.apply(event, to: live, liveBytes: &liveBytes, chunkBytes: &chunkBytes)
        switch event.function {
        case .mmap where event.address.rawValue != 0:
            mappings.map(event.address.rawValue, length: event.size)
        case .munmap:
            mappings.unmap(event.address.rawValue, length: event.size)
        case .mremap where event.address.rawValue != 0:
            mappings.unmap(event.oldAddress.rawValue, length: event.oldSize)
            mappings.map(event.address.rawValue, length: event.size)
        default: break
        }
    }

    /// Captures every moment not reached yet (moments past the end see the final heap).
    public mutating func finish() {
        while nextByEvents < byEvents.count || nextByTime < byTime.count {
            if nextByEvents < byEvents.count, nextByTime >= byTime.count || byEvents[nextByEvents].0 <= events {
                capture(byEvents[nextByEvents].1)
                nextByEvents += 1
            } else {
                capture(byTime[nextByTime].1)
                nextByTime += 1
            }
        }
    }

    /// Applies one event to a live table: malloc family, realloc and free (mappings are not heap).
    @inline(__always)
    static func apply(_ event: TraceEvent, to live: LiveBlockMap, liveBytes: inout UInt64, chunkBytes: UnsafeMutablePointer<UInt64>?) {
        @inline(__always) func release(_ address: Address) {
            guard address.rawValue != 0, let block = live.remove(address) else { return }
            liveBytes &-= block.size
            chunkBytes?.pointee &-= GlibcChunk.footprint(address: address.rawValue, request: block.size).bytes
        }
        @inline(__always) func allocate() {
            if let old = live.insert(event.address, .init(size: event.size, stack: event.stack, thread: event.thread)) {
                liveBytes &-= old.size
                chunkBytes?.pointee &-= GlibcChunk.footprint(address: event.address.rawValue, request: old.size).bytes
            }
            liveBytes &+= event.size
            chunkBytes?.pointee &+= GlibcChunk.footprint(address: event.address.rawValue, request: event.size).bytes
        }
        switch event.function {
        case .free: release(event.address)
        case .realloc, .reallocarray:
            if event.address.rawValue != 0 {
                release(event.oldAddress)
                allocate()
            } else if event.size == 0 {
                release(event.oldAddress)
            }
        case .mmap, .munmap, .mremap: break
        default:
            if event.address.rawValue != 0 { allocate() }
        }
    }
}

/// The program's own anonymous mappings as sorted, non-overlapping ranges; munmap may cut them.
struct ProgramMappings {
    private(set) var ranges: [(start: UInt64, end: UInt64)] = []

    mutating func map(_ start: UInt64, length: UInt64) {
        guard length > 0 else { return }
        unmap(start, length: length)
        let i = ranges.firstIndex { $0.start > start } ?? ranges.count
        ranges.insert((start, start &+ length), at: i)
    }

    mutating func unmap(_ start: UInt64, length: UInt64) {
        let end = start &+ length
        guard length > 0, ranges.contains(where: { $0.start < end && $0.end > start }) else { return }
        var kept: [(start: UInt64, end: UInt64)] = []
        kept.reserveCapacity(ranges.count + 1)
        for r in ranges {
            if r.end <= start || r.start >= end {
                kept.append(r)
                continue
            }
            if r.start < start { kept.append((r.start, start)) }
            if end < r.end { kept.append((end, r.end)) }
        }
        ranges = kept
    }
}
