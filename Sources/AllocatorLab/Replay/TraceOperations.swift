import TraceIO
import TraceModel

/// Turns a recorder trace's events into an `OperationLog`: malloc-family calls become allocations,
/// realloc keeps its block's slot, free releases it; mmap-family events and failed calls are skipped
/// (alignment requests are replayed as plain allocations of the same size).
public struct TraceOperationsBuilder: TraceVisitor {
    /// The log built so far.
    public private(set) var log: OperationLog
    private var slots = SlotAssigner()

    /// Creates a builder for a log named after `source`.
    public init(source: String) { log = OperationLog(source: source) }

    public mutating func visitTick(timeNs: UInt64, residentBytes: UInt64) {
        if residentBytes > (log.realPeakResidentBytes ?? 0) { log.realPeakResidentBytes = residentBytes }
    }

    public mutating func visit(_ event: TraceEvent) {
        let address = event.address.rawValue
        switch event.function {
        case .free:
            if address == 0 { return }
            if let slot = slots.release(address) {
                log.operations.append(AllocationOperation(.free, slot: slot))
            } else {
                log.skippedEvents += 1
            }
        case .realloc, .reallocarray:
            let old = event.oldAddress.rawValue
            if address == 0 {
                // realloc(p, 0) freed p; a failed realloc leaves p live.
                if event.size == 0, old != 0, let slot = slots.release(old) {
                    log.operations.append(AllocationOperation(.free, slot: slot))
                } else {
                    log.skippedEvents += 1
                }
                return
            }
            if old != 0, let slot = slots.slot(of: old) {
                if old != address {
                    dropStale(address)
                    slots.rename(old, to: address)
                }
                log.operations.append(AllocationOperation(.reallocate, slot: slot, bytes: event.size))
            } else {
                allocate(address, bytes: event.size)
            }
        case .mmap, .munmap, .mremap:
            log.skippedEvents += 1
        default:
            if address == 0 {
                log.skippedEvents += 1
            } else {
                allocate(address, bytes: event.size)
            }
        }
    }

    private mutating func dropStale(_ address: UInt64) {
        // The same address handed out twice without a free seen in between: drop the stale block.
        if let stale = slots.release(address) { log.operations.append(AllocationOperation(.free, slot: stale)) }
    }

    private mutating func allocate(_ address: UInt64, bytes: UInt64) {
        dropStale(address)
        log.operations.append(AllocationOperation(.allocate, slot: slots.bind(address), bytes: bytes))
    }

    /// The finished log.
    public func finish() -> OperationLog {
        var result = log
        result.slotCount = slots.slotCount
        return result
    }

    /// Reads a whole recorder trace into an operation log.
    public static func read(path: String) throws -> OperationLog {
        let reader = try TraceReader(path: path)
        var builder = TraceOperationsBuilder(source: path)
        try reader.read(into: &builder)
        return builder.finish()
    }
}
