/// An ordered index over free blocks that answers the free-list models' fit searches without
/// walking the lists.
///
/// Each entry is a free block (a `BlockHeap` node) with an order key and a size in bytes. The key
/// says where the block stands on the list the index shadows (its address on an address-ordered
/// list, or its size before its place on the list for best and worst fit); keys are unique. The
/// index finds the first block at or after a key that holds a request (first, next, best and worst
/// fit), the block just before a key (where a freed block goes on an address-ordered list) and the
/// largest block, in O(log n) plus scans of a few short arrays, where the list walk it replaces is
/// O(n).
///
/// (LIFO lists are indexed by `LinkOrderIndex`.)
///
/// `Key` is as wide as the keys need: `UInt64` for an address-ordered list (the key is the address),
/// `UInt128` for a size index (size, then place): the binary searches and shifts move half the
/// bytes with the narrower one. Sizes are held in `SizeUnits` (32 bits, 16-byte units); the exact
/// sizes of blocks of 64 GiB or more, which saturate there, are kept aside.
///
/// Layout: a B+ tree of fixed height three. Leaves ("chunks") hold up to `chunkCapacity` entries
/// sorted by key; inner nodes hold up to `innerCapacity` chunks in key order with each one's last
/// key and largest size; the root lists the inner nodes the same way. A search skips every inner
/// node and chunk whose largest block is too small. Nodes split when full and merge with a
/// neighbour when sparse; their storage ("slabs") is recycled.
final class FreeBlockIndex<Key: FixedWidthInteger & UnsignedInteger & BitwiseCopyable> {
    /// A size in the summaries.
    typealias Units = SizeUnits.Value
    /// Entries per chunk at most: 32, not 64, halves the entries an insertion or removal shifts,
    /// a largest-size rescan reads and a scan for a node number or fit compares.
    static var chunkCapacity: Int { 32 }
    /// Chunks per inner node at most.
    static var innerCapacity: Int { 64 }

    /// A chunk's entry count and where it sits: its inner node and its place there.
    private struct Chunk {
        var count: Int
        var inner: Int
        var child: Int
    }

    // Chunks: slab `s` holds its entries, sorted by key, at `s * chunkCapacity ..< s *
    // chunkCapacity + chunks[s].count`, in three parallel arrays. The sizes past the count are 0
    // (so that the vector scans for a fit need not mask them out).
    private var keys = UncheckedArray<Key>()
    private var sizes = UncheckedArray<Units>()
    private var nodes = UncheckedArray<Int32>()
    private var chunks = UncheckedArray<Chunk>()
    private var spareChunks = UncheckedArray<Int>()

    // Inner nodes: slab `i` lists its chunks at `i * innerCapacity ..< i * innerCapacity +
    // childCount[i]`: each chunk's slab, last key and largest size (0 past the count, as in
    // chunks).
    private var childChunk = UncheckedArray<Int>()
    private var childLastKey = UncheckedArray<Key>()
    private var childLargest = UncheckedArray<Units>()
    private var childCount = UncheckedArray<Int>()
    /// Each inner node's root position.
    private var rootOf = UncheckedArray<Int>()
    private var spareInners = UncheckedArray<Int>()

    // The root: the inner nodes in key order, with each one's last key and largest size.
    private var rootInner = UncheckedArray<Int>()
    private var rootLastKey = UncheckedArray<Key>()
    private var rootLargest = UncheckedArray<Units>()

    /// Per node (index = node number): its chunk (-1: not indexed). Only the chunk, 4 bytes, not
    /// the key too: this array spans every node and is read at random, and a scan of the chunk's
    /// 32 node numbers finds the entry about as fast as a binary search by key would.
    private var chunkOf = UncheckedArray<Int32>()
    /// The sizes in bytes of the indexed blocks too large for `Units` (in practice none).
    private var hugeSizes: [Int32: UInt64] = [:]

    /// The number of blocks indexed.
    private(set) var count = 0

    /// Whether keys begin with the size (a size index: `UInt128` keys, size << 64 | place). Then a
    /// node's largest size is its last entry's or child's, read rather than recomputed by a scan of a chunk
    /// and an inner node whenever a node's largest block leaves.
    let sizeOrdered: Bool

    /// Creates an empty index; `sizeOrdered`: keys are size << 64 | place.
    init(sizeOrdered: Bool = false) { self.sizeOrdered = sizeOrdered }

    deinit {
        keys.deallocate()
        sizes.deallocate()
        nodes.deallocate()
        chunks.deallocate()
        spareChunks.deallocate()
        childChunk.deallocate()
        childLastKey.deallocate()
        childLargest.deallocate()
        childCount.deallocate()
        rootOf.deallocate()
        spareInners.deallocate()
        rootInner.deallocate()
        rootLastKey.deallocate()
        rootLargest.deallocate()
        chunkOf.deallocate()
    }

    /// Whether `node` is indexed.
    func contains(_ node: Int32) -> Bool { Int(node) < chunkOf.count && chunkOf[Int(node)] >= 0 }

    /// The order key of `node`, which must be indexed.
    @inline(__always) func key(of node: Int32) -> Key {
        assert(contains(node), "node \(node) is not indexed")
        return keys[entryIndex(of: node)]
    }

