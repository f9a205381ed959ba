/// An allocator policy simulated over a private address space: the common interface of every model
/// the replay engine drives.
///
/// A model hands out opaque, non-zero handles (its own choice: an address, a node number, an object
/// id); the engine passes each handle back with the size that was requested for it. Models are
/// deterministic and check their own invariants (`checkInvariants`) in debug builds.
public protocol AllocatorModel: AnyObject {
    /// The model's name as the command line spells it (`first-fit`, `tlsf`, ...).
    var name: String { get }
    /// Bytes the model holds from the "operating system" right now.
    var footprintBytes: UInt64 { get }
    /// Allocates `bytes`; nil when the request cannot be met (heap limit reached).
    func allocate(_ bytes: UInt64) -> UInt64?
    /// Frees the block behind `handle`, allocated with `requestedBytes`.
    func free(_ handle: UInt64, requestedBytes: UInt64)
    /// Resizes a block; nil (and the old block untouched) when the request cannot be met.
    func reallocate(_ handle: UInt64, from oldBytes: UInt64, to newBytes: UInt64) -> UInt64?
    /// How the footprint is used right now.
    func occupancy() -> HeapOccupancy
    /// Every byte of the footprint, as used, free and overhead blocks in address order.
    func snapshot() -> HeapSnapshot
    /// The address at which `handle`'s payload lives now (objects may move in a compacting model).
    func address(of handle: UInt64) -> UInt64
    /// Traps when an internal invariant does not hold (cheap enough for tests, not for replays).
    func checkInvariants()
}

extension AllocatorModel {
    /// The default resize: allocate the new block, then free the old one (no in-place growth).
    public func reallocate(_ handle: UInt64, from oldBytes: UInt64, to newBytes: UInt64) -> UInt64? {
        guard let fresh = allocate(newBytes) else { return nil }
        free(handle, requestedBytes: oldBytes)
        return fresh
    }
}

/// How a model's footprint is used at one moment, in bytes.
public struct HeapOccupancy: Sendable, Equatable, Codable {
    /// Bytes held from the operating system.
    public var footprintBytes: UInt64
    /// Bytes of live blocks, headers and rounding included.
    public var usedBlockBytes: UInt64
    /// Bytes free for reuse inside the footprint.
    public var freeBytes: UInt64
    /// The largest request the model could serve from its free bytes without growing, in bytes.
    public var largestFreeBytes: UInt64

    /// Creates an occupancy record.
    public init(footprintBytes: UInt64, usedBlockBytes: UInt64, freeBytes: UInt64, largestFreeBytes: UInt64) {
        self.footprintBytes = footprintBytes
        self.usedBlockBytes = usedBlockBytes
        self.freeBytes = freeBytes
        self.largestFreeBytes = largestFreeBytes
    }

    /// External fragmentation: 1 - largest free / total free (0 when nothing is free).
    public var externalFragmentation: Double {
        freeBytes == 0 ? 0 : 1 - Double(min(largestFreeBytes, freeBytes)) / Double(freeBytes)
    }
}

/// What one stretch of a model's heap holds.
public enum HeapBlockKind: String, Sendable, Codable {
    /// A live block (header and rounding included).
    case used
    /// Free space the model can reuse.
    case free
    /// Allocator metadata (pool headers, alignment padding) or dead objects awaiting collection.
    case overhead
}

/// One stretch of a heap: a block, a gap, or metadata.
public struct HeapBlock: Sendable, Equatable, Codable {
    /// First byte's address.
    public var start: UInt64
    /// Length in bytes.
    public var bytes: UInt64
    /// What it holds.
    public var kind: HeapBlockKind
    /// Creates a block record.
    public init(start: UInt64, bytes: UInt64, kind: HeapBlockKind) {
        self.start = start
        self.bytes = bytes
        self.kind = kind
    }
}

/// A contiguous range of addresses a model took from the operating system.
public struct HeapRegion: Sendable, Equatable, Codable {
    /// First address.
    public var start: UInt64
    /// Length in bytes.
    public var bytes: UInt64
    /// What the region is (`heap`, `arena 3`, `large object heap`, ...).
    public var name: String
    /// Creates a region record.
    public init(start: UInt64, bytes: UInt64, name: String) {
        self.start = start
        self.bytes = bytes
        self.name = name
    }
}

/// A model's whole heap at one moment: its regions, tiled exactly by blocks in address order.
public struct HeapSnapshot: Sendable, Equatable, Codable {
    /// The regions, in address order.
    public var regions: [HeapRegion]
    /// The blocks, in address order; together they cover every region exactly.
    public var blocks: [HeapBlock]
    /// Creates a snapshot.
    public init(regions: [HeapRegion], blocks: [HeapBlock]) {
        self.regions = regions
        self.blocks = blocks
    }

    /// Bytes in blocks of one kind.
    public func bytes(_ kind: HeapBlockKind) -> UInt64 {
        blocks.reduce(0) { $0 + ($1.kind == kind ? $1.bytes : 0) }
    }

    /// Describes the first way in which the blocks fail to tile the regions exactly, or nil.
    public func tilingProblem() -> String? {
        var b = 0
        for region in regions.sorted(by: { $0.start < $1.start }) {
            var cursor = region.start
            let end = region.start + region.bytes
            while cursor < end {
                guard b < blocks.count else { return "region \(region.name) not covered from \(cursor)" }
                let block = blocks[b]
                guard block.start == cursor else { return "in \(region.name): block at \(block.start), expected \(cursor)" }
                guard block.bytes > 0 else { return "empty block at \(block.start)" }
                cursor += block.bytes
                b += 1
            }
            if cursor != end { return "region \(region.name) overrun: blocks end at \(cursor), region at \(end)" }
        }
        return b == blocks.count ? nil : "\(blocks.count - b) blocks outside every region"
    }
}

/// Rounds `value` up to a multiple of `alignment` (a power of two).
@inline(__always) func roundUp(_ value: UInt64, _ alignment: UInt64) -> UInt64 {
    (value &+ alignment &- 1) & ~(alignment &- 1)
}

/// The base-2 logarithm of a non-zero value, rounded down.
@inline(__always) func log2Floor(_ value: UInt64) -> Int { 63 - value.leadingZeroBitCount }
