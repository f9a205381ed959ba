/// A compacting garbage collector with a large-object heap, in the style of .NET's: objects of
/// 85,000 bytes and more go to the large-object heap (LOH), a non-compacting first-fit free list;
/// the rest are bump-allocated in the small-object heap, where a free only marks the object dead
/// and a collection (when the bump pointer reaches the end) slides live objects down, leaving no
/// gaps. The small-object heap doubles when a collection frees too little. With
/// `compactLargeObjectHeapOnce` the LOH is compacted once, the first time a large request finds
/// enough free LOH bytes but no single gap (`GCLargeObjectHeapCompactionMode.CompactOnce`).
///
/// Handles are object ids: objects move when the heap compacts.
public final class CompactingCollector: AllocatorModel {
    /// Requests of this many bytes or more go to the large-object heap.
    public static let largeObjectThreshold: UInt64 = 85_000
    /// Bytes of object header (sync block and method table) added to every object.
    public static let headerBytes: UInt64 = 16
    /// The small-object heap's first capacity in bytes.
    public static let initialSmallHeapBytes: UInt64 = 256 << 10

    /// The small-object heap's first address.
    public let smallHeapBase: UInt64
    /// The large-object heap's first address.
    public let largeHeapBase: UInt64
    /// The largest footprint allowed, in bytes.
    public let limitBytes: UInt64
    /// Whether the one-shot LOH compaction is still armed.
    public private(set) var compactLargeObjectHeapOnce: Bool
    /// Collections run so far.
    public private(set) var collections = 0

    private var objectAddress: [UInt64] = []
    private var objectBytes: [UInt64] = []
    private var objectAlive: [Bool] = []
    private var recycledIds: [Int32] = []
    /// Small-object heap: objects (live or dead) in address order, bump pointer, capacity.
    private var smallObjects: [Int32] = []
    private var smallTop: UInt64 = 0
    private var smallCapacity: UInt64 = 0
    private var smallLiveBytes: UInt64 = 0
    private var smallDeadBytes: UInt64 = 0
    /// Large-object heap: live objects in address order, and its end.
    private var largeObjects: [Int32] = []
    private var largeTop: UInt64 = 0
    private var largeHighWater: UInt64 = 0
    private var largeLiveBytes: UInt64 = 0

    /// Creates an empty collector that may hold `limitBytes`.
    public init(compactLargeObjectHeapOnce: Bool = false, base: UInt64 = 4 << 40, limitBytes: UInt64 = .max) {
        self.compactLargeObjectHeapOnce = compactLargeObjectHeapOnce
        self.compactOnceRequested = compactLargeObjectHeapOnce
        self.smallHeapBase = base
        self.largeHeapBase = base + (1 << 39)
        self.limitBytes = limitBytes
    }

    /// `compacting-gc` or `compacting-gc-loh-compact`.
    public var name: String { compactOnceRequested ? "compacting-gc-loh-compact" : "compacting-gc" }
    private let compactOnceRequested: Bool
    /// Small-object heap capacity plus the large-object heap's extent, in bytes.
    public var footprintBytes: UInt64 { smallCapacity &+ largeHighWater }

    /// The bytes an object of `bytes` takes: header added, rounded to 8.
    @inline(__always) static func objectSize(_ bytes: UInt64) -> UInt64 { max(24, roundUp(bytes &+ headerBytes, 8)) }

    private func newObject(address: UInt64, bytes: UInt64) -> Int32 {
        if let id = recycledIds.popLast() {
            objectAddress[Int(id)] = address
            objectBytes[Int(id)] = bytes
            objectAlive[Int(id)] = true
            return id
        }
        objectAddress.append(address)
        objectBytes.append(bytes)
        objectAlive.append(true)
        return Int32(objectAddress.count - 1)
    }

    public func allocate(_ bytes: UInt64) -> UInt64? {
        let size = Self.objectSize(bytes)
        if bytes >= Self.largeObjectThreshold { return allocateLarge(size).map { UInt64($0) + 1 } }
        if smallTop &+ size > smallCapacity {
            collect()
            if smallTop &+ size > smallCapacity || smallTop > smallCapacity / 2 {
                var capacity = max(smallCapacity, Self.initialSmallHeapBytes)
                while capacity < 2 * (smallTop + size) { capacity *= 2 }
                if footprintBytes &- smallCapacity &+ capacity > limitBytes {
                    capacity = limitBytes &- largeHighWater
                    if smallTop &+ size > capacity { return nil }
                }
                smallCapacity = capacity
            }
        }
        let id = newObject(address: smallHeapBase &+ smallTop, bytes: size)
        smallObjects.append(id)
        smallTop &+= size
        smallLiveBytes &+= size
        return UInt64(id) + 1
    }

    /// Slides live small objects down over the dead ones.
    private func collect() {
        collections += 1
        var cursor: UInt64 = 0
        var kept: [Int32] = []
        kept.reserveCapacity(smallObjects.count)
        for id in smallObjects {
            if objectAlive[Int(id)] {
                objectAddress[Int(id)] = smallHeapBase &+ cursor
                cursor &+= objectBytes[Int(id)]
                kept.append(id)
            } else {
                recycledIds.append(id)
            }
        }
        smallObjects = kept
        smallTop = cursor
        smallDeadBytes = 0
    }

