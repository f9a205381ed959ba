/// The allocator entry point an event came from. Raw values are the trace schema's record tags.
public enum AllocationFunction: UInt8, CaseIterable, Sendable, Codable {
    case malloc = 0x10
    case calloc = 0x11
    case realloc = 0x12
    case reallocarray = 0x13
    case posixMemalign = 0x14
    case alignedAlloc = 0x15
    case memalign = 0x16
    case valloc = 0x17
    case pvalloc = 0x18
    case free = 0x19
    case mmap = 0x1a
    case munmap = 0x1b
    case mremap = 0x1c

    /// The C function's name, as a user writes it.
    public var name: String {
        switch self {
        case .malloc: "malloc"
        case .calloc: "calloc"
        case .realloc: "realloc"
        case .reallocarray: "reallocarray"
        case .posixMemalign: "posix_memalign"
        case .alignedAlloc: "aligned_alloc"
        case .memalign: "memalign"
        case .valloc: "valloc"
        case .pvalloc: "pvalloc"
        case .free: "free"
        case .mmap: "mmap"
        case .munmap: "munmap"
        case .mremap: "mremap"
        }
    }

    /// True for the heap functions that hand out a new block (realloc variants excluded).
    @inlinable public var isPlainAllocation: Bool {
        switch self {
        case .malloc, .calloc, .posixMemalign, .alignedAlloc, .memalign, .valloc, .pvalloc: true
        default: false
        }
    }

    /// True for realloc and reallocarray.
    @inlinable public var isReallocation: Bool { self == .realloc || self == .reallocarray }

    /// True for the anonymous-mapping functions (mmap, munmap, mremap), tracked apart from the heap.
    @inlinable public var isMapping: Bool { self == .mmap || self == .munmap || self == .mremap }
}
