/// CPython's small-object allocator (pymalloc, `Objects/obmalloc.c` of CPython 3.11) as a model:
/// requests of 1 to 512 bytes round up to one of 32 classes of 16-byte steps; each 16 KiB pool
/// (48-byte header) serves one class; pools are carved from 1 MiB arenas; a new pool comes from the
/// most full usable arena (`usable_arenas` is kept sorted by free pools, with CPython's `nfp2lasta`
/// shortcut); an arena goes back to the system only when wholly empty and another usable arena
/// remains; other requests (0 bytes, over 512) go to the system allocator, modelled as glibc chunks.
///
/// Arenas are assumed pool-aligned (64 pools each); a real arena from `mmap` loses one pool to
/// alignment when its address is not a multiple of 16 KiB.
public final class PymallocModel: AllocatorModel {
    /// Bytes in a pool.
    public static let poolBytes: UInt64 = 16 << 10
    /// Bytes in an arena.
    public static let arenaBytes: UInt64 = 1 << 20
    /// Pools in an arena.
    public static let poolsPerArena = 64
    /// Bytes of a pool header (`POOL_OVERHEAD`).
    public static let poolHeaderBytes: UInt64 = 48
    /// The size-class count.
    public static let classCount = 32
    /// The largest request pymalloc serves, in bytes.
    public static let smallRequestThreshold: UInt64 = 512

    /// The first arena's address.
    public let base: UInt64
    /// Where system-allocator blocks start.
    public let systemBase: UInt64
    /// The largest footprint allowed, in bytes.
    public let limitBytes: UInt64
    public private(set) var footprintBytes: UInt64 = 0

    // Arena objects (CPython's `arenas` array); an arena object without memory has `arenaLive` false.
    private var arenaLive: [Bool] = []
    private var arenaFreePools: [Int32] = []  // nfreepools
    private var arenaCarved: [Int32] = []  // pools carved so far (pool_address)
    private var arenaFreePoolStack: [[Int32]] = []  // freepools (LIFO)
    private var arenaNext: [Int32] = []
    private var arenaPrevious: [Int32] = []
    private var unusedArenaObjects: [Int32] = []
    private var usableArenas: Int32 = -1
    private var lastArenaWithFreePools = [Int32](repeating: -1, count: PymallocModel.poolsPerArena + 1)  // nfp2lasta

    // Pools, indexed arena * 64 + pool.
    private var poolClass: [Int8] = []
    private var poolLiveBlocks: [UInt16] = []
    private var poolCarvedBlocks: [UInt16] = []
    private var poolFreeBlocks: [[UInt16]] = []
    private var poolNext: [Int32] = []
    private var poolPrevious: [Int32] = []
    private var usedPools = [Int32](repeating: -1, count: PymallocModel.classCount)

    private var systemBlocks: [UInt64: UInt64] = [:]
    private var nextSystemAddress: UInt64
    private var systemBytes: UInt64 = 0
    private var smallBlockBytes: UInt64 = 0

    /// Arenas ever allocated (`# arenas allocated total`).
    public private(set) var arenasAllocatedTotal = 0
    /// Arenas returned to the system (`# arenas reclaimed`).
    public private(set) var arenasReclaimed = 0
    /// The most arenas allocated at once (`# arenas highwater mark`).
    public private(set) var arenasHighWaterMark = 0
    /// Arenas allocated now (`# arenas allocated current`).
    public var arenasAllocatedCurrent: Int { arenasAllocatedTotal - arenasReclaimed }

    /// Creates an empty allocator that may hold `limitBytes`.
    public init(base: UInt64 = 3 << 40, limitBytes: UInt64 = .max) {
        self.base = base
        self.systemBase = base + (1 << 39)
        self.nextSystemAddress = base + (1 << 39)
        self.limitBytes = limitBytes
    }

    /// `pymalloc`.
    public var name: String { "pymalloc" }

    /// Block size in bytes of class `c`.
    @inline(__always) public static func blockBytes(ofClass c: Int) -> UInt64 { UInt64(c + 1) << 4 }
    /// Blocks that fit in one pool of class `c`.
    @inline(__always) public static func blocksPerPool(ofClass c: Int) -> Int { Int((poolBytes - poolHeaderBytes) / blockBytes(ofClass: c)) }

