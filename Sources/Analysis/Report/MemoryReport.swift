import TraceModel

/// Everything the HTML report shows, aggregated: summaries, never events. Its size depends on the
/// caps (`ReportLimits`), not on the trace's length, so the page stays small for any trace.
public struct MemoryReport: Sendable {
    /// The headline figures (the summary cards).
    public var summary: ReportSummary
    /// Live heap and RSS over time, at most `ReportLimits.timelinePoints` points, in time order.
    public var timeline: [TimelineSample]
    /// One compact flame graph per kind, in `FlameGraphKind.allCases` order, sharing `frameNames`.
    public var flameGraphs: [ReportFlameGraph]
    /// Frame names (functions) used by the flame graphs; index 0 is `all`.
    public var frameNames: [String]
    /// Frame locations (`file.c:12` or a module name) used by the flame graphs.
    public var frameLocations: [String]
    /// Call sites, the union of the top sites by each figure (at most `ReportLimits.callSites` per figure).
    public var callSites: [ReportCallSite]
    /// Call sites ranked, before the cap: how many there were in all.
    public var callSiteCount: Int
    /// Stacks that leaked, largest first (at most `ReportLimits.leaks`).
    public var leaks: [ReportLeak]
    /// Stacks with leaked bytes, before the cap.
    public var leakCount: Int
    /// Requested sizes of successful allocations.
    public var sizeHistogram: Histogram
    /// Lifetimes of freed blocks in ns (tick resolution: 0 means freed before the next sample tick).
    public var lifetimeHistogram: Histogram
    /// Lifetimes of freed blocks counted in allocations made in between (full resolution).
    public var lifetimeAllocationsHistogram: Histogram
    /// Blocks never freed (live at exit), excluded from the lifetime histograms.
    public var neverFreed: UInt64
    /// Threads that called the allocator, by calls (most first).
    public var threads: [ReportThread]
    /// Modules loaded in the process, first appearance first.
    public var modules: [ReportModule]
    /// The heap map at the peak, when it could be made.
    public var heapMap: ReportHeapMap?
    /// The time slices that the call sites' and flame graphs' figures by time use (nil: the report
    /// has none, and a time range filters nothing).
    public var timeSlices: ReportTimeSlices?

    /// Creates a report from parts (tests build one in code).
    public init(
        summary: ReportSummary, timeline: [TimelineSample] = [], flameGraphs: [ReportFlameGraph] = [],
        frameNames: [String] = ["all"], frameLocations: [String] = [], callSites: [ReportCallSite] = [],
        callSiteCount: Int? = nil, leaks: [ReportLeak] = [], leakCount: Int? = nil,
        sizeHistogram: Histogram = Histogram(buckets: []), lifetimeHistogram: Histogram = Histogram(buckets: []),
        lifetimeAllocationsHistogram: Histogram = Histogram(buckets: []), neverFreed: UInt64 = 0,
        threads: [ReportThread] = [], modules: [ReportModule] = [], heapMap: ReportHeapMap? = nil
    ) {
        self.summary = summary
        self.timeline = timeline
        self.flameGraphs = flameGraphs
        self.frameNames = frameNames
        self.frameLocations = frameLocations
        self.callSites = callSites
        self.callSiteCount = callSiteCount ?? callSites.count
        self.leaks = leaks
        self.leakCount = leakCount ?? leaks.count
        self.sizeHistogram = sizeHistogram
        self.lifetimeHistogram = lifetimeHistogram
        self.lifetimeAllocationsHistogram = lifetimeAllocationsHistogram
        self.neverFreed = neverFreed
        self.threads = threads
        self.modules = modules
        self.heapMap = heapMap
    }
}

/// The caps that keep a report small whatever the trace's size.
public struct ReportLimits: Sendable {
    /// Timeline points kept (each the maximum of its time slice, so the peak survives).
    public var timelinePoints = 2_000
    /// Call sites kept per ranking figure.
    public var callSites = 100
    /// Leaking stacks listed.
    public var leaks = 50
    /// Frames kept per call-site stack.
    public var stackDepth = 24
    /// Frames kept per leak stack (innermost first).
    public var leakStackDepth = 64
    /// Characters kept of a function name (longer names, such as deep C++ templates, end in `…`).
    public var nameLength = 240
    /// Nodes kept per flame graph (tiny frames are merged until the graph fits).
    public var flameGraphNodes = 4_000
    /// Frames narrower than this share of the total are merged into `(N smaller frames)`.
    public var flameGraphMinimumShare = 0.0005
    /// Time slices at most over the run, for the figures of a time range (the slice width doubles
    /// from 1 ms until the run fits).
    public var timeSlices = 64
    /// Per-slice values kept per sliced flame graph (allocated, allocations): the lightest frames
    /// are merged into `(N smaller frames)` until the graph's values fit.
    public var slicedFlameGraphValues = 20_000
    /// Creates the default limits.
    public init() {}
}

