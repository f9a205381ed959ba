import Foundation
import Testing
@testable import VirtualMemory

/// The pagemap walk on real processes (Examples/c/vm_touch_pages.c, vm_reserve.c).
@Suite struct PageMapTests {
    @Test func touchedPagesArePresentAndDroppedHalfIsNot() throws {
        let example = try LiveExample("vm_touch_pages")
        let first = example.readLine()
        try #require(first.count == 5 && first[0] == "region")
        let address = try #require(hexAddress(first[1]))
        let touched = try #require(UInt64(first[4]))
        #expect(touched == 4096)

        func census() throws -> PageCensus {
            let snapshot = try AddressSpaceReader.read(pid: example.pid)
            let region = try #require(snapshot.region(containing: VirtualAddress(address)))
            #expect(region.start.rawValue == address)
            #expect(region.sizeBytes == 64 << 20)
            #expect(region.kind == .anonymous)
            let reader = try PageMapReader(pid: example.pid)
            return try PageScanner.scan(region, reader: reader, flagsReader: try? KernelPageFlagsReader()).census
        }
        let before = try census()
        #expect(before.present == touched)
        #expect(before.notPresent == 16384 - touched)
        #expect(before.anonymous == touched)

        let region = try #require(try AddressSpaceReader.read(pid: example.pid).region(containing: VirtualAddress(address)))
        let details = try PageScanner.pageDetails(pid: example.pid, region: region, from: region.start, limit: 8)
        #expect(details.map(\.entry.state) == [.present, .notPresent, .notPresent, .notPresent, .present, .notPresent, .notPresent, .notPresent])
        #expect(details[4].address.rawValue == address + 4 * 4096)
        if geteuid() == 0 {
            #expect(details[0].entry.frame != nil)
            #expect(details[0].flags?.contains(.anonymous) == true)
        }

        example.proceed()
        let second = example.readLine()
        try #require(second.first == "dropped")
        let after = try census()
        #expect(after.present == touched / 2)
        example.finish()
    }

    @Test func translationGivesFrameAndPageTableIndices() throws {
        let example = try LiveExample("vm_touch_pages")
        let first = example.readLine()
        let address = try #require(hexAddress(first[1])) + 0x123
        let translation = try AddressTranslation.translate(VirtualAddress(address), pid: example.pid)
        #expect(translation.region != nil)
        #expect(translation.pageOffset == 0x123)
        #expect(translation.virtualPageNumber == address >> 12)
        let indices = translation.pageTableIndices
        #expect(indices.pml4 << 39 | indices.pdpt << 30 | indices.pd << 21 | indices.pt << 12 | 0x123 == address & 0xffff_ffff_ffff)
        #expect(translation.entry?.isPresent == true)
        if geteuid() == 0 {
            let frame = try #require(translation.entry?.frame)
            #expect(translation.physicalAddress == frame.rawValue * 4096 + 0x123)
        }
        let unmapped = try AddressTranslation.translate(VirtualAddress(0x1000), pid: example.pid)
        #expect(unmapped.region == nil)
        #expect(unmapped.steps.last?.contains("not mapped") == true)
        example.finish()
    }

    /// 10 GiB reserved with PROT_NONE: the walk must stay well under 2 seconds, even when the
    /// reservation's pagemap is read rather than skipped.
    @Test func tenGigabyteAddressSpaceIsWalkedQuickly() throws {
        let example = try LiveExample("vm_reserve")
        let first = example.readLine()
        try #require(first.first == "reserved")
        let base = try #require(hexAddress(first[1]))
        let snapshot = try AddressSpaceReader.read(pid: example.pid)
        #expect(snapshot.totals.size >= 10 << 30)
        let clock = ContinuousClock()
        for skip in [true, false] {
            var pages: AddressSpacePages?
            let elapsed = try clock.measure { pages = try PageScanner.scan(snapshot, skipUntouchedRegions: skip) }
            // The default walk skips what smaps shows untouched; the full walk reads all 2.6 million
            // entries and gets more slack, as the machine is shared with other builds.
            #expect(elapsed < .seconds(skip ? 2 : 5), "walk took \(elapsed) (skip untouched: \(skip))")
            let usable = try #require(pages?.regions.first { $0.region.start.rawValue == base })
            #expect(usable.census.present == 1000)
            let reserved = try #require(pages?.regions.first { $0.region.start.rawValue == base + (64 << 20) })
            #expect(reserved.region.kind == .reserved)
            #expect(reserved.census.present == 0)
            print("10 GiB address space walked in \(elapsed) (skip untouched regions: \(skip))")
        }
        example.finish()
    }
}
