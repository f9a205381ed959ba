import Analysis
import Foundation
import Recording
import Render
import Testing
import TestSupport
import TraceIO
import TraceModel

/// Finds the moments a program marked with an mmap of a given length.
struct MarkerFinder: TraceVisitor {
    var lengths: Set<UInt64>
    var found: [UInt64: UInt64] = [:]  // length -> tick time of the marker
    mutating func visit(_ event: TraceEvent) {
        if event.function == .mmap, lengths.contains(event.size), found[event.size] == nil { found[event.size] = event.timeNs }
    }
}

/// Records a program and returns its trace path.
func record(_ program: String, _ arguments: [String], in directory: String) throws -> String {
    var options = RecordOptions()
    options.output = directory + "/trace"
    let result = try Recorder.run(program: program, arguments: arguments, options: options)
    #expect(result.exitCode == 0)
    return result.mainTrace
}

/// The first measured breakdown after a marker, checked against the VmRSS the program read
/// just before the marker: the terms add up to the sampled RSS, which is within drift of VmRSS.
func checkBreakdown(_ run: HeapMapRun, markerTimeNs: UInt64, vmRSSBytes: UInt64, label: String) -> RSSBreakdown? {
    guard let b = run.breakdowns.first(where: { $0.timeNs > markerTimeNs }) else {
        Issue.record("\(label): no residency snapshot after the marker")
        return nil
    }
    #expect(b.isMeasured)
    #expect(b.terms.reduce(0, +) == Int64(b.residentBytes), "\(label): terms add up to RSS")
    #expect(b.otherBytes >= 0, "\(label): other \(b.otherBytes)")
    let drift = abs(Int64(b.residentBytes) - Int64(vmRSSBytes))
    #expect(drift <= max(256 << 10, Int64(vmRSSBytes) / 50), "\(label): RSS \(b.residentBytes) vs /proc VmRSS \(vmRSSBytes)")
    return b
}

@Suite("Real recordings", .serialized)
struct RealRecordingTests {
    @Test func heapHolesExample() throws {
        let program = try ExamplePrograms.build("c/heap_holes.c")
        let directory = Tracing.scratchDirectory()
        let figuresFile = directory + "/vmrss.txt"
        let trace = try record(program, [figuresFile], in: directory)
        let words = try String(contentsOfFile: figuresFile, encoding: .utf8).split(separator: " ").dropFirst()
        let vmRSS = words.map { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines))! * 1024 }
        #expect(vmRSS.count == 3)

        let reader = try TraceReader(path: trace)
        var finder = MarkerFinder(lengths: [7 * 4096, 8 * 4096, 9 * 4096])
        try reader.read(into: &finder)
        #expect(finder.found.count == 3)

        var endMap: HeapMap?
        let run = try HeapMapAnalysis.run(reader: reader, moments: [.end]) { _, map in endMap = map }
        let map = try #require(endMap)
        #expect(run.residencySnapshots > 0)

        // The brk heap: 100,000 chunks of 208 bytes; of every five, 1+2 and 4 freed: 20,000 holes
        // of 416 bytes and 19,999 of 208 (the very last one went back to the top chunk, where the
        // 1,000-byte blocks then started).
        let brk = try #require(map.regions.first { $0.kind == .brkHeap && $0.figures.blocks > 40_000 })
        var sizes: [UInt64: Int] = [:]
        var cursor = brk.start
        for b in map.blocks[brk.blockRange] {
            if b.start > cursor { sizes[b.start - cursor, default: 0] += 1 }
            cursor = b.start + b.bytes
        }
        #expect(sizes[416] == 20_000)
        #expect(sizes[208] == 19_999)
        #expect(brk.figures.holes == 39_999)
        #expect(brk.figures.largestHoleBytes == 416)
        let free: UInt64 = 20_000 * 416 + 19_999 * 208
        #expect(brk.figures.freeBytes == free)
        #expect(abs(brk.figures.externalFragmentation - (1 - 416.0 / Double(free))) < 1e-12)
        // The holes sit in pages that stay resident (each is smaller than a page).
        let resident = try #require(brk.figures.freeResidentBytes)
        #expect(resident == free)
        #expect(map.regions.filter { $0.kind == .mmappedBlock }.count == 2)

        // RSS stays high while live bytes drop.
        let phases = [7, 8, 9].map { finder.found[UInt64($0 * 4096)]! }
        var breakdowns: [RSSBreakdown] = []
        for (i, t) in phases.enumerated() {
            if let b = checkBreakdown(run, markerTimeNs: t, vmRSSBytes: vmRSS[i], label: "phase \(i + 1)") { breakdowns.append(b) }
        }
        #expect(breakdowns.count == 3)
        if breakdowns.count == 3 {
            #expect(breakdowns[1].liveBytes < breakdowns[0].liveBytes / 2)
            #expect(breakdowns[1].residentBytes >= breakdowns[0].residentBytes * 95 / 100)
            #expect(breakdowns[1].freeResidentBytes! >= free * 9 / 10)
            #expect(breakdowns[0].freeResidentBytes! < 1 << 20)
        }

        // The picture states its scale and marks the cut gap to the mmap'd blocks.
        let svg = HeapMapPicture.svg(map, colouring: .bySize, title: "heap_holes", subtitle: "end")
        #expect(svg.contains("one pixel = "))
        #expect(svg.contains("≈ cut: "))
        #expect(svg == HeapMapPicture.svg(map, colouring: .bySize, title: "heap_holes", subtitle: "end"))
    }

    @Test func pythonBreakdownMatchesProc() throws {
        let python = try TestProcess.run("python3", ["-c", "import sys; print(sys.executable)"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let directory = Tracing.scratchDirectory()
        let out = directory + "/vmrss.txt"
        let script = """
            import mmap, time
            x = [str(i) * 50 for i in range(100000)]
            del x[::2]
            time.sleep(0.15)
            rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS:')][0].split()[1]
            m = mmap.mmap(-1, 7 * 4096)
            m.close()
            time.sleep(0.3)
            open(\(String(reflecting: out)), 'w').write(rss)
            """
        let trace = try record(python, ["-c", script], in: directory)
        let vmRSS = UInt64(try String(contentsOfFile: out, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))! * 1024
        let reader = try TraceReader(path: trace)
        var finder = MarkerFinder(lengths: [7 * 4096])
        try reader.read(into: &finder)
        let marker = try #require(finder.found[7 * 4096])
        let run = try HeapMapAnalysis.run(reader: reader, moments: []) { _, _ in }
        let b = try #require(checkBreakdown(run, markerTimeNs: marker, vmRSSBytes: vmRSS, label: "python"))
        // Small objects live in pymalloc's arenas (the program's own mmaps, not malloc blocks).
        #expect(b.liveBytes > 1 << 20)
        #expect(b.freeResidentBytes! > 0)
        #expect(b.mappedResidentBytes! > 2 << 20)  // pymalloc's arenas hold the strings
    }
}