    /// Per size class: pools in use and blocks in use, as `sys._debugmallocstats()` lists them.
    public func classStatistics() -> [(pools: Int, blocksInUse: Int)] {
        var result = [(pools: Int, blocksInUse: Int)](repeating: (0, 0), count: Self.classCount)
        for p in poolClass.indices where poolClass[p] >= 0 && arenaLive[p / Self.poolsPerArena] && poolLiveBlocks[p] > 0 {
            result[Int(poolClass[p])].pools += 1
            result[Int(poolClass[p])].blocksInUse += Int(poolLiveBlocks[p])
        }
        return result
    }

    // MARK: Arenas

    private func newArena() -> Int32? {
        guard footprintBytes &+ Self.arenaBytes <= limitBytes else { return nil }
        let a: Int32
        if let reused = unusedArenaObjects.popLast() {
            a = reused
        } else {
            a = Int32(arenaLive.count)
            arenaLive.append(false)
            arenaFreePools.append(0)
            arenaCarved.append(0)
            arenaFreePoolStack.append([])
            arenaNext.append(-1)
            arenaPrevious.append(-1)
            poolClass.append(contentsOf: repeatElement(-1, count: Self.poolsPerArena))
            poolLiveBlocks.append(contentsOf: repeatElement(0, count: Self.poolsPerArena))
            poolCarvedBlocks.append(contentsOf: repeatElement(0, count: Self.poolsPerArena))
            poolFreeBlocks.append(contentsOf: repeatElement([], count: Self.poolsPerArena))
            poolNext.append(contentsOf: repeatElement(-1, count: Self.poolsPerArena))
            poolPrevious.append(contentsOf: repeatElement(-1, count: Self.poolsPerArena))
        }
        let i = Int(a)
        arenaLive[i] = true
        arenaFreePools[i] = Int32(Self.poolsPerArena)
        arenaCarved[i] = 0
        arenaFreePoolStack[i].removeAll()
        for p in i * Self.poolsPerArena..<(i + 1) * Self.poolsPerArena { poolClass[p] = -1 }
        footprintBytes &+= Self.arenaBytes
        arenasAllocatedTotal += 1
        arenasHighWaterMark = max(arenasHighWaterMark, arenasAllocatedCurrent)
        return a
    }

    /// CPython's `allocate_from_new_pool`, returning the pool (already linked into `usedPools`).
    private func poolFromArenas(forClass c: Int) -> Int? {
        if usableArenas < 0 {
            guard let a = newArena() else { return nil }
            usableArenas = a
            arenaNext[Int(a)] = -1
            arenaPrevious[Int(a)] = -1
            lastArenaWithFreePools[Int(arenaFreePools[Int(a)])] = a
        }
        let a = Int(usableArenas)
        let nf = Int(arenaFreePools[a])
        if lastArenaWithFreePools[nf] == usableArenas { lastArenaWithFreePools[nf] = -1 }
        if nf > 1 { lastArenaWithFreePools[nf - 1] = usableArenas }
        let pool: Int
        if let reused = arenaFreePoolStack[a].popLast() {
            pool = Int(reused)
        } else {
            pool = a * Self.poolsPerArena + Int(arenaCarved[a])
            arenaCarved[a] += 1
        }
        arenaFreePools[a] -= 1
        if arenaFreePools[a] == 0 {
            usableArenas = arenaNext[a]
            if usableArenas >= 0 { arenaPrevious[Int(usableArenas)] = -1 }
        }
        poolClass[pool] = Int8(c)
        poolLiveBlocks[pool] = 0
        poolCarvedBlocks[pool] = 0
        poolFreeBlocks[pool].removeAll(keepingCapacity: true)
        linkUsedPool(pool, c)
        return pool
    }

    private func linkUsedPool(_ pool: Int, _ c: Int) {
        poolPrevious[pool] = -1
        poolNext[pool] = usedPools[c]
        if usedPools[c] >= 0 { poolPrevious[Int(usedPools[c])] = Int32(pool) }
        usedPools[c] = Int32(pool)
    }

