/// A binary buddy allocator: every block is a power of two in size (16 bytes at least) and aligned
/// to its size; a free block merges with its buddy (the other half of the block it was split from)
/// whenever both are free. The heap doubles when no block is large enough, so its footprint is
/// always a power of two. Block metadata lives outside the heap (as in a buddy bitmap).
public final class BuddyAllocator: AllocatorModel {
    /// The smallest block's order (2^4 = 16 bytes).
    public static let minimumOrder = 4
    /// The heap's first address (aligned to any heap size the model reaches).
    public let base: UInt64
    /// The largest footprint allowed, in bytes.
    public let limitBytes: UInt64
    /// log2 of the heap size (-1 when empty).
    public private(set) var heapOrder = -1

    private var freeHeads = [Int32](repeating: -1, count: 64)
    private var nodeAddress: [UInt64] = []
    private var nodeOrder: [UInt8] = []
    private var nodePrevious: [Int32] = []
    private var nodeNext: [Int32] = []
    private var recycled: [Int32] = []
    /// Free blocks by address (value: node).
    private var freeByAddress = AddressTable(capacity: 1024)
    /// Used blocks by address (value: order).
    private var usedByAddress = AddressTable(capacity: 1024)
    private var usedBytes: UInt64 = 0

    /// Creates an empty heap at `base` (a multiple of 2^40) that may grow to `limitBytes`.
    public init(base: UInt64 = 1 << 40, limitBytes: UInt64 = .max) {
        self.base = base
        self.limitBytes = limitBytes
    }

    /// `buddy`.
    public var name: String { "buddy" }
    /// The heap size in bytes.
    public var footprintBytes: UInt64 { heapOrder < 0 ? 0 : 1 << UInt64(heapOrder) }

    /// The order of the block serving `bytes`.
    @inline(__always) static func order(for bytes: UInt64) -> Int {
        bytes <= 1 << UInt64(minimumOrder) ? minimumOrder : 64 - (bytes &- 1).leadingZeroBitCount
    }

    private func push(_ address: UInt64, order: Int) {
        let node: Int32
        if let reused = recycled.popLast() {
            node = reused
            nodeAddress[Int(node)] = address
            nodeOrder[Int(node)] = UInt8(order)
        } else {
            node = Int32(nodeAddress.count)
            nodeAddress.append(address)
            nodeOrder.append(UInt8(order))
            nodePrevious.append(-1)
            nodeNext.append(-1)
        }
        let n = Int(node)
        nodePrevious[n] = -1
        nodeNext[n] = freeHeads[order]
        if freeHeads[order] >= 0 { nodePrevious[Int(freeHeads[order])] = node }
        freeHeads[order] = node
        freeByAddress.set(address, UInt32(node))
    }

    private func remove(_ node: Int32) {
        let n = Int(node)
        let previous = nodePrevious[n], next = nodeNext[n]
        if previous >= 0 { nodeNext[Int(previous)] = next } else { freeHeads[Int(nodeOrder[n])] = next }
        if next >= 0 { nodePrevious[Int(next)] = previous }
        freeByAddress.remove(nodeAddress[n])
        recycled.append(node)
    }

    /// Frees a block, merging it with its buddy as long as the buddy is free and whole.
    private func release(_ address: UInt64, order: Int) {
        var address = address, order = order
        while order < heapOrder {
            let buddy = base &+ ((address &- base) ^ (1 << UInt64(order)))
            guard let node = freeByAddress.value(for: buddy), Int(nodeOrder[Int(node)]) == order else { break }
            remove(Int32(node))
            address = min(address, buddy)
            order += 1
        }
        push(address, order: order)
    }

