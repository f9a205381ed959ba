import Analysis
import Testing
import TraceModel

@Suite("Glibc chunk arithmetic")
struct GlibcChunkTests {
    @Test func chunkSizesFollowGlibc() {
        #expect(GlibcChunk.chunkBytes(request: 0) == 32)
        #expect(GlibcChunk.chunkBytes(request: 24) == 32)
        #expect(GlibcChunk.chunkBytes(request: 25) == 48)
        #expect(GlibcChunk.chunkBytes(request: 200) == 208)
        #expect(GlibcChunk.chunkBytes(request: 1000) == 1008)
        // An mmapped block: chunk (200,016) + 8, rounded up to pages.
        #expect(GlibcChunk.mmappedBytes(request: 200_000) == 200_704)
    }

    @Test func mmappedBlocksAreLargeAndSixteenPastAPage() {
        #expect(GlibcChunk.isMmapped(address: 0x7f00_0000_0010, request: 200_000))
        #expect(!GlibcChunk.isMmapped(address: 0x7f00_0000_0020, request: 200_000))
        #expect(!GlibcChunk.isMmapped(address: 0x7f00_0000_0010, request: 1000))
    }
}

@Suite("Fragmentation figures")
struct FragmentationTests {
    @Test func holesCountedExactly() {
        let map = tenBlocksWithHoles().maps(at: [.end])[0]
        #expect(map.regions.count == 1)
        let region = map.regions[0]
        #expect(region.kind == .brkHeap)
        #expect(region.start == brkBase)
        #expect(region.end == brkBase + 9 * chunk200)  // block 8 is the last live one
        let f = region.figures
        #expect(f.blocks == 4)
        #expect(f.liveBytes == 800)
        #expect(f.overheadBytes == 4 * 8)
        #expect(f.holes == 3)
        #expect(f.freeBytes == 416 + 208 + 416)
        #expect(f.largestHoleBytes == 416)
        // By hand: 1 - 416 / 1040 = 0.6.
        #expect(abs(f.externalFragmentation - 0.6) < 1e-12)
        #expect(f.holeSizes.first { $0.upTo == 256 }?.count == 1)
        #expect(f.holeSizes.first { $0.upTo == 1024 }?.count == 2)
        #expect(f.freeResidentBytes == nil)
        #expect(map.residencyTimeNs == nil)
        #expect(map.overall == f)
    }

    @Test func peakAndTimeMomentsSeeTheRightHeap() {
        let maps = tenBlocksWithHoles().maps(at: [.peak, .time(ns: 1_500_000), .afterEvents(3), .end])
        #expect(maps[0].overall.blocks == 10)
        #expect(maps[0].overall.holes == 0)
        #expect(maps[0].overall.liveBytes == 2000)
        // Events stamped 1 ms (the ten mallocs) are in; the frees (2 ms) are not.
        #expect(maps[1].overall.blocks == 10)
        #expect(maps[1].residentBytes == 1 << 20)
        #expect(maps[2].overall.blocks == 3)
        #expect(maps[3].overall.blocks == 4)
    }

    @Test func regionsAreCutAtGapsArenasAndMmaps() {
        var script = tenBlocksWithHoles()
        let far = brkBase + (3 << 20)  // 3 MiB past the brk heap: a new region
        script.malloc(100, at: far + 16)
        let arena: UInt64 = 0x7f10_0000_0000
        script.malloc(100, at: arena + 0x8a0)
        script.malloc(100, at: arena + 0x8a0 + 112 + 48)  // a 48-byte hole after the first
        script.malloc(100, at: arena + GlibcChunk.arenaHeapAlignment + 0x8a0)  // the next 64 MiB heap
        script.malloc(200_000, at: 0x7f20_0000_0010)
        let map = script.maps(at: [.end])[0]
        #expect(map.regions.map(\.kind) == [.brkHeap, .brkHeap, .arenaHeap, .arenaHeap, .mmappedBlock])
        #expect(map.regions[1].gapBefore == far - (brkBase + 9 * chunk200))
        #expect(map.regions[2].figures.holes == 1)
        #expect(map.regions[2].figures.freeBytes == 48)
        #expect(map.regions[4].bytes == 200_704)
        #expect(map.regions[4].figures.overheadBytes == 704)
        #expect(map.overall.holes == 4)
        #expect(map.overall.largestHoleBytes == 416)
    }

    @Test func windowKeepsOnlyItsBlocks() {
        let map = tenBlocksWithHoles().maps(at: [.end])[0]
        // Chunks 3 and 5 start inside [3 * 208, 6 * 208): one 208-byte hole between them.
        let window = map.window(start: brkBase + 3 * chunk200, length: 3 * chunk200)
        #expect(window.overall.blocks == 2)
        #expect(window.overall.holes == 1)
        #expect(window.overall.freeBytes == 208)
        #expect(window.regions.first?.start == brkBase + 3 * chunk200)
    }

