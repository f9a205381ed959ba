import Foundation
import TraceIO
import TraceModel

/// Per-stack heap figures of a trace with everything needed to draw or export them: the raw
/// stacks, the symbols of every instruction pointer they use and the loaded modules. The input of
/// the flame-graph builder, the diff and the pprof exporter; tests build one in code.
public struct StackProfile: Sendable {
    /// One call stack (optionally of one thread) and its figures.
    public struct Sample: Sendable, Equatable {
        /// The stack, an id into `stacks` (`StackID.none`: events recorded without a stack).
        public var stack: StackID
        /// The allocating thread, when figures were gathered per thread.
        public var thread: ThreadID?
        /// The figures of the allocations made from this stack (by this thread).
        public var figures: StackStatistics

        /// Creates a sample.
        public init(stack: StackID, thread: ThreadID? = nil, figures: StackStatistics) {
            self.stack = stack
            self.thread = thread
            self.figures = figures
        }
    }

    /// The samples, in stack id order (then thread order).
    public var samples: [Sample]
    /// The call stacks the samples refer to (instruction pointers, innermost first).
    public var stacks: StackTable
    /// Source frames of every instruction pointer used by a sample, innermost (inlined) first.
    public var symbols: [UInt64: [SymbolizedFrame]]
    /// Modules loaded in the process (the union of its module maps, first appearance first).
    public var modules: [Module]
    /// Thread names by thread, when the trace has them.
    public var threadNames: [ThreadID: String]
    /// The traced program's path (empty when unknown).
    public var program: String
    /// From start to the last tick or exit, in nanoseconds.
    public var durationNs: UInt64

    /// Creates a profile from parts (tests build one in code).
    public init(
        samples: [Sample], stacks: StackTable, symbols: [UInt64: [SymbolizedFrame]], modules: [Module] = [],
        threadNames: [ThreadID: String] = [:], program: String = "", durationNs: UInt64 = 0
    ) {
        self.samples = samples
        self.stacks = stacks
        self.symbols = symbols
        self.modules = modules
        self.threadNames = threadNames
        self.program = program
        self.durationNs = durationNs
    }

    /// The sum of every sample's figures (`peakBytes` included: the samples' peaks are at the
    /// same global moment, so they add up to the heap's peak).
    public var totals: StackStatistics {
        var t = StackStatistics()
        for s in samples { t.add(s.figures) }
        return t
    }

    /// The source frames of a stack, outermost first (inlined frames expanded, each its own frame;
    /// an address without symbols gives a `0x…` frame).
    public func sourceFrames(of stack: StackID) -> [SymbolizedFrame] {
        let ips = stacks.frames(of: stack)
        var result: [SymbolizedFrame] = []
        result.reserveCapacity(ips.count + 4)
        for ip in ips.reversed() {
            guard let frames = symbols[ip], !frames.isEmpty else {
                result.append(SymbolizedFrame(function: "0x" + String(ip, radix: 16), module: "?"))
                continue
            }
            result.append(contentsOf: frames.reversed())
        }
        return result
    }
}

extension StackStatistics {
    /// Adds another stack's figures to these (peak figures included).
    public mutating func add(_ other: StackStatistics) {
        allocations &+= other.allocations
        allocatedBytes &+= other.allocatedBytes
        temporary &+= other.temporary
        peakBytes &+= other.peakBytes
        peakBlocks &+= other.peakBlocks
        leakedBytes &+= other.leakedBytes
        leakedBlocks &+= other.leakedBlocks
    }

    /// True when every figure is zero (the stack made nothing that any kind would show).
    public var isZero: Bool {
        allocations == 0 && allocatedBytes == 0 && temporary == 0 && peakBytes == 0 && peakBlocks == 0
            && leakedBytes == 0 && leakedBlocks == 0
    }
}

/// Time spent in each phase of loading a `StackProfile`, in seconds.
public struct StackProfileTimings: Sendable {
    /// Reading and analysing the trace's events.
    public var read: Double = 0
    /// Symbolizing the distinct instruction pointers.
    public var symbolize: Double = 0
    /// The number of distinct instruction pointers symbolized.
    public var distinctAddresses: Int = 0
    /// Zero timings.
    public init() {}
}