    private func unlinkUsedPool(_ pool: Int, _ c: Int) {
        let previous = poolPrevious[pool], next = poolNext[pool]
        if previous >= 0 { poolNext[Int(previous)] = next } else { usedPools[c] = next }
        if next >= 0 { poolPrevious[Int(next)] = previous }
        poolNext[pool] = -1
        poolPrevious[pool] = -1
    }

    // MARK: Allocation

    public func allocate(_ bytes: UInt64) -> UInt64? {
        guard bytes &- 1 < Self.smallRequestThreshold else { return systemAllocate(bytes) }
        let c = Int((bytes - 1) >> 4)
        var pool = Int(usedPools[c])
        if pool < 0 {
            guard let fresh = poolFromArenas(forClass: c) else { return nil }
            pool = fresh
        }
        let block: UInt16
        if let reused = poolFreeBlocks[pool].popLast() {
            block = reused
        } else {
            block = poolCarvedBlocks[pool]
            poolCarvedBlocks[pool] += 1
        }
        poolLiveBlocks[pool] += 1
        smallBlockBytes &+= Self.blockBytes(ofClass: c)
        if poolFreeBlocks[pool].isEmpty, Int(poolCarvedBlocks[pool]) == Self.blocksPerPool(ofClass: c) { unlinkUsedPool(pool, c) }
        return base &+ UInt64(pool) &* Self.poolBytes &+ Self.poolHeaderBytes &+ UInt64(block) &* Self.blockBytes(ofClass: c)
    }

    /// glibc's chunk for a request: 8 bytes of header, 16-byte multiples, 32 bytes at least.
    @inline(__always) static func systemChunkBytes(_ bytes: UInt64) -> UInt64 { max(32, roundUp(bytes &+ 8, 16)) }

    private func systemAllocate(_ bytes: UInt64) -> UInt64? {
        let chunk = Self.systemChunkBytes(bytes)
        guard footprintBytes &+ chunk <= limitBytes else { return nil }
        let address = nextSystemAddress
        nextSystemAddress &+= chunk
        systemBlocks[address] = chunk
        systemBytes &+= chunk
        footprintBytes &+= chunk
        return address
    }

    public func free(_ handle: UInt64, requestedBytes: UInt64) {
        if handle >= systemBase {
            let chunk = systemBlocks.removeValue(forKey: handle)!
            systemBytes &-= chunk
            footprintBytes &-= chunk
            return
        }
        let offset = handle &- base
        let pool = Int(offset / Self.poolBytes)
        let c = Int(poolClass[pool])
        let blockBytes = Self.blockBytes(ofClass: c)
        let wasFull = poolFreeBlocks[pool].isEmpty && Int(poolCarvedBlocks[pool]) == Self.blocksPerPool(ofClass: c)
        poolFreeBlocks[pool].append(UInt16((offset % Self.poolBytes - Self.poolHeaderBytes) / blockBytes))
        poolLiveBlocks[pool] -= 1
        smallBlockBytes &-= blockBytes
        if wasFull { linkUsedPool(pool, c) }
        if poolLiveBlocks[pool] == 0 { poolBecameEmpty(pool, c) }
    }