    private func allocateLarge(_ size: UInt64) -> Int32? {
        // First fit over the gaps between live large objects.
        var previousEnd = largeHeapBase
        for (index, id) in largeObjects.enumerated() {
            if objectAddress[Int(id)] - previousEnd >= size {
                let object = newObject(address: previousEnd, bytes: size)
                largeObjects.insert(object, at: index)
                largeLiveBytes &+= size
                return object
            }
            previousEnd = objectAddress[Int(id)] + objectBytes[Int(id)]
        }
        let tailRoom = largeHighWater - (previousEnd - largeHeapBase)
        if compactLargeObjectHeapOnce, largeHighWater - largeLiveBytes >= size, tailRoom < size {
            compactLargeObjectHeapOnce = false
            compactLargeObjectHeap()
            previousEnd = largeHeapBase + largeLiveBytes
        }
        let end = previousEnd - largeHeapBase + size
        if end > largeHighWater {
            guard smallCapacity &+ end <= limitBytes else { return nil }
            largeHighWater = end
        }
        let object = newObject(address: previousEnd, bytes: size)
        largeObjects.append(object)
        largeLiveBytes &+= size
        return object
    }

    private func compactLargeObjectHeap() {
        var cursor = largeHeapBase
        for id in largeObjects {
            objectAddress[Int(id)] = cursor
            cursor += objectBytes[Int(id)]
        }
    }

    public func free(_ handle: UInt64, requestedBytes: UInt64) {
        let id = Int32(handle - 1)
        let i = Int(id)
        if objectAddress[i] >= largeHeapBase {
            let index = largeIndex(of: objectAddress[i])
            largeObjects.remove(at: index)
            largeLiveBytes -= objectBytes[i]
            objectAlive[i] = false
            recycledIds.append(id)
        } else {
            objectAlive[i] = false
            smallLiveBytes -= objectBytes[i]
            smallDeadBytes += objectBytes[i]
        }
    }

    private func largeIndex(of address: UInt64) -> Int {
        var low = 0, high = largeObjects.count
        while low < high {
            let mid = (low + high) / 2
            if objectAddress[Int(largeObjects[mid])] < address { low = mid + 1 } else { high = mid }
        }
        return low
    }

    public func occupancy() -> HeapOccupancy {
        var largestGap: UInt64 = 0
        var previousEnd = largeHeapBase
        for id in largeObjects {
            largestGap = max(largestGap, objectAddress[Int(id)] - previousEnd)
            previousEnd = objectAddress[Int(id)] + objectBytes[Int(id)]
        }
        largestGap = max(largestGap, largeHeapBase + largeHighWater - previousEnd)
        // Dead small objects count as free: the next collection reclaims them into one run.
        let smallFree = smallCapacity - smallLiveBytes
        let used = smallLiveBytes + largeLiveBytes
        return HeapOccupancy(footprintBytes: footprintBytes, usedBlockBytes: used, freeBytes: footprintBytes - used, largestFreeBytes: max(smallFree, largestGap))
    }

    public func snapshot() -> HeapSnapshot {
        var regions: [HeapRegion] = [], blocks: [HeapBlock] = []
        if smallCapacity > 0 {
            regions.append(HeapRegion(start: smallHeapBase, bytes: smallCapacity, name: "small-object heap (compacting)"))
            for id in smallObjects {
                blocks.append(HeapBlock(start: objectAddress[Int(id)], bytes: objectBytes[Int(id)], kind: objectAlive[Int(id)] ? .used : .overhead))
            }
            if smallTop < smallCapacity { blocks.append(HeapBlock(start: smallHeapBase + smallTop, bytes: smallCapacity - smallTop, kind: .free)) }
        }
        if largeHighWater > 0 {
            regions.append(HeapRegion(start: largeHeapBase, bytes: largeHighWater, name: "large-object heap (not compacted)"))
            var cursor = largeHeapBase
            for id in largeObjects {
                if objectAddress[Int(id)] > cursor { blocks.append(HeapBlock(start: cursor, bytes: objectAddress[Int(id)] - cursor, kind: .free)) }
                blocks.append(HeapBlock(start: objectAddress[Int(id)], bytes: objectBytes[Int(id)], kind: .used))
                cursor = objectAddress[Int(id)] + objectBytes[Int(id)]
            }
            if cursor < largeHeapBase + largeHighWater { blocks.append(HeapBlock(start: cursor, bytes: largeHeapBase + largeHighWater - cursor, kind: .free)) }
        }
        return HeapSnapshot(regions: regions, blocks: blocks)
    }

    public func address(of handle: UInt64) -> UInt64 { objectAddress[Int(handle - 1)] }

    public func checkInvariants() {
        var cursor = smallHeapBase, live: UInt64 = 0, dead: UInt64 = 0
        for id in smallObjects {
            precondition(objectAddress[Int(id)] == cursor, "small-object heap has a gap at \(cursor)")
            cursor += objectBytes[Int(id)]
            if objectAlive[Int(id)] { live += objectBytes[Int(id)] } else { dead += objectBytes[Int(id)] }
        }
        precondition(cursor == smallHeapBase + smallTop && smallTop <= smallCapacity, "bump pointer out of step")
        precondition(live == smallLiveBytes && dead == smallDeadBytes, "small-object byte counts out of step")
        var end = largeHeapBase, large: UInt64 = 0
        for id in largeObjects {
            precondition(objectAlive[Int(id)] && objectAddress[Int(id)] >= end, "large objects overlap")
            end = objectAddress[Int(id)] + objectBytes[Int(id)]
            large += objectBytes[Int(id)]
        }
        precondition(end <= largeHeapBase + largeHighWater && large == largeLiveBytes, "large-object heap out of step")
    }
}