/// Reads a trace into a `StackProfile`: one streaming pass (the `HeapAnalysis`, split per thread
/// when asked), then one batch symbolization of the distinct instruction pointers.
public enum StackProfileLoader {
    /// Loads the trace at `path`.
    /// - Parameters:
    ///   - perThread: gather figures per (stack, allocating thread) instead of per stack.
    ///   - timings: receives the time of each phase.
    /// - Throws: the reader's errors (`TraceOpenError`, `TraceFormatError`).
    public static func load(
        path: String, perThread: Bool = false, timings: UnsafeMutablePointer<StackProfileTimings>? = nil
    ) throws -> StackProfile {
        let start = Date()
        let reader = try TraceReader(path: path)
        let session = LLVMSymbolizerSession.warmingUp(reader)
        var samples: [StackProfile.Sample] = []
        if perThread {
            var analysis = ThreadSplitHeapAnalysis()
            try reader.read(into: &analysis)
            let stats = analysis.heap.finish().stacks
            for (index, s) in stats.enumerated() where index > 0 && !s.isZero {
                let key = analysis.pairs[index - 1]
                samples.append(.init(stack: key.stack, thread: key.thread, figures: s))
            }
            samples.sort { ($0.stack, $0.thread!) < ($1.stack, $1.thread!) }
        } else {
            var analysis = HeapAnalysis()
            try reader.read(into: &analysis)
            for (index, s) in analysis.finish().stacks.enumerated() where !s.isZero {
                samples.append(.init(stack: StackID(UInt32(index)), figures: s))
            }
        }
        let readDone = Date()
        var distinct = Set<UInt64>()
        var ips: [UInt64] = []
        for sample in samples {
            for ip in reader.stacks.frames(of: sample.stack) where distinct.insert(ip).inserted { ips.append(ip) }
        }
        let symbols = Symbolizer(moduleMaps: reader.moduleMaps, session: session).symbolize(ips)
        var modules: [Module] = []
        var seenModules = Set<Module>()
        for map in reader.moduleMaps {
            for module in map.modules where seenModules.insert(module).inserted { modules.append(module) }
        }
        timings?.pointee.read = readDone.timeIntervalSince(start)
        timings?.pointee.symbolize = Date().timeIntervalSince(readDone)
        timings?.pointee.distinctAddresses = ips.count
        return StackProfile(
            samples: samples, stacks: reader.stacks, symbols: symbols, modules: modules,
            threadNames: reader.threadNames, program: reader.process?.executable ?? "", durationNs: reader.durationNs)
    }
}

/// A `HeapAnalysis` whose stacks are (stack, allocating thread) pairs: each pair gets its own
/// stack id before the event reaches the analysis, so every figure (peak and temporary included)
/// comes out per thread with the analysis's exact rules.
struct ThreadSplitHeapAnalysis: TraceVisitor {
    var heap = HeapAnalysis()
    /// The (stack, thread) of each pair id, pair id `i + 1` at index `i`.
    var pairs: [(stack: StackID, thread: ThreadID)] = []
    private var ids: [UInt64: UInt32] = [:]
    private var lastKey: UInt64 = .max
    private var lastID: UInt32 = 0

    mutating func visitTick(timeNs: UInt64, residentBytes: UInt64) {
        heap.visitTick(timeNs: timeNs, residentBytes: residentBytes)
    }

    mutating func visit(_ event: TraceEvent) {
        switch event.function {
        case .free, .munmap:
            heap.visit(event)
        default:
            let key = UInt64(event.stack.rawValue) << 32 | UInt64(event.thread.rawValue)
            if key != lastKey {
                lastKey = key
                if let id = ids[key] {
                    lastID = id
                } else {
                    pairs.append((event.stack, event.thread))
                    lastID = UInt32(pairs.count)
                    ids[key] = lastID
                }
            }
            var copy = event
            copy.stack = StackID(lastID)
            heap.visit(copy)
        }
    }
}
