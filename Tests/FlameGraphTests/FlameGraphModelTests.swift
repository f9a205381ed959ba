import Analysis
import Render
import Testing
import TraceIO
import TraceModel

/// The call tree: merging by name, inlined frames, inversion, threads, filters, exact totals.
@Suite struct FlameGraphModelTests {
    @Test func treeMergesFramesByNameAndExpandsInlinedFrames() {
        let graph = FlameGraphBuilder(kind: .allocated).build(Fixtures.demo())
        #expect(graph.root.weight == 1000 + 6400 + 50_000 + 240 + 3 * 4096)
        let folded = parseFolded(FoldedStacks.render(graph))
        let weird = "operator<<(std::ostream&, Foo<\"a\" & 'b'>)</title><script>alert(1)</script>"
        #expect(folded == [
            "main;parse": 1000,
            "main;parse;tokenize": 6400,  // the inlined frame is its own frame
            "main;parse;cache_insert": 50_000,
            "main;" + weird: 240,
            "main;cache_insert": 3 * 4096,
        ])
        // One `main` node with the two `parse` paths merged under one `parse` node.
        let main = graph.nodes[Int(graph.root.firstChild)]
        #expect(graph.name(of: main) == "main")
        #expect(main.childCount == 3)
        let children = main.children.map { graph.name(of: graph.nodes[$0]) }
        #expect(children == children.sorted())
        let parse = main.children.map { graph.nodes[$0] }.first { graph.name(of: $0) == "parse" }!
        #expect(parse.weight == 1000 + 6400 + 50_000)
        #expect(parse.selfWeight == 1000)
        #expect(parse.count == 10 + 200 + 5)
        #expect(graph.location(of: parse)?.shortDescription == "parse.c:20")  // the heaviest call is via cache_insert
    }

    @Test func everyKindUsesItsFigure() {
        let profile = Fixtures.demo()
        let totals = profile.totals
        for kind in FlameGraphKind.allCases {
            let graph = FlameGraphBuilder(kind: kind).build(profile)
            #expect(graph.root.weight == kind.weight(totals), "\(kind)")
            #expect(parseFolded(FoldedStacks.render(graph)).values.reduce(0, +) == kind.weight(totals), "\(kind)")
        }
        let leaked = parseFolded(FoldedStacks.render(FlameGraphBuilder(kind: .leaked).build(profile)))
        #expect(leaked["main;parse;cache_insert"] == 20_000)
        #expect(leaked.count == 2)
    }

    @Test func foldedTotalsEqualTheAnalysisPerStack() {
        // Sum the analysis figures per symbolized path directly, and compare with the folded text.
        let profile = Fixtures.demo()
        for kind in FlameGraphKind.allCases {
            var expected: [String: UInt64] = [:]
            for sample in profile.samples where kind.weight(sample.figures) > 0 {
                let path = profile.sourceFrames(of: sample.stack).map(\.function).joined(separator: ";")
                expected[path, default: 0] += kind.weight(sample.figures)
            }
            let folded = parseFolded(FoldedStacks.render(FlameGraphBuilder(kind: kind).build(profile)))
            #expect(folded == expected.filter { $0.value > 0 }.mapValues { $0 }, "\(kind)")
        }
    }

    @Test func invertedTreeStartsAtTheAllocatingFrame() {
        var builder = FlameGraphBuilder(kind: .allocated)
        builder.inverted = true
        let folded = parseFolded(FoldedStacks.render(builder.build(Fixtures.demo())))
        #expect(folded["cache_insert;parse;main"] == 50_000)
        #expect(folded["cache_insert;main"] == 3 * 4096)
        #expect(folded["tokenize;parse;main"] == 6400)
    }

    @Test func filterKeepsStacksThroughAMatchingFrame() {
        var builder = FlameGraphBuilder(kind: .allocated)
        builder.filter = { $0.hasPrefix("cache") }
        let folded = parseFolded(FoldedStacks.render(builder.build(Fixtures.demo())))
        #expect(folded == ["main;parse;cache_insert": 50_000, "main;cache_insert": 3 * 4096])
    }

    @Test func threadsSplitOrFilter() {
        var profile = Fixtures.demo()
        // The same stack made by two threads.
        let first = profile.samples[2]
        profile.samples[2].thread = ThreadID(7)
        profile.samples.append(StackProfile.Sample(stack: first.stack, thread: ThreadID(9), figures: Fixtures.figures(allocations: 1, bytes: 5)))
        for i in profile.samples.indices where profile.samples[i].thread == nil { profile.samples[i].thread = ThreadID(7) }
        profile.threadNames = [ThreadID(9): "worker"]
        var builder = FlameGraphBuilder(kind: .allocated)
        builder.threads = .split
        let split = parseFolded(FoldedStacks.render(builder.build(profile)))
        #expect(split["thread 7;main;parse;cache_insert"] == 50_000)
        #expect(split["thread 9 (worker);main;parse;cache_insert"] == 5)
        builder.threads = .only([ThreadID(9)])
        #expect(parseFolded(FoldedStacks.render(builder.build(profile))) == ["main;parse;cache_insert": 5])
    }

    @Test func emptyProfileGivesAnEmptyGraph() {
        let profile = StackProfile(samples: [], stacks: StackTable(), symbols: [:])
        let graph = FlameGraphBuilder(kind: .peak).build(profile)
        #expect(graph.nodes.count == 1)
        #expect(FoldedStacks.render(graph).isEmpty)
        #expect(FlameGraphSVG().render(graph).contains("total 0 B"))
    }
}
