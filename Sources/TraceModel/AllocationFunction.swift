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

    /// The function of a record tag, or nil: `init(rawValue:)` that inlines into other modules
    /// (the reader converts a tag per event).
    @inlinable @inline(__always)
    public init?(tag: UInt8) {
        switch tag {
        case 0x10: self = .malloc
        case 0x11: self = .calloc
        case 0x12: self = .realloc
        case 0x13: self = .reallocarray
        case 0x14: self = .posixMemalign
        case 0x15: self = .alignedAlloc
        case 0x16: self = .memalign
        case 0x17: self = .valloc
        case 0x18: self = .pvalloc
        case 0x19: self = .free
        case 0x1a: self = .mmap
        case 0x1b: self = .munmap
        case 0x1c: self = .mremap
        default: return nil
        }
    }

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
