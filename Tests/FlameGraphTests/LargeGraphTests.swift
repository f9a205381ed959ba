import Analysis
import Foundation
import Render
import Testing
import TraceIO
import TraceModel

/// Many distinct stacks: narrow frames are merged so that the SVG stays small.
@Suite struct LargeGraphTests {
    /// `count` distinct stacks of depth 6 over a few hundred functions, seeded sizes.
    static func manyStacks(_ count: Int) -> StackProfile {
        var stacks = StackTable()
        var symbols: [UInt64: [SymbolizedFrame]] = [:]
        var samples: [StackProfile.Sample] = []
        var seed: UInt64 = 0x9e37_79b9_7f4a_7c15
        func next() -> UInt64 {
            seed ^= seed << 13
            seed ^= seed >> 7
            seed ^= seed << 17
            return seed
        }
        for level in 0..<6 {
            for f in 0..<40 {
                let ip = UInt64(0x10000 * (level + 1) + f * 16 + 1)
                symbols[ip] = [SymbolizedFrame(function: "level\(level)_function\(f)", file: "/src/l\(level).c", line: f + 1, module: "/bin/big")]
            }
        }
        var frames = [UInt64](repeating: 0, count: 6)
        for i in 0..<count {
            var rest = i
            for level in 0..<6 {
                frames[5 - level] = UInt64(0x10000 * (level + 1) + (rest % 40) * 16 + 1)
                rest /= 40
            }
            stacks.append(frames)
            var s = StackStatistics()
            s.allocations = 1
            s.allocatedBytes = 16 + next() % 4096
            samples.append(.init(stack: StackID(UInt32(i + 1)), figures: s))
        }
        return StackProfile(samples: samples, stacks: stacks, symbols: symbols)
    }

    @Test func narrowFramesAreMergedAndTheFileStaysSmall() {
        let profile = Self.manyStacks(60_000)
        let graph = FlameGraphBuilder(kind: .allocated).build(profile)
        #expect(graph.root.weight == profile.totals.allocatedBytes)
        var renderer = FlameGraphSVG()
        renderer.maximumFrames = 4000
        let svg = renderer.render(graph)
        let frames = svg.components(separatedBy: "<g data-v=").count - 1
        #expect(frames <= 4000)
        #expect(frames > 100)
        #expect(svg.contains("smaller frames)"))
        #expect(svg.utf8.count < 2 << 20)
        // Folded output is never pruned.
        #expect(parseFolded(FoldedStacks.render(graph)).count == 60_000)
    }
}