/// The headline figures of a trace: what the summary cards show (the same numbers as `summary --json`).
public struct ReportSummary: Sendable, Equatable {
    /// The traced program's path.
    public var program: String
    /// Its command line, argv[0] first (empty when unknown).
    public var arguments: [String]
    /// Its pid.
    public var pid: UInt32
    /// The trace file's path.
    public var trace: String
    /// From start to the last tick or exit, in ns.
    public var durationNs: UInt64
    /// Peak live heap (requested bytes).
    public var peakHeapBytes: UInt64
    /// When the heap peaked, in ns since start.
    public var peakHeapTimeNs: UInt64
    /// Highest sampled resident set size, in bytes.
    public var peakResidentBytes: UInt64
    /// When RSS peaked, in ns since start.
    public var peakResidentTimeNs: UInt64
    /// Bytes requested by successful allocations.
    public var allocatedBytes: UInt64
    /// Successful allocations.
    public var allocations: UInt64
    /// Allocator calls of every function (frees and failed calls included).
    public var calls: UInt64
    /// Bytes live at exit.
    public var leakedBytes: UInt64
    /// Blocks live at exit.
    public var leakedBlocks: UInt64
    /// Allocations freed before their thread allocated again.
    public var temporaryAllocations: UInt64
    /// Allocator events in the trace.
    public var events: UInt64
    /// Why the trace is incomplete, or nil when it is complete.
    public var truncation: String?
    /// True when the program's own malloc answered its heap calls (they were not seen).
    public var programHasOwnMalloc: Bool

    /// Creates a summary.
    public init(
        program: String, arguments: [String] = [], pid: UInt32 = 0, trace: String = "", durationNs: UInt64 = 0,
        peakHeapBytes: UInt64 = 0, peakHeapTimeNs: UInt64 = 0, peakResidentBytes: UInt64 = 0, peakResidentTimeNs: UInt64 = 0,
        allocatedBytes: UInt64 = 0, allocations: UInt64 = 0, calls: UInt64 = 0, leakedBytes: UInt64 = 0,
        leakedBlocks: UInt64 = 0, temporaryAllocations: UInt64 = 0, events: UInt64 = 0, truncation: String? = nil,
        programHasOwnMalloc: Bool = false
    ) {
        self.program = program
        self.arguments = arguments
        self.pid = pid
        self.trace = trace
        self.durationNs = durationNs
        self.peakHeapBytes = peakHeapBytes
        self.peakHeapTimeNs = peakHeapTimeNs
        self.peakResidentBytes = peakResidentBytes
        self.peakResidentTimeNs = peakResidentTimeNs
        self.allocatedBytes = allocatedBytes
        self.allocations = allocations
        self.calls = calls
        self.leakedBytes = leakedBytes
        self.leakedBlocks = leakedBlocks
        self.temporaryAllocations = temporaryAllocations
        self.events = events
        self.truncation = truncation
        self.programHasOwnMalloc = programHasOwnMalloc
    }
}

/// One flame graph, flattened and pruned: nodes in depth-first order, each with its parent's index.
public struct ReportFlameGraph: Sendable, Equatable {
    /// One frame.
    public struct Node: Sendable, Equatable {
        /// The parent's index in `nodes` (-1 for the root).
        public var parent: Int32
        /// The name's index in `MemoryReport.frameNames` (-1: a merged `(N smaller frames)` frame).
        public var name: Int32
        /// The location's index in `MemoryReport.frameLocations` (-1: none); for a merged frame, how many frames it holds.
        public var location: Int32
        /// The frame's width: the kind's figure over its subtree (bytes or a count).
        public var weight: UInt64
        /// Bytes of the subtree for the kind (0 where the kind has none).
        public var bytes: UInt64
        /// Blocks or allocations of the subtree.
        public var count: UInt64
        /// Creates a node.
        public init(parent: Int32, name: Int32, location: Int32, weight: UInt64, bytes: UInt64, count: UInt64) {
            self.parent = parent
            self.name = name
            self.location = location
            self.weight = weight
            self.bytes = bytes
            self.count = count
        }
    }
    /// The figure the widths show.
    public var kind: FlameGraphKind
    /// The nodes, depth first, children heaviest first; index 0 is the root.
    public var nodes: [Node]
    /// Frames of the full graph (before tiny frames were merged).
    public var fullNodeCount: Int
    /// The graph by time slice, for a time range (the allocated and allocations kinds only).
    public var sliced: ReportSlicedFlameGraph?
    /// Creates a graph.
    public init(kind: FlameGraphKind, nodes: [Node], fullNodeCount: Int? = nil, sliced: ReportSlicedFlameGraph? = nil) {
        self.kind = kind
        self.nodes = nodes
        self.fullNodeCount = fullNodeCount ?? nodes.count
        self.sliced = sliced
    }
}