    /// The largest size indexed, in bytes (0 when empty).
    var largestSize: UInt64 {
        let units = sizeOrdered ? (rootLargest.isEmpty ? 0 : rootLargest[rootLargest.count - 1]) : Self.largest(in: rootLargest.buffer)
        // A saturated size stands for the blocks kept aside with their exact sizes.
        return units == .max ? hugeSizes.values.max()! : SizeUnits.bytes(units)
    }

    // MARK: Queries

    /// The first block in key order whose key is `key` or more and whose size is `bytes` or more,
    /// or -1.
    func firstFit(atLeast bytes: UInt64, from key: Key) -> Int32 {
        guard let at = locate(key) else { return -1 }
        let needed = SizeUnits.of(bytes)
        return exactFit(firstFit(atLeast: needed, at: at, offset: lowerBound(key, inChunk: at.chunk)), atLeast: bytes, needed: needed)
    }

    /// The first block in key order whose size is `bytes` or more, or -1: like
    /// `firstFit(atLeast:from:)` from the lowest key, without binary searches (first fit's searches
    /// all start there; in a size index it is best fit's block, the smallest big enough).
    func firstFit(atLeast bytes: UInt64) -> Int32 {
        guard !rootInner.isEmpty else { return -1 }
        let needed = SizeUnits.of(bytes)
        return exactFit(firstFit(atLeast: needed, at: firstLocation(), offset: 0), atLeast: bytes, needed: needed)
    }

    /// The first block in key order from indexed block `node` on whose size is `bytes` or more, or
    /// -1: like `firstFit(atLeast:from:)` with `node`'s key, without searching for the key (next
    /// fit's rover).
    func firstFit(atLeast bytes: UInt64, fromNode node: Int32) -> Int32 {
        let at = location(of: node), needed = SizeUnits.of(bytes)
        return exactFit(firstFit(atLeast: needed, at: at, offset: entryIndex(of: node) - at.chunk * Self.chunkCapacity), atLeast: bytes, needed: needed)
    }

    /// `found`, a fit in units of a request of `bytes` (`needed` units), or when its size is saturated
    /// but below `bytes` (only a saturated request can meet one), the next block that really fits.
    @inline(__always) private func exactFit(_ found: Int32, atLeast bytes: UInt64, needed: Units) -> Int32 {
        var found = found
        while needed == .max, found >= 0, hugeSizes[found]! < bytes {
            let at = location(of: found)
            found = firstFit(atLeast: needed, at: at, offset: entryIndex(of: found) - at.chunk * Self.chunkCapacity + 1)
        }
        return found
    }

    /// The first block from entry `offset` of the chunk at `at` on whose size is `needed` units or
    /// more, or -1.
    @inline(__always) private func firstFit(atLeast needed: Units, at: Location, offset: Int) -> Int32 {
        if childLargest[at.slot] >= needed {
            // The entry searched from often fits (next fit's rover): one compare before the
            // vector scan.
            let entry = at.chunk * Self.chunkCapacity + offset
            if offset < chunks[at.chunk].count, sizes[entry] >= needed { return nodes[entry] }
            let found = scanForward(at.chunk, from: offset, atLeast: needed)
            if found >= 0 { return found }
        }
        var child = at.child + 1, r = at.root
        while r < rootInner.count {
            if rootLargest[r] >= needed {
                let inner = rootInner[r], base = inner * Self.innerCapacity
                let found = Self.firstIndex(atLeast: needed, inSlab: childLargest.buffer.baseAddress! + base, from: child, to: childCount[inner])
                if found >= 0 { return scanForward(childChunk[base + found], from: 0, atLeast: needed) }
            }
            child = 0
            r = firstInner(atLeast: needed, from: r + 1)
        }
        return -1
    }

    /// The first root position from `r` on whose largest size is `needed` units or more, or the
    /// root's count: 16 compared at once (first fit passes many inner nodes of small blocks at low
    /// addresses), the last few one at a time.
    @inline(__always) private func firstInner(atLeast needed: Units, from r: Int) -> Int {
        var r = r
        let count = rootLargest.count, raw = UnsafeRawPointer(rootLargest.buffer.baseAddress!)
        let wanted = SIMD16<Units>(repeating: needed)
        while r &+ 16 <= count {
            let fits = raw.loadUnaligned(fromByteOffset: r &* 4, as: SIMD16<Units>.self) .>= wanted
            if any(fits) { return r &+ Self.firstSetLane(Self.lanes(where: fits)) }
            r &+= 16
        }
        while r < count, rootLargest[r] < needed { r &+= 1 }
        return r
    }

    /// The block with the largest key below `key`, or -1.
    func last(before key: Key) -> Int32 {
        if let at = locate(key) {
            let i = lowerBound(key, inChunk: at.chunk)
            if i > 0 { return nodes[at.chunk * Self.chunkCapacity + i - 1] }
            return lastNode(before: at)
        }
        guard !rootInner.isEmpty else { return -1 }
        let chunk = lastLocation().chunk
        return nodes[chunk * Self.chunkCapacity + chunks[chunk].count - 1]
    }

    /// Every indexed block in key order (for checks and tests).
    var nodesInOrder: [Int32] {
        var order: [Int32] = []
        for inner in rootInner.buffer {
            for slot in inner * Self.innerCapacity ..< inner * Self.innerCapacity + childCount[inner] {
                let chunk = childChunk[slot]
                order += (0 ..< chunks[chunk].count).map { nodes[chunk * Self.chunkCapacity + $0] }
            }
        }
        return order
    }

