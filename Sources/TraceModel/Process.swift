/// How the recorder captured call stacks.
public enum Unwinder: UInt8, Sendable, Codable {
    /// libunwind's `unw_backtrace` (DWARF unwind tables; works without frame pointers).
    case libunwind = 1
    /// Walking the frame-pointer chain: fast, stops at code built without frame pointers.
    case framePointers = 2
    /// No stacks.
    case none = 3

    /// The name used on the command line (`--unwind`).
    public var name: String {
        switch self {
        case .libunwind: "libunwind"
        case .framePointers: "fp"
        case .none: "none"
        }
    }
}

/// What the recorder wrote about the process when it started.
public struct ProcessRecord: Sendable, Codable {
    /// Process id.
    public var pid: UInt32
    /// Parent process id.
    public var parentPID: UInt32
    /// Wall-clock start, in nanoseconds since 1970.
    public var startUnixNs: UInt64
    /// Page size in bytes.
    public var pageSize: UInt64
    /// The unwinder in use.
    public var unwinder: Unwinder
    /// The deepest stack kept, in frames.
    public var maxDepth: UInt32
    /// Interval between sample ticks, in nanoseconds.
    public var sampleIntervalNs: UInt64
    /// The executable's path.
    public var executable: String
    /// The command line, one element per argument.
    public var arguments: [String]

    /// Creates a process record.
    public init(
        pid: UInt32, parentPID: UInt32, startUnixNs: UInt64, pageSize: UInt64, unwinder: Unwinder,
        maxDepth: UInt32, sampleIntervalNs: UInt64, executable: String, arguments: [String]
    ) {
        self.pid = pid
        self.parentPID = parentPID
        self.startUnixNs = startUnixNs
        self.pageSize = pageSize
        self.unwinder = unwinder
        self.maxDepth = maxDepth
        self.sampleIntervalNs = sampleIntervalNs
        self.executable = executable
        self.arguments = arguments
    }
}

/// How a traced process ended, as far as the trace tells.
public enum ProcessEnd: String, Sendable, Codable {
    /// exit() or return from main.
    case exit
    /// `_exit`/`_Exit` called directly.
    case underscoreExit = "_exit"
    /// abort().
    case abort
    /// exec'd another program (which wrote its own trace).
    case exec
    /// No end record: the process was killed or crashed, or the trace was cut.
    case unknown
}

/// A loaded ELF module (executable or shared library) at the time of a module-map record.
public struct Module: Sendable, Hashable {
    /// One loaded PT_LOAD segment.
    public struct Segment: Sendable, Hashable {
        /// Start, as an address in the file's own address space (add `loadBias` for the runtime).
        public var fileAddress: UInt64
        /// Size in bytes.
        public var size: UInt64
        /// `PF_X` = 1, `PF_W` = 2, `PF_R` = 4.
        public var flags: UInt8
        /// Creates a segment.
        public init(fileAddress: UInt64, size: UInt64, flags: UInt8) {
            self.fileAddress = fileAddress
            self.size = size
            self.flags = flags
        }
    }
    /// The path the loader used (may be empty for the vdso).
    public var path: String
    /// Runtime address minus file address.
    public var loadBias: UInt64
    /// The GNU build id, raw bytes (empty when the module has none).
    public var buildID: [UInt8]
    /// The module's loaded segments.
    public var segments: [Segment]

    /// Creates a module.
    public init(path: String, loadBias: UInt64, buildID: [UInt8], segments: [Segment]) {
        self.path = path
        self.loadBias = loadBias
        self.buildID = buildID
        self.segments = segments
    }

    /// The build id as lowercase hex.
    public var buildIDHex: String { buildID.map { String(format2: $0) }.joined() }

    /// True when `address` (a runtime address) lies in one of the module's segments.
    public func contains(_ address: UInt64) -> Bool {
        segments.contains { address &- loadBias >= $0.fileAddress && address &- loadBias < $0.fileAddress &+ $0.size }
    }
}

extension String {
    /// Two lowercase hex digits of a byte.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
