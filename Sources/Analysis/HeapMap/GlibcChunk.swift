import TraceModel

/// glibc malloc's chunk arithmetic (x86-64): how many bytes a block of a requested size really
/// takes in the heap, so that a heap map can draw blocks at their true footprint and count
/// allocator overhead without guessing.
public enum GlibcChunk {
    /// Requests of this many bytes or more are served by their own mmap (glibc's default
    /// `M_MMAP_THRESHOLD`), in bytes.
    public static let mmapThreshold: UInt64 = 128 << 10
    /// The smallest chunk, in bytes.
    public static let minimumChunkBytes: UInt64 = 32
    /// Bytes from a chunk's start to the address malloc returns (prev_size + size fields).
    public static let headerBytes: UInt64 = 16
    /// The alignment of non-main arena heaps (`HEAP_MAX_SIZE`), in bytes.
    public static let arenaHeapAlignment: UInt64 = 64 << 20

    /// The chunk size of a normal (heap) block: `max(32, (request + 8 + 15) & ~15)` bytes.
    @inlinable public static func chunkBytes(request: UInt64) -> UInt64 {
        max(minimumChunkBytes, (request &+ 8 &+ 15) & ~15)
    }

    /// The mapping size of a block malloc served with its own mmap: the chunk size plus one
    /// size field, rounded up to whole pages, in bytes.
    @inlinable public static func mmappedBytes(request: UInt64, pageSize: UInt64 = 4096) -> UInt64 {
        (chunkBytes(request: request) &+ 8 &+ pageSize &- 1) & ~(pageSize &- 1)
    }

    /// True when a block looks like one of malloc's own mmaps: at least the mmap threshold and
    /// returned 16 bytes past a page boundary (where an mmapped chunk's header ends).
    @inlinable public static func isMmapped(address: UInt64, request: UInt64, pageSize: UInt64 = 4096) -> Bool {
        request >= mmapThreshold && address % pageSize == headerBytes
    }

    /// The address range `[start, start + bytes)` a live block occupies, header and padding included.
    @inlinable public static func footprint(address: UInt64, request: UInt64, pageSize: UInt64 = 4096) -> (start: UInt64, bytes: UInt64, mmapped: Bool) {
        let start = address &- headerBytes
        if isMmapped(address: address, request: request, pageSize: pageSize) {
            return (start, mmappedBytes(request: request, pageSize: pageSize), true)
        }
        return (start, chunkBytes(request: request), false)
    }
}