    /// Doubles the heap (or creates it) until a block of `order` can exist; false at the limit.
    private func grow(toHold order: Int) -> Bool {
        if heapOrder < 0 {
            guard UInt64(1) << UInt64(order) <= limitBytes else { return false }
            heapOrder = order
            push(base, order: order)
            return true
        }
        guard heapOrder < 62, UInt64(1) << UInt64(heapOrder + 1) <= limitBytes else { return false }
        let upperHalf = base &+ (1 << UInt64(heapOrder))
        heapOrder += 1
        release(upperHalf, order: heapOrder - 1)
        return true
    }

    public func allocate(_ bytes: UInt64) -> UInt64? {
        let wanted = Self.order(for: bytes)
        var order = wanted
        while true {
            order = wanted
            while order <= max(heapOrder, wanted), order < 64, freeHeads[order] < 0 { order += 1 }
            if order < 64, freeHeads[order] >= 0 { break }
            guard grow(toHold: wanted) else { return nil }
        }
        let node = freeHeads[order]
        let address = nodeAddress[Int(node)]
        remove(node)
        while order > wanted {
            order -= 1
            push(address &+ (1 << UInt64(order)), order: order)
        }
        usedByAddress.set(address, UInt32(wanted))
        usedBytes &+= 1 << UInt64(wanted)
        return address
    }

    public func free(_ handle: UInt64, requestedBytes: UInt64) {
        let order = Self.order(for: requestedBytes)
        usedByAddress.remove(handle)
        usedBytes &-= 1 << UInt64(order)
        release(handle, order: order)
    }

    public func occupancy() -> HeapOccupancy {
        var largest: UInt64 = 0
        for order in stride(from: 63, through: 0, by: -1) where freeHeads[order] >= 0 {
            largest = 1 << UInt64(order)
            break
        }
        return HeapOccupancy(footprintBytes: footprintBytes, usedBlockBytes: usedBytes, freeBytes: footprintBytes - usedBytes, largestFreeBytes: largest)
    }

    public func snapshot() -> HeapSnapshot {
        var blocks: [HeapBlock] = []
        for order in 0..<64 {
            var node = freeHeads[order]
            while node >= 0 {
                blocks.append(HeapBlock(start: nodeAddress[Int(node)], bytes: 1 << UInt64(order), kind: .free))
                node = nodeNext[Int(node)]
            }
        }
        // Used blocks: walk the heap, skipping free blocks, reading each used block's order.
        var freeStarts: [UInt64: UInt64] = [:]
        for block in blocks { freeStarts[block.start] = block.bytes }
        var cursor = base
        let end = base &+ footprintBytes
        while cursor < end {
            if let bytes = freeStarts[cursor] {
                cursor += bytes
            } else if let order = usedByAddress.value(for: cursor) {
                blocks.append(HeapBlock(start: cursor, bytes: 1 << UInt64(order), kind: .used))
                cursor += 1 << UInt64(order)
            } else {
                preconditionFailure("buddy heap: nothing at \(cursor)")
            }
        }
        blocks.sort { $0.start < $1.start }
        return HeapSnapshot(regions: footprintBytes == 0 ? [] : [HeapRegion(start: base, bytes: footprintBytes, name: "buddy heap")], blocks: blocks)
    }

    public func address(of handle: UInt64) -> UInt64 { handle }

    public func checkInvariants() {
        let snapshot = snapshot()
        precondition(snapshot.tilingProblem() == nil, "buddy heap: \(snapshot.tilingProblem()!)")
        var used: UInt64 = 0
        var previousFree: HeapBlock?
        for block in snapshot.blocks {
            precondition((block.start - base) % block.bytes == 0, "buddy block at \(block.start) not aligned to its size")
            if block.kind == .used { used += block.bytes }
            if block.kind == .free, let other = previousFree, other.bytes == block.bytes, (other.start - base) ^ block.bytes == block.start - base, block.bytes < footprintBytes {
                preconditionFailure("free buddies at \(other.start) and \(block.start) were not merged")
            }
            previousFree = block.kind == .free ? block : nil
        }
        precondition(used == usedBytes, "buddy used bytes out of step")
    }
}
