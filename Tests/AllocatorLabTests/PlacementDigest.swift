import AllocatorLab

/// A fingerprint of every placement decision a model makes on a seeded workload: the payload
/// address of each allocation and reallocation (0 for a failed request), the occupancy every 256
/// operations (footprint, used and free bytes, largest free block), and the final heap block by
/// block, folded with FNV-1a.
///
/// Two implementations of a policy that agree on the digest placed every block at the same
/// address and failed the same requests. `PlacementDigestTests` compares the free-list models
/// against digests recorded from the list-walking implementations they replaced.
enum PlacementDigest {
    /// The digest of `model` on the workload of `operations` operations from `seed`.
    ///
    /// The workload: up to about `liveTarget` blocks live, sizes mostly 16-128 bytes with some up to
    /// 1 KiB and a few up to 16 KiB, most frees taking one of the newest blocks, 5% reallocations.
    static func digest(_ model: any AllocatorModel, seed: UInt64, operations: Int, liveTarget: Int = 3000) -> UInt64 {
        var rng = SeededGenerator(state: seed)  // SplitMix64 (PropertyTests.swift): the same on every platform
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ value: UInt64) {
            var v = value
            for _ in 0..<8 {
                hash = (hash ^ (v & 0xff)) &* 0x100_0000_01b3
                v >>= 8
            }
        }
        func size() -> UInt64 {
            let r = rng.next() % 100
            if r < 80 { return 16 + rng.next() % 113 }
            if r < 97 { return 129 + rng.next() % 896 }
            return 1025 + rng.next() % 15360
        }
        // (handle, requested bytes) of the live blocks, oldest first.
        var live: [(handle: UInt64, bytes: UInt64)] = []
        for i in 0..<operations {
            let r = rng.next() % 100
            if live.isEmpty || r < (live.count < liveTarget ? 50 : 45) {
                let bytes = size()
                if let handle = model.allocate(bytes) {
                    mix(model.address(of: handle))
                    live.append((handle, bytes))
                } else {
                    mix(0)
                }
            } else if r < 55 {
                let k = Int(rng.next() % UInt64(live.count)), bytes = size()
                if let handle = model.reallocate(live[k].handle, from: live[k].bytes, to: bytes) {
                    mix(model.address(of: handle))
                    live[k] = (handle, bytes)
                } else {
                    mix(0)
                }
            } else {
                // Mostly one of the eight newest blocks; now and then any.
                let k = rng.next() % 10 < 9 ? live.count - 1 - Int(rng.next() % UInt64(min(8, live.count))) : Int(rng.next() % UInt64(live.count))
                model.free(live[k].handle, requestedBytes: live[k].bytes)
                live.remove(at: k)
            }
            if i % 256 == 255 {
                let o = model.occupancy()
                mix(o.footprintBytes)
                mix(o.usedBlockBytes)
                mix(o.freeBytes)
                mix(o.largestFreeBytes)
            }
        }
        for block in model.snapshot().blocks {
            mix(block.start)
            mix(block.bytes)
            mix(block.kind == .used ? 1 : block.kind == .free ? 2 : 3)
        }
        return hash
    }
}
