import Analysis
import TraceIO
import TraceModel

/// Builds allocator events in code, with exact addresses, for heap-map tests.
struct EventScript {
    enum Step {
        case event(TraceEvent)
        case tick(timeNs: UInt64, residentBytes: UInt64)
    }
    var steps: [Step] = []
    var timeNs: UInt64 = 0

    mutating func malloc(_ size: UInt64, at address: UInt64, stack: UInt32 = 1) {
        var e = TraceEvent()
        e.function = .malloc
        e.size = size
        e.address = Address(address)
        e.stack = StackID(stack)
        e.thread = ThreadID(1)
        e.timeNs = timeNs
        steps.append(.event(e))
    }

    mutating func free(_ address: UInt64) {
        var e = TraceEvent()
        e.function = .free
        e.address = Address(address)
        e.thread = ThreadID(1)
        e.timeNs = timeNs
        steps.append(.event(e))
    }

    mutating func realloc(_ old: UInt64, to address: UInt64, size: UInt64, stack: UInt32 = 1) {
        var e = TraceEvent()
        e.function = .realloc
        e.oldAddress = Address(old)
        e.address = Address(address)
        e.size = size
        e.stack = StackID(stack)
        e.thread = ThreadID(1)
        e.timeNs = timeNs
        steps.append(.event(e))
    }

    mutating func tick(_ timeNs: UInt64, rss: UInt64) {
        self.timeNs = timeNs
        steps.append(.tick(timeNs: timeNs, residentBytes: rss))
    }

    func play<V: TraceVisitor>(into visitor: inout V) {
        for step in steps {
            switch step {
            case .event(let e): visitor.visit(e)
            case .tick(let t, let rss): visitor.visitTick(timeNs: t, residentBytes: rss)
            }
        }
    }

    /// The heap maps at `moments`, by two passes like `HeapMapAnalysis` (no residency).
    func maps(at moments: [HeapMoment]) -> [HeapMap] {
        var scan = HeapPeakScan()
        play(into: &scan)
        var maps = [HeapMap?](repeating: nil, count: moments.count)
        var replay = LiveHeapReplay(captures: moments.enumerated().map { .init(tag: $0.offset, moment: scan.resolve($0.element)) }) { state in
            maps[state.tag] = HeapMap.build(blocks: state.sortedBlocks(), timeNs: state.timeNs, events: state.events, residentBytes: state.residentBytes)
        }
        play(into: &replay)
        replay.finish()
        return maps.map { $0! }
    }
}

/// The brk heap of the synthetic traces: chunk 0 starts here (malloc returns base + 16).
let brkBase: UInt64 = 0x5555_0000_0000
/// Chunk size of a 200-byte request.
let chunk200: UInt64 = 208

/// Ten 200-byte blocks back to back, then blocks 1, 2, 4, 6, 7 and 9 freed: holes of 416, 208
/// and 416 bytes between the live blocks 0, 3, 5 and 8 (block 9 lies past the last live block).
func tenBlocksWithHoles() -> EventScript {
    var script = EventScript()
    script.tick(1_000_000, rss: 1 << 20)
    for i in 0..<10 { script.malloc(200, at: brkBase + 16 + UInt64(i) * chunk200) }
    script.tick(2_000_000, rss: 2 << 20)
    for i in [1, 2, 4, 6, 7, 9] { script.free(brkBase + 16 + UInt64(i) * chunk200) }
    script.tick(3_000_000, rss: 2 << 20)
    return script
}