    /// CPython's `insert_to_freepool`: the pool goes to its arena's free pools, the arena moves right
    /// in `usable_arenas`, and a wholly empty arena is freed when another usable arena remains.
    private func poolBecameEmpty(_ pool: Int, _ c: Int) {
        unlinkUsedPool(pool, c)
        let a = pool / Self.poolsPerArena
        let arena = Int32(a)
        arenaFreePoolStack[a].append(Int32(pool))
        var nf = Int(arenaFreePools[a])
        let lastWithSame = lastArenaWithFreePools[nf]
        if lastWithSame == arena {
            let p = arenaPrevious[a]
            lastArenaWithFreePools[nf] = p >= 0 && Int(arenaFreePools[Int(p)]) == nf ? p : -1
        }
        nf += 1
        arenaFreePools[a] = Int32(nf)
        if nf == Self.poolsPerArena, arenaNext[a] >= 0 {
            // Case 1: wholly empty and not the last usable arena: free it.
            let previous = arenaPrevious[a], next = arenaNext[a]
            if previous >= 0 { arenaNext[Int(previous)] = next } else { usableArenas = next }
            arenaPrevious[Int(next)] = previous
            arenaLive[a] = false
            unusedArenaObjects.append(arena)
            footprintBytes &-= Self.arenaBytes
            arenasReclaimed += 1
            return
        }
        if nf == 1 {
            // Case 2: the arena was full; it becomes the most full usable arena.
            arenaNext[a] = usableArenas
            arenaPrevious[a] = -1
            if usableArenas >= 0 { arenaPrevious[Int(usableArenas)] = arena }
            usableArenas = arena
            if lastArenaWithFreePools[1] < 0 { lastArenaWithFreePools[1] = arena }
            return
        }
        if lastArenaWithFreePools[nf] < 0 { lastArenaWithFreePools[nf] = arena }
        // Case 4: still in order.
        if arena == lastWithSame { return }
        // Case 3: move the arena to just after the last arena that had the same free pools.
        let previous = arenaPrevious[a], next = arenaNext[a]
        if previous >= 0 { arenaNext[Int(previous)] = next } else { usableArenas = next }
        if next >= 0 { arenaPrevious[Int(next)] = previous }
        let anchor = Int(lastWithSame)
        arenaPrevious[a] = lastWithSame
        arenaNext[a] = arenaNext[anchor]
        if arenaNext[a] >= 0 { arenaPrevious[Int(arenaNext[a])] = arena }
        arenaNext[anchor] = arena
    }

    /// CPython's `pymalloc_realloc`: a pool block that still fits and shrinks by less than a quarter
    /// stays put; a system block stays with the system (resized in place).
    public func reallocate(_ handle: UInt64, from oldBytes: UInt64, to newBytes: UInt64) -> UInt64? {
        if handle >= systemBase {
            let old = systemBlocks[handle]!, chunk = Self.systemChunkBytes(newBytes)
            guard footprintBytes &- old &+ chunk <= limitBytes else { return nil }
            // Model the chunk as resized where it is (the address range is not reused).
            systemBlocks[handle] = chunk
            systemBytes = systemBytes &- old &+ chunk
            footprintBytes = footprintBytes &- old &+ chunk
            return handle
        }
        let pool = Int((handle &- base) / Self.poolBytes)
        let size = Self.blockBytes(ofClass: Int(poolClass[pool]))
        if newBytes <= size, 4 * newBytes > 3 * size { return handle }
        guard let fresh = allocate(newBytes) else { return nil }
        free(handle, requestedBytes: oldBytes)
        return fresh
    }

    public func occupancy() -> HeapOccupancy {
        var headers: UInt64 = 0
        var anyFreePool = false
        for a in arenaLive.indices where arenaLive[a] {
            if arenaFreePools[a] > 0 { anyFreePool = true }
            for p in a * Self.poolsPerArena..<(a * Self.poolsPerArena + Int(arenaCarved[a])) where poolClass[p] >= 0 && poolLiveBlocks[p] > 0 {
                let c = Int(poolClass[p])
                headers += Self.poolBytes - UInt64(Self.blocksPerPool(ofClass: c)) * Self.blockBytes(ofClass: c)
            }
        }
        var largest: UInt64 = anyFreePool ? Self.smallRequestThreshold : 0
        if largest == 0 {
            for c in stride(from: Self.classCount - 1, through: 0, by: -1) where usedPools[c] >= 0 {
                largest = Self.blockBytes(ofClass: c)
                break
            }
        }
        let used = smallBlockBytes + systemBytes
        return HeapOccupancy(footprintBytes: footprintBytes, usedBlockBytes: used, freeBytes: footprintBytes - used - headers, largestFreeBytes: largest)
    }

