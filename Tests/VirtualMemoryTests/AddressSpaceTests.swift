import Foundation
import Testing
import TestSupport
@testable import VirtualMemory

/// `smaps` parsing, region classification and totals against `pmap -X`.
@Suite struct AddressSpaceTests {
    /// Every numeric column of `pmap -X`'s totals line, keyed by the header's field names.
    static func pmapTotals(pid: Int32) throws -> [String: UInt64] {
        let result = try TestProcess.run("pmap", ["-X", String(pid)])
        let lines = result.stdout.split(separator: "\n")
        guard let header = lines.first(where: { $0.contains("Address") && $0.contains("Rss") }),
              let totals = lines.last(where: { $0.hasSuffix("KB ") || $0.hasSuffix("KB") })
        else { return [:] }
        let names = header.split(separator: " ").dropFirst(5).dropLast()  // after Address..Inode, before Mapping
        let values = totals.split(separator: " ").dropLast().compactMap { UInt64($0) }
        return Dictionary(uniqueKeysWithValues: zip(names.map(String.init), values))
    }

    /// A statically linked example shares no library pages with the other processes of a busy
    /// machine, so its PSS holds still and every `pmap -X` total must match exactly.
    @Test func totalsEqualPmapExactly() throws {
        let example = try LiveExample("vm_touch_pages", compilerFlags: ["-static"])
        _ = example.readLine()
        var last: (ours: RegionUsage, pmap: [String: UInt64])?
        var matched = false
        for _ in 0..<20 where !matched {
            let before = try Self.pmapTotals(pid: example.pid)
            let snapshot = try AddressSpaceReader.read(pid: example.pid)
            let after = try Self.pmapTotals(pid: example.pid)
            try #require(before.count >= 10)
            last = (snapshot.totals, before)
            matched = before == after && before.allSatisfy { snapshot.totals[$0.key] == $0.value }
            if !matched { Thread.sleep(forTimeInterval: 0.05) }
        }
        if !matched, let last {
            for (name, value) in last.pmap {
                #expect(last.ours[name] == value, "\(name): ours \(last.ours[name]) KiB, pmap \(value) KiB")
            }
        }
        #expect(matched)
        example.finish()
    }

    /// A dynamically linked example: PSS of libc moves while other processes start and stop, so
    /// the PSS family may drift by a little between two reads; every other total must match exactly.
    @Test func totalsEqualPmapForDynamicProgram() throws {
        let example = try LiveExample("vm_touch_pages")
        _ = example.readLine()
        let pmap = try Self.pmapTotals(pid: example.pid)
        let snapshot = try AddressSpaceReader.read(pid: example.pid)
        try #require(pmap.count >= 10)
        for (name, value) in pmap {
            if name.hasPrefix("Pss") || name == "SwapPss" {
                let drift = abs(Int64(snapshot.totals[name]) - Int64(value))
                #expect(drift * 100 <= Int64(value) + 100, "\(name): ours \(snapshot.totals[name]) KiB, pmap \(value) KiB")
            } else {
                #expect(snapshot.totals[name] == value, "\(name): ours \(snapshot.totals[name]) KiB, pmap \(value) KiB")
            }
        }
        example.finish()
    }

    @Test func classifiesRegionsOfALiveProcess() throws {
        let example = try LiveExample("vm_touch_pages")
        _ = example.readLine()
        let snapshot = try AddressSpaceReader.read(pid: example.pid)
        let kinds = Set(snapshot.regions.map(\.kind))
        for kind in [RegionKind.programText, .programData, .heap, .mainStack, .sharedLibrary, .vdso, .anonymous] {
            #expect(kinds.contains(kind), "missing \(kind)")
        }
        #expect(snapshot.regions.first { $0.name.hasSuffix("libc.so.6") && $0.permissions.execute }?.kind == .sharedLibrary)
        example.finish()
    }

    @Test func parsesAndClassifiesSmapsText() throws {
        let text = """
        55d0a0000000-55d0a0001000 r-xp 00001000 fe:00 42   /usr/bin/demo
        Size:                  4 kB
        Rss:                   4 kB
        Pss:                   2 kB
        VmFlags: rd ex mr mw me
        55d0a0001000-55d0a0002000 rw-p 00002000 fe:00 42   /usr/bin/demo
        Size:                  4 kB
        Rss:                   4 kB
        55d0a0002000-55d0a0004000 rw-p 00000000 00:00 0
        Size:                  8 kB
        Rss:                   0 kB
        7f0000000000-7f0000001000 ---p 00000000 00:00 0
        Size:                  4 kB
        7f0000001000-7f0000801000 rw-p 00000000 00:00 0
        Size:               8192 kB
        7f0000801000-7f0000802000 r-xp 00000000 fe:00 7    /usr/lib/libz.so.1.3 (deleted)
        Size:                  4 kB
        THPeligible:    0
        7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0    [stack]
        Size:                132 kB
        """
        let parsed = try MapsParser.parse(text, path: "smaps")
        let regions = RegionClassifier.classify(parsed, executablePath: "/usr/bin/demo", threadStackPointers: [])
        #expect(regions.map(\.kind) == [.programText, .programData, .programBSS, .guardPage, .threadStack, .sharedLibrary, .mainStack])
        #expect(regions[0].usage.pss == 2048)
        #expect(regions[0].vmFlags == ["rd", "ex", "mr", "mw", "me"])
        #expect(regions[0].fileOffset == 0x1000)
        #expect(regions[5].name == "/usr/lib/libz.so.1.3 (deleted)")
        #expect(regions[5].usage["THPeligible"] == 0)
        #expect(regions[4].sizeBytes == 8 << 20)
        #expect(throws: ProcError.self) { try MapsParser.parse("garbage line\n", path: "smaps") }
    }

    @Test func goneProcessGivesCleanError() throws {
        let example = try LiveExample("vm_touch_pages")
        _ = example.readLine()
        let pid = example.pid
        example.finish()
        #expect(throws: ProcError.processGone(pid: pid)) { try AddressSpaceReader.read(pid: pid) }
        #expect(throws: ProcError.processGone(pid: pid)) { try PageMapReader(pid: pid) }
    }
}