    // MARK: Changes

    /// Adds free block `node` (not indexed yet) with a key no indexed block has and its size in
    /// bytes; returns the block now just before it in key order, or -1.
    @discardableResult
    func insert(_ node: Int32, key: Key, size: UInt64) -> Int32 {
        let n = Int(node)
        growNodes(to: n)
        assert(chunkOf[n] < 0, "node \(node) is indexed twice")
        assert(!sizeOrdered || UInt128(key) >> 64 == UInt128(size), "a size index key must begin with the size")
        let units = self.units(of: node, size: size)
        if rootInner.isEmpty {
            let inner = newInner(), chunk = newChunk()
            childChunk[inner * Self.innerCapacity] = chunk
            childLastKey[inner * Self.innerCapacity] = key
            childLargest[inner * Self.innerCapacity] = 0
            childCount[inner] = 1
            chunks[chunk].inner = inner
            chunks[chunk].child = 0
            rootInner.append(inner)
            rootLastKey.append(key)
            rootLargest.append(0)
            rootOf[inner] = 0
        }
        // A key above every other (a LIFO link number) goes at the end of the last chunk.
        let atEnd = key > rootLastKey[rootLastKey.count - 1]
        var at = atEnd ? lastLocation() : locate(key)!
        if chunks[at.chunk].count == Self.chunkCapacity {
            splitChunk(at)
            at = atEnd ? lastLocation() : locate(key)!
        }
        let offset = atEnd ? chunks[at.chunk].count : lowerBound(key, inChunk: at.chunk)
        let entry = at.chunk * Self.chunkCapacity + offset, moving = chunks[at.chunk].count - offset
        Self.shift(keys, from: entry, count: moving, by: 1)
        Self.shift(sizes, from: entry, count: moving, by: 1)
        Self.shift(nodes, from: entry, count: moving, by: 1)
        keys[entry] = key
        sizes[entry] = units
        nodes[entry] = node
        chunks[at.chunk].count += 1
        if moving == 0 { setLastKey(at, key) }
        raiseLargest(at, to: units)
        chunkOf[n] = Int32(at.chunk)
        count += 1
        return offset > 0 ? nodes[entry - 1] : lastNode(before: at)
    }

    /// Removes `node`, which must be indexed.
    func remove(_ node: Int32) {
        let n = Int(node)
        assert(contains(node), "node \(node) is not indexed")
        let at = location(of: node)
        let entry = entryIndex(of: node), offset = entry - at.chunk * Self.chunkCapacity
        let moving = chunks[at.chunk].count - offset - 1
        let size = sizes[entry]
        if size == .max { hugeSizes[node] = nil }
        Self.shift(keys, from: entry + 1, count: moving, by: -1)
        Self.shift(sizes, from: entry + 1, count: moving, by: -1)
        Self.shift(nodes, from: entry + 1, count: moving, by: -1)
        chunks[at.chunk].count -= 1
        sizes[at.chunk * Self.chunkCapacity + chunks[at.chunk].count] = 0
        chunkOf[n] = -1
        count -= 1
        let left = chunks[at.chunk].count
        if left == 0 {
            spareChunks.append(at.chunk)
            removeChild(at)
            return
        }
        if moving == 0 { setLastKey(at, keys[entry - 1]) }
        if size == childLargest[at.slot] { lowerLargest(at) }
        if left < Self.chunkCapacity / 4 { mergeChunkIfSparse(at) }
    }

    /// Puts `node` (not indexed, or `old` itself) in the place of `old` (indexed) with key `key` and
    /// `size` bytes; the key must fall between the keys of `old`'s neighbours (a split block's
    /// remainder or a merged block on an address-ordered list keeps the place). Cheaper than a
    /// removal and an insertion.
    func replace(_ old: Int32, with node: Int32, key: Key, size: UInt64) {
        assert(contains(old), "node \(old) is not indexed")
        let at = location(of: old)
        let entry = entryIndex(of: old), offset = entry - at.chunk * Self.chunkCapacity
        assert(fitsInPlace(of: old, key: key), "replacement key out of place")
        assert(!sizeOrdered || UInt128(key) >> 64 == UInt128(size), "a size index key must begin with the size")
        chunkOf[Int(old)] = -1
        growNodes(to: Int(node))
        chunkOf[Int(node)] = Int32(at.chunk)
        let oldSize = sizes[entry]
        if oldSize == .max { hugeSizes[old] = nil }
        let units = self.units(of: node, size: size)
        keys[entry] = key
        sizes[entry] = units
        nodes[entry] = node
        if offset + 1 == chunks[at.chunk].count { setLastKey(at, key) }
        if units > oldSize {
            raiseLargest(at, to: units)
        } else if units < oldSize, oldSize == childLargest[at.slot] {
            lowerLargest(at)
        }
    }

