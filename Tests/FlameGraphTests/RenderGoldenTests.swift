import Analysis
import Foundation
import Render
import Testing
import TraceModel
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Golden files for every format, built from the in-code profile (not from a recorded trace).
@Suite struct RenderGoldenTests {
    static let profile = Fixtures.demo()

    @Test func svgMatchesGoldenAndIsStable() {
        let graph = FlameGraphBuilder(kind: .allocated).build(Self.profile)
        let svg = FlameGraphSVG().render(graph)
        #expect(svg == FlameGraphSVG().render(FlameGraphBuilder(kind: .allocated).build(Fixtures.demo())))
        Golden.check(svg, "allocated.svg")
        var inverted = FlameGraphBuilder(kind: .peak)
        inverted.inverted = true
        Golden.check(FlameGraphSVG().render(inverted.build(Self.profile)), "peak-inverted.svg")
    }

    @Test func foldedSpeedscopeAndPprofMatchGolden() throws {
        let graph = FlameGraphBuilder(kind: .allocated).build(Self.profile)
        Golden.check(FoldedStacks.render(graph), "allocated.folded")
        Golden.check(SpeedscopeJSON.render(graph, name: "demo"), "allocated.speedscope.json")
        Golden.check(try DecodedPprof(PprofExport.encode(Self.profile, kind: .peak)).text, "peak.pprof.txt")
        let diff = FlameGraphBuilder(kind: .leaked).buildDifferential(before: Self.profile, after: Fixtures.demo(shift: 0x100000, extraLeak: 8))
        Golden.check(FoldedStacks.render(diff), "leaked-diff.folded")
        Golden.check(FlameGraphSVG().render(diff), "leaked-diff.svg")
    }

    @Test func namesAreEscapedAndTheSVGIsWellFormedXML() throws {
        let svg = FlameGraphSVG().render(FlameGraphBuilder(kind: .allocated).build(Self.profile))
        // The hostile name appears only escaped; the only script is ours.
        #expect(!svg.contains("<script>alert"))
        #expect(svg.contains("&lt;/title&gt;&lt;script&gt;alert(1)"))
        #expect(svg.components(separatedBy: "<script").count == 2)
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "XML error: \(parser.parserError.map { "\($0)" } ?? "")")
        // JSON stays valid with the same name.
        let json = SpeedscopeJSON.render(FlameGraphBuilder(kind: .allocated).build(Self.profile), name: "demo")
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let frames = ((object?["shared"] as? [String: Any])?["frames"] as? [[String: Any]]) ?? []
        #expect(frames.contains { ($0["name"] as? String)?.hasPrefix("operator<<") == true })
    }

    @Test func colourDependsOnTheNameOnly() {
        #expect(FlameGraphSVG.colour("malloc_wrapper") == FlameGraphSVG.colour("malloc_wrapper"))
        #expect(FlameGraphSVG.colour("parse") != FlameGraphSVG.colour("tokenize"))
        let a = FlameGraphSVG().render(FlameGraphBuilder(kind: .allocated).build(Self.profile))
        let b = FlameGraphSVG().render(FlameGraphBuilder(kind: .leaked).build(Self.profile))
        let fill = "fill=\"" + FlameGraphSVG.colour("cache_insert") + "\""
        #expect(a.contains(fill) && b.contains(fill))
    }

    @Test func speedscopeWeightsSumToTheTotal() throws {
        let graph = FlameGraphBuilder(kind: .allocations).build(Self.profile)
        let json = SpeedscopeJSON.render(graph, name: "demo")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let profile = try #require((object["profiles"] as? [[String: Any]])?.first)
        let weights = (profile["weights"] as? [Int]) ?? []
        #expect(UInt64(weights.reduce(0, +)) == Self.profile.totals.allocations)
        #expect((profile["samples"] as? [[Int]])?.count == weights.count)
    }
}
