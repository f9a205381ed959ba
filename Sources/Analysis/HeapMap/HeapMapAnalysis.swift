import Dispatch
import TraceIO
import TraceModel

/// What `HeapMapAnalysis.run` found besides the maps themselves.
public struct HeapMapRun: Sendable {
    /// The largest live heap, in requested bytes.
    public var peakBytes: UInt64
    /// When it was reached, in ns since start (tick resolution).
    public var peakTimeNs: UInt64
    /// Allocator events in the trace.
    public var events: UInt64
    /// The last tick's time, in ns since start.
    public var durationNs: UInt64
    /// RSS, live payload and chunk bytes at every tick.
    public var samples: [HeapRSSSample]
    /// The RSS breakdown at every residency snapshot used (at most `maximumBreakdowns`), in time
    /// order; empty when the trace has no residency snapshots.
    public var breakdowns: [RSSBreakdown]
    /// The number of residency snapshots in the trace.
    public var residencySnapshots: Int
    /// Seconds spent laying out the requested maps (collecting, sorting and grouping live blocks).
    public var layoutSeconds: Double
    /// Seconds spent in the measured RSS breakdowns.
    public var breakdownSeconds: Double
}

/// Heap maps and RSS breakdowns of a trace in two streaming passes: the first finds the peak and
/// the trace's residency snapshots, the second captures every requested moment and every
/// residency snapshot on the way (one replay for all of them).
public enum HeapMapAnalysis {
    /// The most residency snapshots given a full breakdown (evenly spaced over the run).
    public static let maximumBreakdowns = 120

    /// Replays `reader`'s trace and hands the heap map of each of `moments` to `onMap` (with its
    /// index in `moments`) as soon as it is reached, so a frame series never sits in memory whole.
    /// - Throws: the reader's errors.
    public static func run(reader: TraceReader, moments: [HeapMoment], onMap: (Int, HeapMap) throws -> Void) throws -> HeapMapRun {
        try withoutActuallyEscaping(onMap) { try run(reader: reader, moments: moments, escapingOnMap: $0) }
    }

    private static func run(reader: TraceReader, moments: [HeapMoment], escapingOnMap onMap: @escaping (Int, HeapMap) throws -> Void) throws -> HeapMapRun {
        var scan = HeapPeakScan()
        try reader.read(into: &scan)
        let snapshots = reader.residency
        let pageSize = reader.process?.pageSize ?? 4096
        let interval = max(reader.process?.sampleIntervalNs ?? 10_000_000, 1_000_000)

        var chosen = Array(snapshots.indices)
        if chosen.count > maximumBreakdowns {
            chosen = (0..<maximumBreakdowns).map { $0 * (snapshots.count - 1) / (maximumBreakdowns - 1) }
        }
        var captures = moments.enumerated().map { LiveHeapReplay.Capture(tag: $0.offset, moment: scan.resolve($0.element)) }
        let residencyTag = 1 << 40
        for i in chosen {
            let t = snapshots[i].timeNs
            captures.append(LiveHeapReplay.Capture(tag: residencyTag + i, moment: t == 0 ? .afterEvents(0) : .time(ns: t - 1)))
        }
        var breakdowns: [RSSBreakdown] = []
        var failure: Error?
        var layoutSeconds = 0.0, breakdownSeconds = 0.0
        func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        var replay = LiveHeapReplay(captures: captures) { state in
            if failure != nil { return }
            let started = DispatchTime.now().uptimeNanoseconds
            if state.tag >= residencyTag {
                defer { breakdownSeconds += seconds(since: started) }
                let snapshot = snapshots[state.tag - residencyTag]
                let rss = state.triggeringTick?.residentBytes ?? state.residentBytes
                breakdowns.append(RSSBreakdown.measured(
                    timeNs: snapshot.timeNs, residentBytes: rss, blocks: state.unsortedBlocks(), residency: snapshot,
                    arenaBases: state.arenaBases, programMappings: state.programMappings, pageSize: pageSize))
                return
            }
            let lastTick = state.timeNs
            let matching = snapshots.last { $0.timeNs >= lastTick && $0.timeNs <= lastTick + interval + interval / 2 }
            let map = HeapMap.build(
                blocks: state.sortedBlocks(), timeNs: state.triggeringTick?.timeNs ?? state.timeNs, events: state.events,
                residentBytes: state.triggeringTick?.residentBytes ?? state.residentBytes, residency: matching, pageSize: pageSize)
            layoutSeconds += seconds(since: started)
            do { try onMap(state.tag, map) } catch { failure = error }
        }
        try reader.read(into: &replay)
        replay.finish()
        if let failure { throw failure }
        breakdowns.sort { $0.timeNs < $1.timeNs }
        return HeapMapRun(
            peakBytes: scan.peakBytes, peakTimeNs: scan.peakTimeNs, events: scan.events, durationNs: scan.lastTickNs,
            samples: replay.samples, breakdowns: breakdowns, residencySnapshots: snapshots.count,
            layoutSeconds: layoutSeconds, breakdownSeconds: breakdownSeconds)
    }
}
