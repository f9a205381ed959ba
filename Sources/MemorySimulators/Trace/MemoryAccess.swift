/// What a memory access does, as the trace formats tell it.
public enum AccessKind: UInt8, Sendable, Codable, CaseIterable {
    /// A data load (lackey `L`, Dinero label 0).
    case read
    /// A data store (lackey `S`, Dinero label 1).
    case write
    /// A load and a store to the same bytes (lackey `M`, e.g. `x += 1`): one lookup that dirties.
    case modify
    /// An instruction fetch (lackey `I`, Dinero label 2).
    case instructionFetch

    /// Whether the access changes memory (write or modify), which makes a page or line dirty.
    @inline(__always)
    public var isWrite: Bool { self == .write || self == .modify }
}

/// One access of an address trace: a virtual address, how many bytes, and what kind.
public struct MemoryAccess: Sendable, Equatable, Hashable {
    /// The first virtual address touched (bytes).
    public var address: UInt64
    /// How many bytes the access touches, at least 1.
    public var size: UInt32
    /// Read, write, modify or instruction fetch.
    public var kind: AccessKind

    /// An access of `size` bytes at `address`.
    @inline(__always)
    public init(address: UInt64, size: UInt32, kind: AccessKind) {
        self.address = address
        self.size = size
        self.kind = kind
    }

    /// The address of the last byte touched (saturating at the top of the address space).
    @inline(__always)
    public var lastAddress: UInt64 {
        let (sum, overflow) = address.addingReportingOverflow(UInt64(max(size, 1)) - 1)
        return overflow ? UInt64.max : sum
    }
}

/// A source of memory accesses handed out in batches (a trace file, a synthetic pattern), so the
/// simulators loop over contiguous memory and never hold a huge trace at once.
public protocol MemoryAccessSource {
    /// Calls `body` with consecutive batches of accesses, in trace order, until the source ends.
    func forEachBatch(_ body: (UnsafeBufferPointer<MemoryAccess>) throws -> Void) throws
}
