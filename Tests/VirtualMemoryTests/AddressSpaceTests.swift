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

    /// Reads `pmap -X`, then ours, then `pmap -X` again until both pmap reads agree with ours
    /// (the example may still be settling, e.g. stdio allocating its stdin buffer); returns the
    /// mismatches of the last try as messages (empty when they agree).
    static func compareWithPmap(pid: Int32, isPSSExact: Bool) throws -> [String] {
        func mismatches(_ ours: RegionUsage, _ pmap: [String: UInt64]) -> [String] {
            pmap.keys.sorted().compactMap { name in
                let value = pmap[name]!
                let isPSS = name.hasPrefix("Pss") || name == "SwapPss"
                // PSS of shared libraries moves whenever another process maps or unmaps them.
                let agrees = isPSS && !isPSSExact
                    ? abs(Int64(ours[name]) - Int64(value)) * 100 <= Int64(value) + 100
                    : ours[name] == value
                return agrees ? nil : "\(name): ours \(ours[name]) KiB, pmap \(value) KiB"
            }
        }
        var last: [String] = ["pmap printed no totals"]
        for _ in 0..<20 {
            let before = try pmapTotals(pid: pid)
            let snapshot = try AddressSpaceReader.read(pid: pid)
            let after = try pmapTotals(pid: pid)
            guard before.count >= 10 else { continue }
            last = mismatches(snapshot.totals, before)
            if last.isEmpty && mismatches(snapshot.totals, after).isEmpty { return [] }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return last
    }

    /// A statically linked example shares no library pages with the other processes of a busy
    /// machine, so its PSS holds still and every `pmap -X` total must match exactly.
    @Test func totalsEqualPmapExactly() throws {
        let example = try LiveExample("vm_touch_pages", compilerFlags: ["-static"])
        _ = example.readLine()
        #expect(try Self.compareWithPmap(pid: example.pid, isPSSExact: true) == [])
        example.finish()
    }

    /// A dynamically linked example: every total must match exactly except the PSS family, which
    /// may drift by 1% as other processes start and stop with the same libc mapped.
    @Test func totalsEqualPmapForDynamicProgram() throws {
        let example = try LiveExample("vm_touch_pages")
        _ = example.readLine()
        #expect(try Self.compareWithPmap(pid: example.pid, isPSSExact: false) == [])
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