    @Test func reallocMovesABlock() {
        var script = EventScript()
        script.malloc(100, at: brkBase + 16)
        script.malloc(100, at: brkBase + 16 + 112)
        script.malloc(100, at: brkBase + 16 + 224)
        script.realloc(brkBase + 16 + 112, to: brkBase + 16 + 336, size: 300)
        let map = script.maps(at: [.end])[0]
        #expect(map.overall.blocks == 3)
        #expect(map.overall.liveBytes == 500)
        #expect(map.overall.holes == 1)
        #expect(map.overall.freeBytes == 112)
    }
}

@Suite("Residency and the RSS breakdown")
struct ResidencyTests {
    /// The ten-block heap at its end, in a 2-page `[heap]` whose first page is resident, plus a
    /// resident 200,000-byte mmapped block and a non-resident arena block.
    func fixture() -> (blocks: [LiveBlock], snapshot: ResidencySnapshot) {
        var blocks = [0, 3, 5, 8].map { LiveBlock(address: brkBase + 16 + UInt64($0) * chunk200, size: 200, stack: StackID(1)) }
        blocks.append(LiveBlock(address: 0x7f10_0000_08a0, size: 100, stack: StackID(2)))
        blocks.append(LiveBlock(address: 0x7f20_0000_0010, size: 200_000, stack: StackID(3)))
        let snapshot = ResidencySnapshot(timeNs: 5, regions: [
            ResidentRegion(start: brkBase, length: 8192, kind: .brkHeap, pageSize: 4096, runs: [0, 1, 1]),
            ResidentRegion(start: 0x7f20_0000_0000, length: 200_704, kind: .anonymous, pageSize: 4096, runs: [0, 49]),
        ])
        return (blocks, snapshot)
    }

    @Test func holesInResidentPagesAreMeasured() {
        let (blocks, snapshot) = fixture()
        let map = HeapMap.build(blocks: blocks, residency: snapshot)
        #expect(map.regions[0].figures.freeResidentBytes == 1040)
        #expect(map.regions[0].figures.freeResidentShare == 1)
        #expect(map.residencyTimeNs == 5)
    }

    @Test func breakdownAddsUpToRSS() {
        let (blocks, snapshot) = fixture()
        let rss: UInt64 = 300_000
        let b = RSSBreakdown.measured(timeNs: 5, residentBytes: rss, blocks: blocks, residency: snapshot, arenaBases: [0x7f10_0000_0000])
        #expect(b.liveBytes == 800 + 100 + 200_000)
        #expect(b.liveResidentBytes == 800 + 200_000)  // the arena block's page is not resident
        #expect(b.overheadResidentBytes == 4 * 8 + 704)
        // The resident [heap] page (4,096 bytes) minus the four live chunks in it.
        #expect(b.freeResidentBytes == 4096 - 4 * 208)
        #expect(b.otherBytes == 300_000 - 200_800 - 736 - 3264)
        #expect(b.mappedResidentBytes == 0)
        #expect(b.terms.reduce(0, +) == Int64(rss))
        #expect(b.isMeasured)
    }

    @Test func programMappingsAreTheirOwnTerm() {
        let (blocks, snapshot) = fixture()
        // The program's own mmap over the [heap]'s neighbour: only its resident pages count.
        let extra = ResidencySnapshot(timeNs: 5, regions: snapshot.regions + [
            ResidentRegion(start: 0x7f30_0000_0000, length: 5 * 4096, kind: .anonymous, pageSize: 4096, runs: [1, 3, 1]),
        ])
        let b = RSSBreakdown.measured(
            timeNs: 5, residentBytes: 400_000, blocks: blocks, residency: extra, arenaBases: [],
            programMappings: [(0x7f30_0000_0000, 0x7f30_0000_0000 + 5 * 4096)])
        #expect(b.mappedResidentBytes == 3 * 4096)
        #expect(b.terms.reduce(0, +) == 400_000)
    }

    @Test func mappingsAreCutByMunmap() {
        var mmap = TraceEvent()
        mmap.function = .mmap
        mmap.address = Address(0x1000)
        mmap.size = 0x4000
        var munmap = TraceEvent()
        munmap.function = .munmap
        munmap.address = Address(0x2000)
        munmap.size = 0x1000
        var ranges: [[UInt64]] = []
        var replay = LiveHeapReplay(captures: [.init(tag: 0, moment: .afterEvents(2))]) { state in
            ranges = state.programMappings.map { [$0.start, $0.end] }
        }
        replay.visit(mmap)
        replay.visit(munmap)
        replay.finish()
        #expect(ranges == [[0x1000, 0x2000], [0x3000, 0x5000]])
    }

    @Test func withoutResidencyFreeHeapIsNotMeasured() {
        let b = RSSBreakdown.unmeasured(timeNs: 1, residentBytes: 10_000, liveBytes: 800, chunkBytes: 832)
        #expect(b.freeResidentBytes == nil)
        #expect(!b.isMeasured)
        #expect(b.overheadBytes == 32)
        #expect(b.terms.reduce(0, +) == 10_000)
    }
}
