import Analysis
import Render
import Testing
import TraceModel

/// `diff`: call sites matched by function, file and line across runs with other addresses.
@Suite struct DiffTests {
    @Test func callSitesMatchAcrossLoadAddresses() {
        let before = Fixtures.demo()
        let after = Fixtures.demo(shift: 0x5000_0000, scale: 3, extraLeak: 100)
        let changes = CallSiteDiff.compare(before: before, after: after, kind: .peak)
        // Only parse's own allocations changed at the peak (300 -> 900 bytes).
        #expect(changes.count == 1)
        #expect(changes.first?.site == CallSiteKey(function: "parse", file: "/src/parse.c", line: 20))
        #expect(changes.first?.before == 300)
        #expect(changes.first?.after == 900)
        #expect(changes.first?.delta == 600)
        let leaks = CallSiteDiff.compare(before: before, after: after, kind: .leaked)
        #expect(leaks.map(\.site.function) == ["cache_insert"])
        #expect(leaks.first?.delta == 100)
        let text = DiffText.render(changes, kind: .peak, before: before.totals, after: after.totals, top: 5)
        #expect(text.contains("+600 B  "))
        #expect(text.contains("parse  parse.c:20"))
        #expect(text.contains("Shrank (0 call sites)"))
    }

    @Test func shrinkingSitesAreListedUnderShrank() {
        let changes = CallSiteDiff.compare(before: Fixtures.demo(scale: 3), after: Fixtures.demo(shift: 64), kind: .allocated)
        #expect(changes.map(\.delta) == [-2000])
        let text = DiffText.render(changes, kind: .allocated, before: Fixtures.demo(scale: 3).totals, after: Fixtures.demo().totals, top: 5)
        #expect(text.contains("Grew (0 call sites)"))
        #expect(text.contains("-2.0 KiB"))
    }

    @Test func differentialGraphCarriesBeforeAndAfter() {
        let graph = FlameGraphBuilder(kind: .allocated).buildDifferential(before: Fixtures.demo(), after: Fixtures.demo(shift: 0x9000, scale: 2))
        #expect(graph.isDifferential)
        #expect(graph.root.before == Fixtures.demo().totals.allocatedBytes)
        #expect(graph.root.after == Fixtures.demo(scale: 2).totals.allocatedBytes)
        #expect(graph.root.weight == graph.root.after)  // nothing shrank: max(before, after) = after
        let folded = FoldedStacks.render(graph)
        #expect(folded.contains("main;parse 1000 2000\n"))
        let svg = FlameGraphSVG().render(graph)
        #expect(svg.contains("Differential flame graph"))
        #expect(svg.contains("rgb(255,60,60)"))  // the largest growth is the deepest red
    }
}
