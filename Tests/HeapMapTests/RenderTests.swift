import Analysis
import Foundation
import Render
import Testing
import TraceModel

@Suite("Heap map picture and text")
struct RenderTests {
    /// The ten-block heap plus a second call site and an mmap'd block far away.
    func fixture() -> HeapMap {
        var script = tenBlocksWithHoles()
        script.malloc(3000, at: brkBase + 16 + 10 * chunk200, stack: 2)
        script.malloc(300_000, at: 0x7f20_0000_0010, stack: 2)
        return script.maps(at: [.end])[0]
    }

    /// Compares with the golden file next to this test; `MEMATLAS_RECORD_GOLDEN=1` rewrites it.
    func checkGolden(_ text: String, _ name: String) throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").appendingPathComponent(name).path
        if ProcessInfo.processInfo.environment["MEMATLAS_RECORD_GOLDEN"] == "1" {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == golden, "differs from Golden/\(name); rerun with MEMATLAS_RECORD_GOLDEN=1 to accept")
    }

    @Test func svgMatchesGolden() throws {
        let colouring = HeapMapColouring.byCallSite(siteOfStack: [StackID(1): 0, StackID(2): 1], siteNames: ["small  a.c:1", "large  a.c:2"])
        let svg = HeapMapPicture.svg(fixture(), colouring: colouring, title: "ten blocks", subtitle: "end")
        #expect(svg.contains("one pixel = "))
        #expect(svg.contains("≈ cut: "))
        try checkGolden(svg, "ten-blocks.svg")
    }

    @Test func figuresTextMatchesGolden() throws {
        try checkGolden(HeapMapText.figures(fixture()), "ten-blocks.txt")
    }

    @Test func breakdownChartStacksTheTerms() {
        let b = RSSBreakdown.unmeasured(timeNs: 1_000_000, residentBytes: 10_000, liveBytes: 800, chunkBytes: 832)
        let svg = HeapMapPicture.svg(fixture(), colouring: .bySize, title: "t", subtitle: "s", breakdowns: [b, b])
        #expect(svg.contains("RSS over the run, no residency snapshots: freed-but-resident heap not measured"))
        #expect(svg.components(separatedBy: "<title>0.001 s: RSS").count == 3)
    }

    @Test func animationHasOneGroupPerFrame() {
        let maps = tenBlocksWithHoles().maps(at: [.afterEvents(10), .end])
        let svg = HeapMapPicture.animatedSVG(maps.map { ($0, "frame") }, colouring: .bySize, title: "two frames")
        #expect(svg.components(separatedBy: "<animate ").count == 3)
        #expect(svg.hasSuffix("</svg>\n"))
    }
}