    public func snapshot() -> HeapSnapshot {
        var regions: [HeapRegion] = [], blocks: [HeapBlock] = []
        for a in arenaLive.indices where arenaLive[a] {
            let arenaStart = base + UInt64(a) * Self.arenaBytes
            regions.append(HeapRegion(start: arenaStart, bytes: Self.arenaBytes, name: "arena \(a)"))
            for p in a * Self.poolsPerArena..<(a + 1) * Self.poolsPerArena {
                let poolStart = base + UInt64(p) * Self.poolBytes
                let inUse = p - a * Self.poolsPerArena < Int(arenaCarved[a]) && poolLiveBlocks[p] > 0
                guard inUse else {
                    appendMerging(&blocks, HeapBlock(start: poolStart, bytes: Self.poolBytes, kind: .free))
                    continue
                }
                let c = Int(poolClass[p])
                let size = Self.blockBytes(ofClass: c), count = Self.blocksPerPool(ofClass: c)
                blocks.append(HeapBlock(start: poolStart, bytes: Self.poolHeaderBytes, kind: .overhead))
                let free = Set(poolFreeBlocks[p])
                for b in 0..<count {
                    let kind: HeapBlockKind = b >= Int(poolCarvedBlocks[p]) || free.contains(UInt16(b)) ? .free : .used
                    let block = HeapBlock(start: poolStart + Self.poolHeaderBytes + UInt64(b) * size, bytes: size, kind: kind)
                    if kind == .free, b > 0 { appendMerging(&blocks, block) } else { blocks.append(block) }
                }
                let tail = Self.poolBytes - Self.poolHeaderBytes - UInt64(count) * size
                if tail > 0 { blocks.append(HeapBlock(start: poolStart + Self.poolBytes - tail, bytes: tail, kind: .overhead)) }
            }
        }
        for (address, chunk) in systemBlocks.sorted(by: { $0.key < $1.key }) {
            regions.append(HeapRegion(start: address, bytes: chunk, name: "system malloc"))
            blocks.append(HeapBlock(start: address, bytes: chunk, kind: .used))
        }
        return HeapSnapshot(regions: regions, blocks: blocks)
    }

    private func appendMerging(_ blocks: inout [HeapBlock], _ block: HeapBlock) {
        if let last = blocks.last, last.kind == block.kind, last.start + last.bytes == block.start,
           (last.start - base) / Self.arenaBytes == (block.start - base) / Self.arenaBytes {
            blocks[blocks.count - 1].bytes += block.bytes
        } else {
            blocks.append(block)
        }
    }

    public func address(of handle: UInt64) -> UInt64 { handle }

    public func checkInvariants() {
        var live = 0
        var arena = usableArenas, previous: Int32 = -1, lastFree: Int32 = -1
        while arena >= 0 {
            let a = Int(arena)
            precondition(arenaLive[a] && arenaFreePools[a] > 0, "unusable arena \(a) on usable_arenas")
            precondition(arenaPrevious[a] == previous, "usable_arenas links broken")
            precondition(arenaFreePools[a] >= lastFree, "usable_arenas not sorted by free pools")
            lastFree = arenaFreePools[a]
            previous = arena
            arena = arenaNext[a]
        }
        for a in arenaLive.indices where arenaLive[a] {
            live += 1
            var used = 0
            for p in a * Self.poolsPerArena..<(a * Self.poolsPerArena + Int(arenaCarved[a])) where poolLiveBlocks[p] > 0 {
                used += 1
                let c = Int(poolClass[p])
                precondition(Int(poolCarvedBlocks[p]) - poolFreeBlocks[p].count == Int(poolLiveBlocks[p]), "pool \(p) counts out of step")
                precondition(Int(poolCarvedBlocks[p]) <= Self.blocksPerPool(ofClass: c), "pool \(p) overfull")
            }
            precondition(Int(arenaFreePools[a]) == Self.poolsPerArena - used, "arena \(a) free pools out of step")
        }
        precondition(live == arenasAllocatedCurrent, "arena count out of step")
        for c in 0..<Self.classCount {
            var pool = usedPools[c]
            while pool >= 0 {
                let p = Int(pool)
                precondition(Int(poolClass[p]) == c && poolLiveBlocks[p] > 0, "pool \(p) on the wrong used list")
                precondition(!poolFreeBlocks[p].isEmpty || Int(poolCarvedBlocks[p]) < Self.blocksPerPool(ofClass: c), "full pool \(p) on a used list")
                pool = poolNext[p]
            }
        }
    }
}