    /// Like `replace`, when `key` falls between the keys of `old`'s neighbours in its chunk (or `old`
    /// is the first or last block of the index): returns false, changing nothing, otherwise (best
    /// fit's split remainder, when it stays between its neighbours' sizes).
    func replaceIfInPlace(_ old: Int32, with node: Int32, key: Key, size: UInt64) -> Bool {
        let at = location(of: old), entry = entryIndex(of: old)
        let base = at.chunk * Self.chunkCapacity, end = base + chunks[at.chunk].count
        let afterPrevious = entry > base ? keys[entry - 1] < key : at.root == 0 && at.child == 0
        let beforeNext = entry + 1 < end ? key < keys[entry + 1] : at.root == rootInner.count - 1 && at.child == childCount[at.inner] - 1
        guard afterPrevious && beforeNext else { return false }
        replace(old, with: node, key: key, size: size)
        return true
    }

    /// Whether `key` falls between the keys of `old`'s neighbours (for checks).
    private func fitsInPlace(of old: Int32, key: Key) -> Bool {
        let oldKey = self.key(of: old)
        let previous = last(before: oldKey), next = oldKey == .max ? -1 : firstFit(atLeast: 0, from: oldKey + 1)
        return (previous < 0 || self.key(of: previous) < key) && (next < 0 || key < self.key(of: next))
    }

    // MARK: Finding places

    /// Where a chunk sits: its root position, inner node and place there, and its slab.
    private struct Location {
        var root: Int
        var inner: Int
        var child: Int
        var chunk: Int
        /// The chunk's place in the inner node arrays.
        var slot: Int { inner * FreeBlockIndex.innerCapacity + child }
    }

    /// The chunk holding the first key that is `key` or more, or nil when every key is below.
    @inline(__always) private func locate(_ key: Key) -> Location? {
        let r = Self.lowerBound(key, in: rootLastKey.buffer)
        guard r < rootInner.count else { return nil }
        let inner = rootInner[r]
        let base = inner * Self.innerCapacity
        let child = Self.lowerBound(key, inSlab: childLastKey.buffer.baseAddress! + base, count: childCount[inner], capacity: Self.innerCapacity)
        return Location(root: r, inner: inner, child: child, chunk: childChunk[base + child])
    }

    /// The chunk holding indexed `node`.
    @inline(__always) private func location(of node: Int32) -> Location {
        let chunk = Int(chunkOf[Int(node)]), inner = chunks[chunk].inner
        return Location(root: rootOf[inner], inner: inner, child: chunks[chunk].child, chunk: chunk)
    }

    /// Makes room in the per-node arrays for node number `n`.
    @inline(__always) private func growNodes(to n: Int) {
        while chunkOf.count <= n { chunkOf.append(-1) }
    }

    /// The place in the entry arrays of indexed `node`: found by its node number in its chunk, 16
    /// node numbers compared at once, the place in the group from the bits of the comparison (a
    /// one-at-a-time scan mispredicts its exit at a random place). Places past the chunk's count
    /// may hold stale node numbers, but only after the live entry.
    @inline(__always) private func entryIndex(of node: Int32) -> Int {
        let base = Int(chunkOf[Int(node)]) * Self.chunkCapacity
        let group = UnsafeRawPointer(nodes.buffer.baseAddress! + base), wanted = SIMD16<Int32>(repeating: node)
        var j = base
        var matches = group.loadUnaligned(as: SIMD16<Int32>.self) .== wanted
        while !any(matches) {
            j &+= 16
            matches = group.loadUnaligned(fromByteOffset: (j &- base) &* 4, as: SIMD16<Int32>.self) .== wanted
        }
        j &+= Self.firstSetLane(Self.lanes(where: matches))
        assert(nodes[j] == node && j < base + chunks[base / Self.chunkCapacity].count, "index entry out of step for node \(node)")
        return j
    }

    /// The first chunk (the index must not be empty).
    @inline(__always) private func firstLocation() -> Location {
        let inner = rootInner[0]
        return Location(root: 0, inner: inner, child: 0, chunk: childChunk[inner * Self.innerCapacity])
    }

    /// The last chunk (the index must not be empty).
    private func lastLocation() -> Location {
        let r = rootInner.count - 1, inner = rootInner[r], child = childCount[inner] - 1
        return Location(root: r, inner: inner, child: child, chunk: childChunk[inner * Self.innerCapacity + child])
    }

    /// The last node of the chunk before the one at `at`, or -1.
    private func lastNode(before at: Location) -> Int32 {
        var chunk = -1
        if at.child > 0 {
            chunk = childChunk[at.slot - 1]
        } else if at.root > 0 {
            let inner = rootInner[at.root - 1]
            chunk = childChunk[inner * Self.innerCapacity + childCount[inner] - 1]
        }
        return chunk < 0 ? -1 : nodes[chunk * Self.chunkCapacity + chunks[chunk].count - 1]
    }

    /// The offset in `chunk` of its first entry whose key is `key` or more.
    @inline(__always) private func lowerBound(_ key: Key, inChunk chunk: Int) -> Int {
        Self.lowerBound(key, inSlab: keys.buffer.baseAddress! + chunk * Self.chunkCapacity, count: chunks[chunk].count, capacity: Self.chunkCapacity)
    }

