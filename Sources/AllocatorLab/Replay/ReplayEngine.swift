#if canImport(Glibc)
import Glibc
#endif

/// One point of a replay's fragmentation timeline.
public struct FragmentationSample: Sendable, Equatable, Codable {
    /// Operations replayed so far.
    public var operation: Int
    /// Bytes held from the operating system.
    public var footprintBytes: UInt64
    /// Requested bytes live.
    public var liveBytes: UInt64
    /// Internal fragmentation: share of live block bytes that is header or rounding (0...1).
    public var internalFragmentation: Double
    /// External fragmentation: 1 - largest free / total free (0...1).
    public var externalFragmentation: Double
}

/// What replaying one workload through one model gave.
public struct ReplayResult: Sendable, Codable {
    /// The model's name.
    public var allocator: String
    /// Operations replayed.
    public var operations: Int
    /// The highest footprint in bytes.
    public var peakFootprintBytes: UInt64
    /// The first operation (1-based count) after which the footprint reached its peak.
    public var peakFootprintOperation: Int
    /// The highest sum of requested bytes live at once (successful requests only).
    public var peakLiveBytes: UInt64
    /// Requests the model could not meet (heap limit).
    public var failedRequests: Int
    /// Wall time of the replay in seconds.
    public var seconds: Double
    /// Fragmentation at regular points of the replay (at most about 512).
    public var timeline: [FragmentationSample]
    /// The footprint at the end, in bytes.
    public var finalFootprintBytes: UInt64

    /// Peak live payload / peak footprint (0...1).
    public var utilization: Double { peakFootprintBytes == 0 ? 0 : Double(peakLiveBytes) / Double(peakFootprintBytes) }
    /// Operations replayed per second.
    public var operationsPerSecond: Double { seconds > 0 ? Double(operations) / seconds : 0 }
    /// The mean of the sampled internal fragmentation (0...1).
    public var meanInternalFragmentation: Double { timeline.isEmpty ? 0 : timeline.map(\.internalFragmentation).reduce(0, +) / Double(timeline.count) }
    /// The mean of the sampled external fragmentation (0...1).
    public var meanExternalFragmentation: Double { timeline.isEmpty ? 0 : timeline.map(\.externalFragmentation).reduce(0, +) / Double(timeline.count) }
    /// Internal and external fragmentation at the sample nearest the footprint peak.
    public var fragmentationAtPeak: FragmentationSample? {
        timeline.min { abs($0.operation - peakFootprintOperation) < abs($1.operation - peakFootprintOperation) }
    }
}

/// Replays an operation log through a model: maps slots to the model's handles, keeps requested
/// sizes, tracks footprint and live bytes, and samples fragmentation.
public enum ReplayEngine {
    /// Options of a replay.
    public struct Options: Sendable {
        /// Stop after this many operations (nil: replay all).
        public var stopAfter: Int?
        /// Check the model's invariants after every operation (slow: tests only).
        public var checkInvariantsEveryOperation = false
        /// How many fragmentation samples to aim for.
        public var samples = 256
        /// Creates default options.
        public init(stopAfter: Int? = nil) { self.stopAfter = stopAfter }
    }

    /// The slot-to-handle state of a replay, for tests that inspect a model mid-way.
    public struct Handles {
        /// The model's handle per slot (0: empty or failed).
        public internal(set) var handles: [UInt64]
        /// The requested bytes per slot.
        public internal(set) var sizes: [UInt64]
        /// Empty slot state.
        public init() { handles = []; sizes = [] }
        init(handles: [UInt64], sizes: [UInt64]) {
            self.handles = handles
            self.sizes = sizes
        }
    }

    /// A slot's block during a replay: the model's handle (0: empty or failed) and the requested
    /// bytes.
    private struct LiveSlot {
        var handle: UInt64 = 0
        var bytes: UInt64 = 0
    }

    /// Replays `log` through `model`.
    public static func replay<Model: AllocatorModel>(_ log: OperationLog, through model: Model, options: Options = Options()) -> ReplayResult {
        var handles = Handles(handles: [], sizes: [])
        return replay(log, through: model, options: options, handles: &handles)
    }

