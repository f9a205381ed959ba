/// One allocator call from a trace, decoded. A plain value, reused by the reader for every event.
///
/// Field use by function:
/// - malloc, calloc, valloc, pvalloc: `size`, `stack`, `address` (0 when the call failed)
/// - posix_memalign, aligned_alloc, memalign: the same plus `alignment`
/// - realloc, reallocarray: `oldAddress` (0 for realloc(NULL, n)), `size`, `stack`, `address`
/// - free: `address` (0 for free(NULL))
/// - mmap: `size` (length), `stack`, `address`, `protection`, `flags`
/// - munmap: `address`, `size` (length)
/// - mremap: `oldAddress`, `oldSize`, `size`, `stack`, `address`
public struct TraceEvent: Sendable {
    /// The block (or mapping) the call returned or released.
    public var address: Address
    /// The block a realloc or mremap moved from.
    public var oldAddress: Address
    /// Requested bytes (mapping length for mmap/munmap/mremap).
    public var size: UInt64
    /// The old mapping length of an mremap, in bytes.
    public var oldSize: UInt64
    /// Requested alignment in bytes for the aligned functions, else 0.
    public var alignment: UInt64
    /// When: the time of the last sample tick before it, in nanoseconds since the process started.
    public var timeNs: UInt64
    /// The call stack of the call (none for free and munmap).
    public var stack: StackID
    /// The thread that made the call.
    public var thread: ThreadID
    /// `PROT_*` bits of an mmap.
    public var protection: UInt32
    /// `MAP_*` bits of an mmap.
    public var flags: UInt32
    /// The function called. (Last: no padding between fields, so that copying an event into a
    /// batch never reads padding bytes next to a just-written byte, which stalls the copy.)
    public var function: AllocationFunction

    /// An event with every field given (inlinable: the reader builds one per event on its hot path).
    @inlinable @inline(__always)
    public init(function: AllocationFunction, address: Address, oldAddress: Address, size: UInt64, oldSize: UInt64,
                alignment: UInt64, timeNs: UInt64, stack: StackID, thread: ThreadID, protection: UInt32, flags: UInt32) {
        self.address = address
        self.oldAddress = oldAddress
        self.size = size
        self.oldSize = oldSize
        self.alignment = alignment
        self.timeNs = timeNs
        self.stack = stack
        self.thread = thread
        self.protection = protection
        self.flags = flags
        self.function = function
    }

    /// An empty event (a malloc of nothing), for the reader to fill in.
    public init() {
        function = .malloc
        address = .null
        oldAddress = .null
        size = 0
        oldSize = 0
        alignment = 0
        stack = .none
        thread = ThreadID(0)
        timeNs = 0
        protection = 0
        flags = 0
    }
}
