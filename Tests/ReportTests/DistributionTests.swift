import Analysis
import Testing
import TraceModel

/// The size and lifetime histograms, from events built in code.
@Suite struct DistributionTests {
    static func event(_ function: AllocationFunction, _ address: UInt64, size: UInt64 = 0, old: UInt64 = 0) -> TraceEvent {
        var e = TraceEvent()
        e.function = function
        e.address = Address(address)
        e.oldAddress = Address(old)
        e.size = size
        e.thread = ThreadID(1)
        return e
    }

    @Test func sizesAndLifetimes() {
        var d = DistributionAnalysis()
        d.visitTick(timeNs: 0, residentBytes: 0)
        d.visit(Self.event(.malloc, 0x100, size: 1))  // #1
        d.visit(Self.event(.malloc, 0x200, size: 3))  // #2
        d.visit(Self.event(.free, 0x100))  // #1 lives 1 allocation, 0 ns
        d.visitTick(timeNs: 5_000_000, residentBytes: 0)
        d.visit(Self.event(.calloc, 0x300, size: 4096))  // #3
        d.visit(Self.event(.realloc, 0x400, size: 5000, old: 0x200))  // #2 freed with 1 allocation (#3) in between, 5 ms; #4
        d.visit(Self.event(.malloc, 0, size: 10))  // failed: not counted
        d.visit(Self.event(.free, 0x999))  // unknown: not counted
        d.visitTick(timeNs: 2_000_000_000, residentBytes: 0)
        d.visit(Self.event(.free, 0x300))  // #3: 1 allocation (#4) in between, 1.995 s
        #expect(d.allocations == 4)
        #expect(d.liveBlocks == 1)
        let sizes = d.sizes.buckets
        #expect(sizes[1].count == 1 && sizes[1].upTo == 1)  // 1 B
        #expect(sizes[3].count == 1 && sizes[3].upTo == 4)  // 3 B in (2, 4]
        #expect(sizes[13].count == 1 && sizes[13].upTo == 4096)
        #expect(sizes[14].count == 1 && sizes[14].bytes == 5000)
        #expect(d.sizes.total == 4)
        let between = d.lifetimeAllocations.buckets
        #expect(between[1].count == 3)  // each freed with exactly 1 allocation in between
        #expect(d.lifetimeAllocations.total == 3)
        let ns = d.lifetimeNs.buckets
        #expect(ns[0].count == 1)  // same tick
        #expect(ns.first { $0.upTo == 10_000_000 }?.count == 1)  // 5 ms
        #expect(ns.first { $0.upTo == 10_000_000_000 }?.count == 1)  // 1.995 s
        #expect(d.lifetimeNs.total == 3)
    }
}