    /// The first offset among the first `count` keys of a chunk's or inner node's slab at `slab`
    /// (`capacity` keys, 32 or 64) whose key is `key` or more: steps of 32 (in a slab of 64), 16,
    /// ..., 1 and 1 again (for a full slab), each taken when it stays within `count` and its last
    /// key is below `key`. Written out, not looped: in a loop LLVM's x86 backend turns each step's
    /// conditional move back into a branch, mispredicted half the time (the loop below, left for
    /// the root, was half of `insert`'s samples in the slabs). A probe may read a stale key past
    /// `count`, inside the slab; its step is not taken.
    @inline(__always) private static func lowerBound(_ key: Key, inSlab slab: UnsafeMutablePointer<Key>, count: Int, capacity: Int) -> Int {
        assert((capacity == 32 || capacity == 64) && count <= capacity, "a slab holds 32 or 64 keys")
        var low = 0
        @inline(__always) func step(_ width: Int) {
            // All ones when `low + width <= count`.
            let within = (low &+ width &- count &- 1) >> 63
            low &+= width & within & below(slab[low &+ width &- 1], key)
        }
        if capacity == 64 { step(32) }
        step(16)
        step(8)
        step(4)
        step(2)
        step(1)
        step(1)
        return low
    }

    /// The first offset in sorted `keys` whose key is `key` or more: a binary search whose steps
    /// depend only on the count. Each step adds a mask made from the comparison's borrow: the
    /// compiler turned `a < b ? x : y` on 128-bit keys into a branch, mispredicted half the time.
    @inline(__always) private static func lowerBound(_ key: Key, in keys: UnsafeMutableBufferPointer<Key>) -> Int {
        var low = 0, length = keys.count
        if length == 0 { return 0 }
        while length > 1 {
            let half = length &>> 1
            low &+= half & below(keys[low &+ half &- 1], key)
            length &-= half
        }
        return low &+ (1 & below(keys[low], key))
    }

    /// All ones when `a < b`, else 0, without a branch (the borrow of `a - b`).
    @inline(__always) private static func below(_ a: Key, _ b: Key) -> Int {
        let (_, borrow) = a.subtractingReportingOverflow(b)
        return 0 &- Int(unsafeBitCast(borrow, to: UInt8.self))
    }

    /// The first entry of `chunk` from offset `offset` on whose size is `needed` units or more, or -1.
    @inline(__always) private func scanForward(_ chunk: Int, from offset: Int, atLeast needed: Units) -> Int32 {
        let base = chunk * Self.chunkCapacity
        let found = Self.firstIndex(atLeast: needed, inSlab: sizes.buffer.baseAddress! + base, from: offset, to: chunks[chunk].count)
        return found < 0 ? -1 : nodes[base + found]
    }