/// The run cut into equal time slices: the resolution at which a selected time range filters the
/// call sites and the allocated and allocations flame graphs.
public struct ReportTimeSlices: Sendable, Equatable {
    /// One slice's width in ns: slice `k` holds the events whose time is in `[k × widthNs, (k + 1) × widthNs)`.
    public var widthNs: UInt64
    /// Slices from the start of the run to its end.
    public var count: Int
    /// Creates the slicing.
    public init(widthNs: UInt64, count: Int) {
        self.widthNs = widthNs
        self.count = count
    }
}

/// Allocations and allocated bytes in one time slice.
public struct ReportSliceFigures: Sendable, Equatable {
    /// The slice's index (see `ReportTimeSlices`).
    public var slice: Int
    /// Successful allocations in the slice.
    public var allocations: UInt64
    /// Bytes they requested.
    public var bytes: UInt64
    /// Creates a slice's figures.
    public init(slice: Int, allocations: UInt64, bytes: UInt64) {
        self.slice = slice
        self.allocations = allocations
        self.bytes = bytes
    }
}

/// A flame graph's frames by time slice: a subset of the graph's nodes (the heaviest, so that the
/// values fit `ReportLimits.slicedFlameGraphValues`), each lighter frame counted in an added
/// `(N smaller frames)` node of its parent.
public struct ReportSlicedFlameGraph: Sendable, Equatable {
    /// One frame's width per slice.
    public struct Node: Sendable, Equatable {
        /// The parent's index in `nodes` (-1 for the root); parents come before their children.
        public var parent: Int32
        /// The frame's index in the graph's `nodes`; negative: `-N`, a frame holding N smaller frames.
        public var source: Int32
        /// The kind's figure over the frame's subtree (bytes or allocations) in each slice where it
        /// is not zero, in slice order.
        public var values: [Value]
        /// Creates a node.
        public init(parent: Int32, source: Int32, values: [Value]) {
            self.parent = parent
            self.source = source
            self.values = values
        }
    }
    /// A figure in one slice.
    public struct Value: Sendable, Equatable {
        /// The slice's index.
        public var slice: Int
        /// The figure (bytes or allocations).
        public var value: UInt64
        /// Creates a value.
        public init(slice: Int, value: UInt64) {
            self.slice = slice
            self.value = value
        }
    }
    /// The frames, parents before children.
    public var nodes: [Node]
    /// Nodes of the graph merged into added `(N smaller frames)` nodes here.
    public var mergedNodes: Int
    /// Creates a sliced graph.
    public init(nodes: [Node], mergedNodes: Int = 0) {
        self.nodes = nodes
        self.mergedNodes = mergedNodes
    }
}

/// One call site (the first frame outside the C/C++/Swift runtimes) with the figures of every stack through it.
public struct ReportCallSite: Sendable, Equatable {
    /// The site's function.
    public var function: String
    /// `file.c:12` or the module's name.
    public var location: String
    /// The figures summed over the site's stacks.
    public var figures: StackStatistics
    /// The site's heaviest stack (by allocated bytes), from the site outwards, as `function (location)` lines.
    public var stack: [String]
    /// Allocations and bytes per time slice (`MemoryReport.timeSlices`), slices without any left out.
    public var slices: [ReportSliceFigures]
    /// Creates a call site.
    public init(function: String, location: String, figures: StackStatistics, stack: [String], slices: [ReportSliceFigures] = []) {
        self.function = function
        self.location = location
        self.figures = figures
        self.stack = stack
        self.slices = slices
    }
}

/// One stack that leaked: its bytes and blocks live at exit, and its full stack.
public struct ReportLeak: Sendable, Equatable {
    /// Bytes live at exit from this stack.
    public var bytes: UInt64
    /// Blocks live at exit from this stack.
    public var blocks: UInt64
    /// The full stack, innermost first, as `function (location)` lines.
    public var stack: [String]
    /// Creates a leak entry.
    public init(bytes: UInt64, blocks: UInt64, stack: [String]) {
        self.bytes = bytes
        self.blocks = blocks
        self.stack = stack
    }
}

/// One thread of the process.
public struct ReportThread: Sendable, Equatable {
    /// The thread id (the kernel's tid).
    public var id: UInt32
    /// Its name, when the trace has one.
    public var name: String
    /// Allocator calls it made.
    public var calls: UInt64
    /// Creates a thread entry.
    public init(id: UInt32, name: String, calls: UInt64) {
        self.id = id
        self.name = name
        self.calls = calls
    }
}

/// One module (executable or shared library) loaded in the process.
public struct ReportModule: Sendable, Equatable {
    /// Its path.
    public var path: String
    /// Its GNU build id in hex (empty when it has none).
    public var buildID: String
    /// The load bias (where its file address 0 sits in memory).
    public var loadBias: UInt64
    /// Creates a module entry.
    public init(path: String, buildID: String, loadBias: UInt64) {
        self.path = path
        self.buildID = buildID
        self.loadBias = loadBias
    }
}

/// The heap at its peak as the report shows it: a picture (made by the heap-map renderer) and its figures.
public struct ReportHeapMap: Sendable {
    /// The heap map at the peak.
    public var map: HeapMap
    /// Creates the section's model.
    public init(map: HeapMap) { self.map = map }
}
