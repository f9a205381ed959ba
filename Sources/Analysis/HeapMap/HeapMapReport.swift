/// The figures of `mematlas heapmap` as one value (its `--json` output): the heap at the chosen
/// moment, per region and overall, and the RSS breakdown over the run.
public struct HeapMapReport: Codable, Sendable {
    /// One region's figures.
    public struct Region: Codable, Sendable {
        /// `brk heap`, `arena heap` or `mmap'd block`.
        public var kind: String
        /// First address (the first live chunk's start).
        public var start: UInt64
        /// One past the last live chunk's end.
        public var end: UInt64
        /// Its figures.
        public var figures: FragmentationFigures
    }
    /// When, in seconds since start.
    public var timeSeconds: Double
    /// Allocator events applied at that moment.
    public var events: UInt64
    /// RSS sampled at that moment, in bytes.
    public var residentBytes: UInt64
    /// The figures over all regions.
    public var overall: FragmentationFigures
    /// External fragmentation of the whole heap (1 - largest hole / free bytes).
    public var externalFragmentation: Double
    /// The regions, in address order.
    public var regions: [Region]
    /// The residency snapshot used for free-but-resident, in seconds (nil: not measured).
    public var residencySnapshotSeconds: Double?
    /// The largest live heap, in requested bytes.
    public var peakBytes: UInt64
    /// When it was reached, in seconds.
    public var peakSeconds: Double
    /// The RSS breakdown at each residency snapshot (empty when the trace has none).
    public var breakdowns: [RSSBreakdown]

    /// Gathers the report from a map and its run.
    public init(map: HeapMap, run: HeapMapRun) {
        timeSeconds = Double(map.timeNs) / 1e9
        events = map.events
        residentBytes = map.residentBytes
        overall = map.overall
        externalFragmentation = map.overall.externalFragmentation
        regions = map.regions.map { Region(kind: $0.kind.rawValue, start: $0.start, end: $0.end, figures: $0.figures) }
        residencySnapshotSeconds = map.residencyTimeNs.map { Double($0) / 1e9 }
        peakBytes = run.peakBytes
        peakSeconds = Double(run.peakTimeNs) / 1e9
        breakdowns = run.breakdowns
    }
}