    /// The first place from `start` to before `end` (the count of values) in the slab at `slab`
    /// (64 values at most, 0 from `end` on) whose value is `needed` or more, or -1: 16 values
    /// compared at once, the first hit found from the lanes of the comparison (a one-at-a-time
    /// scan mispredicts its exit at a random place, and the small blocks at low addresses make
    /// first fit's scans long).
    @inline(__always) private static func firstIndex(atLeast needed: Units, inSlab slab: UnsafeMutablePointer<Units>, from start: Int, to end: Int) -> Int {
        assert(chunkCapacity <= 64 && innerCapacity <= 64 && chunkCapacity % 16 == 0 && start >= 0 && end <= 64, "a slab holds 64 values at most, in groups of 16")
        // At least 1, so that the zeros past the end never fit (a live size is 2 units or more).
        let wanted = SIMD16<Units>(repeating: max(needed, 1)), raw = UnsafeRawPointer(slab)
        var group = start & ~15
        // The lanes from `start` on, in the first group.
        var fromStart = lanes(where: SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) .>= SIMD16(repeating: Int32(truncatingIfNeeded: start &- group)))
        while group < end {
            let fits = raw.loadUnaligned(fromByteOffset: group &* 4, as: SIMD16<Units>.self) .>= wanted
            // `any` is a few instructions, the first lane a few more: those only for a group with
            // a fit.
            if any(fits) {
                let first = firstSetLane(lanes(where: fits) & fromStart)
                if first < 16 { return group &+ first }
            }
            fromStart = SIMD16(repeating: -1)
            group &+= 16
        }
        return -1
    }

    /// The lanes of `mask` as all-ones or zero integers.
    @inline(__always) private static func lanes(where mask: SIMDMask<SIMD16<Int32>>) -> SIMD16<Int32> {
        SIMD16<Int32>(repeating: 0).replacing(with: SIMD16<Int32>(repeating: -1), where: mask)
    }

    /// The first lane of `lanes` (all-ones or zero) that is set, or 16: the lanes narrowed to bytes
    /// (two packs) and read as two 64-bit words, whose trailing zeros count eight a lane. (Summing
    /// a power of two per lane took some fifty instructions: SSE2 has no 32-bit lane mask.)
    @inline(__always) private static func firstSetLane(_ lanes: SIMD16<Int32>) -> Int {
        let words = unsafeBitCast(SIMD16<Int8>(truncatingIfNeeded: lanes), to: SIMD2<UInt64>.self)
        let low = words[0].trailingZeroBitCount &>> 3, high = words[1].trailingZeroBitCount &>> 3
        // `low == 8 ? 8 + high : low` without a branch (it would mispredict half the time).
        return low &+ (high & (0 &- (low &>> 3)))
    }

    // MARK: Keeping summaries

    /// Block `node`'s `size` in units, its exact size kept aside when saturated.
    @inline(__always) private func units(of node: Int32, size: UInt64) -> Units {
        assert(size % BlockHeap.alignment == 0, "a block size is a multiple of 16 bytes")
        let units = SizeUnits.of(size)
        if units == .max { hugeSizes[node] = size }
        return units
    }

    /// The largest of `values` (0 when empty). Four running maxima, not one: one chain of
    /// compare-and-moves costs two cycles a value.
    @inline(__always) private static func largest(in values: UnsafeMutableBufferPointer<Units>) -> Units {
        var a: Units = 0, b: Units = 0, c: Units = 0, d: Units = 0
        var j = 0
        while j &+ 4 <= values.count {
            a = max(a, values[j])
            b = max(b, values[j &+ 1])
            c = max(c, values[j &+ 2])
            d = max(d, values[j &+ 3])
            j &+= 4
        }
        while j < values.count {
            a = max(a, values[j])
            j &+= 1
        }
        return max(max(a, b), max(c, d))
    }

    /// The largest of the `capacity` values (a multiple of 16) of the slab at `slab`, whose values
    /// past its count are 0: 16 lanes at a time, a fixed number of groups (a loop to the count
    /// mispredicted its exit).
    @inline(__always) private static func largest(inSlab slab: UnsafeMutablePointer<Units>, capacity: Int) -> Units {
        let raw = UnsafeRawPointer(slab)
        var top = SIMD16<Units>(repeating: 0)
        for group in stride(from: 0, to: capacity, by: 16) {
            let values = raw.loadUnaligned(fromByteOffset: group &* 4, as: SIMD16<Units>.self)
            top = top.replacing(with: values, where: top .< values)
        }
        let eight = top.lowHalf.replacing(with: top.highHalf, where: top.lowHalf .< top.highHalf)
        let four = eight.lowHalf.replacing(with: eight.highHalf, where: eight.lowHalf .< eight.highHalf)
        return max(max(four[0], four[1]), max(four[2], four[3]))
    }

    private func largestEntry(inChunk chunk: Int) -> Units {
        let base = chunk * Self.chunkCapacity
        if sizeOrdered { return chunks[chunk].count == 0 ? 0 : sizes[base + chunks[chunk].count - 1] }
        return Self.largest(inSlab: sizes.buffer.baseAddress! + base, capacity: Self.chunkCapacity)
    }

    private func largestChild(ofInner inner: Int) -> Units {
        let base = inner * Self.innerCapacity
        if sizeOrdered { return childCount[inner] == 0 ? 0 : childLargest[base + childCount[inner] - 1] }
        return Self.largest(inSlab: childLargest.buffer.baseAddress! + base, capacity: Self.innerCapacity)
    }

    /// Records `key` as the last key of the chunk at `at` (and of its inner node when it is the last
    /// chunk there).
    @inline(__always) private func setLastKey(_ at: Location, _ key: Key) {
        childLastKey[at.slot] = key
        if at.child == childCount[at.inner] - 1 { rootLastKey[at.root] = key }
    }

    /// Raises the largest size of the chunk at `at` (and of its inner node) to `size` if smaller.
    @inline(__always) private func raiseLargest(_ at: Location, to size: Units) {
        guard size > childLargest[at.slot] else { return }
        childLargest[at.slot] = size
        if size > rootLargest[at.root] { rootLargest[at.root] = size }
    }

    /// Recomputes the largest size of the chunk at `at` (and of its inner node) after its largest
    /// entry left or shrank.
    private func lowerLargest(_ at: Location) {
        let old = childLargest[at.slot], new = largestEntry(inChunk: at.chunk)
        childLargest[at.slot] = new
        // (Another block of the old size left in the chunk keeps the inner node's largest.)
        if new < old, old == rootLargest[at.root] { rootLargest[at.root] = largestChild(ofInner: at.inner) }
    }

    // MARK: Splitting and merging

    /// Moves `count` elements of `array` starting at `start` by `distance` places (overlap allowed).
    @inline(__always) private static func shift<T>(_ array: UncheckedArray<T>, from start: Int, count: Int, by distance: Int) {
        guard count > 0 else { return }
        let base = array.buffer.baseAddress!
        (base + start + distance).update(from: base + start, count: count)
    }

    /// Sets `count` sizes of `array` from `start` on to 0 (sizes past a node's count).
    private static func clear(_ array: UncheckedArray<Units>, from start: Int, count: Int) {
        (array.buffer.baseAddress! + start).update(repeating: 0, count: count)
    }

    private func newChunk() -> Int {
        if let chunk = spareChunks.popLast() {
            Self.clear(sizes, from: chunk * Self.chunkCapacity, count: Self.chunkCapacity)
            return chunk
        }
        keys.append(repeating: 0, count: Self.chunkCapacity)
        sizes.append(repeating: 0, count: Self.chunkCapacity)
        nodes.append(repeating: -1, count: Self.chunkCapacity)
        chunks.append(Chunk(count: 0, inner: -1, child: -1))
        return chunks.count - 1
    }

    private func newInner() -> Int {
        if let inner = spareInners.popLast() {
            Self.clear(childLargest, from: inner * Self.innerCapacity, count: Self.innerCapacity)
            return inner
        }
        childChunk.append(repeating: -1, count: Self.innerCapacity)
        childLastKey.append(repeating: 0, count: Self.innerCapacity)
        childLargest.append(repeating: 0, count: Self.innerCapacity)
        childCount.append(0)
        rootOf.append(-1)
        return childCount.count - 1
    }

    /// Moves `count` entries from offset `source` to the end of chunk `chunk`.
    private func moveEntries(_ count: Int, from source: Int, toEndOf chunk: Int) {
        let destination = chunk * Self.chunkCapacity + chunks[chunk].count
        (keys.buffer.baseAddress! + destination).update(from: keys.buffer.baseAddress! + source, count: count)
        (sizes.buffer.baseAddress! + destination).update(from: sizes.buffer.baseAddress! + source, count: count)
        (nodes.buffer.baseAddress! + destination).update(from: nodes.buffer.baseAddress! + source, count: count)
        for j in destination ..< destination + count { chunkOf[Int(nodes[j])] = Int32(chunk) }
        chunks[chunk].count += count
    }

    /// Moves `count` children from slot `source` to the end of inner node `inner`.
    private func moveChildren(_ count: Int, from source: Int, toEndOf inner: Int) {
        let destination = inner * Self.innerCapacity + childCount[inner]
        (childChunk.buffer.baseAddress! + destination).update(from: childChunk.buffer.baseAddress! + source, count: count)
        (childLastKey.buffer.baseAddress! + destination).update(from: childLastKey.buffer.baseAddress! + source, count: count)
        (childLargest.buffer.baseAddress! + destination).update(from: childLargest.buffer.baseAddress! + source, count: count)
        let first = childCount[inner]
        childCount[inner] += count
        renumberChildren(of: inner, from: first)
    }

    /// Records where the chunks of inner node `inner` sit, from place `child` on.
    private func renumberChildren(of inner: Int, from child: Int) {
        for k in child ..< childCount[inner] {
            let chunk = childChunk[inner * Self.innerCapacity + k]
            chunks[chunk].inner = inner
            chunks[chunk].child = k
        }
    }

    /// Records the root positions of the inner nodes from position `r` on.
    private func renumberRoot(from r: Int) {
        for q in r ..< rootInner.count { rootOf[rootInner[q]] = q }
    }

    /// Splits the full chunk at `at`: its upper half moves to a new chunk just after it.
    private func splitChunk(_ at: Location) {
        let upper = newChunk(), half = Self.chunkCapacity / 2
        moveEntries(Self.chunkCapacity - half, from: at.chunk * Self.chunkCapacity + half, toEndOf: upper)
        chunks[at.chunk].count = half
        Self.clear(sizes, from: at.chunk * Self.chunkCapacity + half, count: Self.chunkCapacity - half)
        let upperLastKey = childLastKey[at.slot]
        childLastKey[at.slot] = keys[at.chunk * Self.chunkCapacity + half - 1]
        childLargest[at.slot] = largestEntry(inChunk: at.chunk)
        insertChild(after: at, chunk: upper, lastKey: upperLastKey, largest: largestEntry(inChunk: upper))
    }

    /// Puts `chunk` into the tree just after the chunk at `at`, splitting a full inner node.
    private func insertChild(after at: Location, chunk: Int, lastKey: Key, largest: Units) {
        var root = at.root, inner = at.inner, child = at.child + 1
        if childCount[inner] == Self.innerCapacity {
            let half = Self.innerCapacity / 2
            let upper = newInner()
            moveChildren(Self.innerCapacity - half, from: inner * Self.innerCapacity + half, toEndOf: upper)
            childCount[inner] = half
            Self.clear(childLargest, from: inner * Self.innerCapacity + half, count: Self.innerCapacity - half)
            rootInner.insert(upper, at: root + 1)
            rootLastKey.insert(rootLastKey[root], at: root + 1)
            rootLargest.insert(largestChild(ofInner: upper), at: root + 1)
            renumberRoot(from: root + 1)
            rootLastKey[root] = childLastKey[inner * Self.innerCapacity + half - 1]
            rootLargest[root] = largestChild(ofInner: inner)
            if child > half {
                root += 1
                inner = upper
                child -= half
            }
        }
        let slot = inner * Self.innerCapacity + child, moving = childCount[inner] - child
        Self.shift(childChunk, from: slot, count: moving, by: 1)
        Self.shift(childLastKey, from: slot, count: moving, by: 1)
        Self.shift(childLargest, from: slot, count: moving, by: 1)
        childChunk[slot] = chunk
        childLastKey[slot] = lastKey
        childLargest[slot] = largest
        childCount[inner] += 1
        renumberChildren(of: inner, from: child)
        if moving == 0 { rootLastKey[root] = lastKey }
        rootLargest[root] = max(rootLargest[root], largest)
    }

    /// Takes the chunk at `at` out of its inner node (its storage is the caller's), dropping an
    /// inner node left empty and merging one left sparse.
    private func removeChild(_ at: Location) {
        let moving = childCount[at.inner] - at.child - 1
        Self.shift(childChunk, from: at.slot + 1, count: moving, by: -1)
        Self.shift(childLastKey, from: at.slot + 1, count: moving, by: -1)
        Self.shift(childLargest, from: at.slot + 1, count: moving, by: -1)
        childCount[at.inner] -= 1
        childLargest[at.inner * Self.innerCapacity + childCount[at.inner]] = 0
        renumberChildren(of: at.inner, from: at.child)
        let left = childCount[at.inner]
        if left == 0 {
            rootInner.remove(at: at.root)
            rootLastKey.remove(at: at.root)
            rootLargest.remove(at: at.root)
            renumberRoot(from: at.root)
            spareInners.append(at.inner)
            return
        }
        if moving == 0 { rootLastKey[at.root] = childLastKey[at.slot - 1] }
        rootLargest[at.root] = largestChild(ofInner: at.inner)
        if left < Self.innerCapacity / 4 { mergeInnerIfSparse(at.root) }
    }

    /// Merges the sparse chunk at `at` with a neighbour in its inner node when the two fit in three
    /// quarters of a chunk (so that the merged chunk does not split again at once).
    private func mergeChunkIfSparse(_ at: Location) {
        let limit = Self.chunkCapacity * 3 / 4, size = chunks[at.chunk].count
        var lower = at
        if at.child + 1 < childCount[at.inner], size + chunks[childChunk[at.slot + 1]].count <= limit {
            lower = at
        } else if at.child > 0, size + chunks[childChunk[at.slot - 1]].count <= limit {
            lower.child -= 1
            lower.chunk = childChunk[lower.slot]
        } else {
            return
        }
        var upper = lower
        upper.child += 1
        upper.chunk = childChunk[upper.slot]
        moveEntries(chunks[upper.chunk].count, from: upper.chunk * Self.chunkCapacity, toEndOf: lower.chunk)
        chunks[upper.chunk].count = 0
        childLastKey[lower.slot] = childLastKey[upper.slot]
        childLargest[lower.slot] = max(childLargest[lower.slot], childLargest[upper.slot])
        spareChunks.append(upper.chunk)
        removeChild(upper)
    }

    /// Merges the sparse inner node at root position `r` with a neighbour when the two fit in three
    /// quarters of an inner node.
    private func mergeInnerIfSparse(_ r: Int) {
        let limit = Self.innerCapacity * 3 / 4, size = childCount[rootInner[r]]
        let lower: Int
        if r + 1 < rootInner.count, size + childCount[rootInner[r + 1]] <= limit {
            lower = r
        } else if r > 0, size + childCount[rootInner[r - 1]] <= limit {
            lower = r - 1
        } else {
            return
        }
        let into = rootInner[lower], from = rootInner[lower + 1]
        moveChildren(childCount[from], from: from * Self.innerCapacity, toEndOf: into)
        childCount[from] = 0
        rootLastKey[lower] = rootLastKey[lower + 1]
        rootLargest[lower] = max(rootLargest[lower], rootLargest[lower + 1])
        rootInner.remove(at: lower + 1)
        rootLastKey.remove(at: lower + 1)
        rootLargest.remove(at: lower + 1)
        renumberRoot(from: lower + 1)
        spareInners.append(from)
    }

    // MARK: Invariants

    /// Traps when the index is inconsistent: keys out of order, a stale last key or largest size at
    /// any level, an empty node, or a count out of step.
    func checkInvariants() {
        var previous: Key? = nil
        var total = 0
        for r in rootInner.indices {
            let inner = rootInner[r]
            precondition(rootOf[inner] == r, "inner node \(r) thinks it is at \(rootOf[inner])")
            precondition(childCount[inner] > 0 && childCount[inner] <= Self.innerCapacity, "inner node \(r) holds \(childCount[inner]) chunks")
            var innerLargest: Units = 0
            for slot in inner * Self.innerCapacity ..< inner * Self.innerCapacity + childCount[inner] {
                let chunk = childChunk[slot], base = chunk * Self.chunkCapacity
                precondition(chunks[chunk].inner == inner && chunks[chunk].child == slot - inner * Self.innerCapacity, "a chunk does not know where it is")
                precondition(chunks[chunk].count > 0 && chunks[chunk].count <= Self.chunkCapacity, "a chunk holds \(chunks[chunk].count) entries")
                var largest: Units = 0
                for j in base ..< base + chunks[chunk].count {
                    if let previous { precondition(previous < keys[j], "keys out of order") }
                    previous = keys[j]
                    largest = max(largest, sizes[j])
                    let node = Int(nodes[j])
                    precondition(chunkOf[node] == Int32(chunk), "node \(node) out of step with its entry")
                    precondition((sizes[j] == .max) == (hugeSizes[nodes[j]] != nil), "node \(node)'s exact size kept aside wrongly")
                    total += 1
                }
                precondition(childLastKey[slot] == keys[base + chunks[chunk].count - 1], "stale last key of a chunk")
                precondition(sizes.buffer[base + chunks[chunk].count ..< base + Self.chunkCapacity].allSatisfy { $0 == 0 }, "a size past a chunk's count is not 0")
                precondition(childLargest[slot] == largest, "stale largest size of a chunk")
                innerLargest = max(innerLargest, largest)
            }
            precondition(rootLastKey[r] == childLastKey[inner * Self.innerCapacity + childCount[inner] - 1], "stale last key of inner node \(r)")
            precondition(childLargest.buffer[inner * Self.innerCapacity + childCount[inner] ..< (inner + 1) * Self.innerCapacity].allSatisfy { $0 == 0 }, "a largest size past an inner node's count is not 0")
            precondition(rootLargest[r] == innerLargest, "stale largest size of inner node \(r)")
        }
        precondition(total == count && chunkOf.buffer.filter { $0 >= 0 }.count == count, "index count out of step")
        precondition(hugeSizes.values.allSatisfy { SizeUnits.of($0) == .max }, "a size kept aside that fits in units")
    }
}