    /// Replays `log` through `model`, leaving the slot state in `handles`.
    public static func replay<Model: AllocatorModel>(_ log: OperationLog, through model: Model, options: Options, handles state: inout Handles) -> ReplayResult {
        let count = min(log.operations.count, options.stopAfter ?? .max)
        // One record per slot (handle and size side by side: one cache line per operation, not
        // two), in a buffer rather than two arrays (no uniqueness check on each write).
        let slots = UnsafeMutableBufferPointer<LiveSlot>.allocate(capacity: log.slotCount)
        slots.initialize(repeating: LiveSlot())
        defer { slots.deallocate() }
        var live: UInt64 = 0, peakLive: UInt64 = 0
        var peakFootprint: UInt64 = 0, peakOperation = 0
        var failed = 0
        var timeline: [FragmentationSample] = []
        let interval = max(1, count / max(1, options.samples))
        var nextSample = interval
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        log.operations.withUnsafeBufferPointer { ops in
            for i in 0..<count {
                let op = ops[i]
                let slot = Int(op.slot)
                switch op.kind {
                case .allocate:
                    if let handle = model.allocate(op.bytes) {
                        slots[slot] = LiveSlot(handle: handle, bytes: op.bytes)
                        live &+= op.bytes
                    } else {
                        failed += 1
                    }
                case .reallocate:
                    let old = slots[slot]
                    let fresh = old.handle == 0 ? model.allocate(op.bytes) : model.reallocate(old.handle, from: old.bytes, to: op.bytes)
                    if let fresh {
                        slots[slot] = LiveSlot(handle: fresh, bytes: op.bytes)
                        live = live &- old.bytes &+ op.bytes
                    } else {
                        failed += 1
                    }
                case .free:
                    let old = slots[slot]
                    if old.handle != 0 {
                        model.free(old.handle, requestedBytes: old.bytes)
                        live &-= old.bytes
                        slots[slot] = LiveSlot()
                    }
                }
                if live > peakLive { peakLive = live }
                let footprint = model.footprintBytes
                if footprint > peakFootprint {
                    peakFootprint = footprint
                    peakOperation = i + 1
                }
                if options.checkInvariantsEveryOperation { model.checkInvariants() }
                if i + 1 == nextSample || i + 1 == count {
                    nextSample += interval
                    timeline.append(sample(model, operation: i + 1, live: live))
                }
            }
        }
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &end)
        let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        state = Handles(handles: slots.map(\.handle), sizes: slots.map(\.bytes))
        return ReplayResult(
            allocator: model.name, operations: count, peakFootprintBytes: peakFootprint, peakFootprintOperation: peakOperation,
            peakLiveBytes: peakLive, failedRequests: failed, seconds: seconds, timeline: timeline, finalFootprintBytes: model.footprintBytes)
    }

    private static func sample<Model: AllocatorModel>(_ model: Model, operation: Int, live: UInt64) -> FragmentationSample {
        let occupancy = model.occupancy()
        let internalShare = occupancy.usedBlockBytes == 0 ? 0 : max(0, 1 - Double(live) / Double(occupancy.usedBlockBytes))
        return FragmentationSample(
            operation: operation, footprintBytes: occupancy.footprintBytes, liveBytes: live,
            internalFragmentation: internalShare, externalFragmentation: occupancy.externalFragmentation)
    }

    /// Replays through an existential model (dispatches to the generic replay).
    public static func replay(_ log: OperationLog, throughAny model: any AllocatorModel, options: Options = Options()) -> ReplayResult {
        func open<M: AllocatorModel>(_ m: M) -> ReplayResult { replay(log, through: m, options: options) }
        return open(model)
    }

    /// The model's heap at its footprint peak: replays a fresh model up to the peak operation.
    public static func snapshotAtPeak(_ log: OperationLog, result: ReplayResult, makeModel: () -> any AllocatorModel) -> HeapSnapshot {
        let model = makeModel()
        _ = replay(log, throughAny: model, options: Options(stopAfter: result.peakFootprintOperation))
        return model.snapshot()
    }
}
