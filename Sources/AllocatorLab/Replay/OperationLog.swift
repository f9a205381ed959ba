/// One heap operation of a replay, with the block named by a dense slot number instead of an address.
public struct AllocationOperation: Sendable, Equatable {
    /// What the operation does.
    public enum Kind: UInt8, Sendable {
        /// Allocate `bytes` into an empty slot.
        case allocate = 0
        /// Resize the block in `slot` to `bytes` (allocates when the slot is empty).
        case reallocate = 1
        /// Free the block in `slot`.
        case free = 2
    }
    /// What the operation does.
    public var kind: Kind
    /// The block's slot: a small number reused once its block is freed (at most the peak live count).
    public var slot: UInt32
    /// Requested size in bytes (0 for free).
    public var bytes: UInt64

    /// Creates an operation.
    public init(_ kind: Kind, slot: UInt32, bytes: UInt64 = 0) {
        self.kind = kind
        self.slot = slot
        self.bytes = bytes
    }
}

/// A whole workload ready to replay: heap operations in order, with what is known of the real run.
public struct OperationLog: Sendable {
    /// The operations, in trace order.
    public var operations: [AllocationOperation] = []
    /// One more than the highest slot used.
    public var slotCount: Int = 0
    /// Where the workload came from (a file path or a description).
    public var source: String
    /// The real run's peak resident set size in bytes (recorder traces only).
    public var realPeakResidentBytes: UInt64?
    /// Trace events that were not heap operations (mmap family) or named no live block, skipped.
    public var skippedEvents: UInt64 = 0

    /// Creates an empty log.
    public init(source: String) { self.source = source }

    /// The highest sum of requested bytes live at once, in bytes (every request succeeding).
    public var peakLiveBytes: UInt64 {
        var sizes = [UInt64](repeating: 0, count: slotCount)
        var live: UInt64 = 0, peak: UInt64 = 0
        for op in operations {
            let s = Int(op.slot)
            switch op.kind {
            case .allocate, .reallocate:
                live = live &- sizes[s] &+ op.bytes
                sizes[s] = op.bytes
                peak = max(peak, live)
            case .free:
                live &-= sizes[s]
                sizes[s] = 0
            }
        }
        return peak
    }
}

/// Hands out dense slot numbers for block names (addresses or text-trace ids), reusing freed slots.
public struct SlotAssigner {
    private var table = AddressTable(capacity: 4096)
    private var freeSlots: [UInt32] = []
    /// One more than the highest slot handed out.
    public private(set) var slotCount = 0

    /// Creates an empty assigner.
    public init() {}

    /// The slot of a live name, or nil.
    @inline(__always) public func slot(of name: UInt64) -> UInt32? { table.value(for: name &+ 1) }

    /// A fresh slot for `name` (which must not be live).
    public mutating func bind(_ name: UInt64) -> UInt32 {
        let slot: UInt32
        if let reused = freeSlots.popLast() {
            slot = reused
        } else {
            slot = UInt32(slotCount)
            slotCount += 1
        }
        table.set(name &+ 1, slot)
        return slot
    }

    /// Moves a live slot from one name to another (a realloc that moved the block).
    public mutating func rename(_ old: UInt64, to new: UInt64) {
        guard let slot = table.remove(old &+ 1) else { return }
        table.set(new &+ 1, slot)
    }

    /// Releases `name`'s slot, returning it, or nil when the name was not live.
    @discardableResult
    public mutating func release(_ name: UInt64) -> UInt32? {
        guard let slot = table.remove(name &+ 1) else { return nil }
        freeSlots.append(slot)
        return slot
    }
}
