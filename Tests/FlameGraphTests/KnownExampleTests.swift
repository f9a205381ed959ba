import Analysis
import Foundation
import Render
import TestSupport
import Testing
import TraceModel

/// Records Examples/c/flame_known.c (known stacks and sizes, see its header) and checks every
/// kind's folded output exactly, by function names.
@Suite struct KnownExampleTests {
    static let a = "main;run_a;alloc_a"
    static let b = "main;run_b;alloc_b"
    static let c = "main;run_c;middle_c;alloc_c;make_page"

    /// Folded totals keyed by the path from `main` on (frames below main are the C runtime's).
    static func fromMain(_ folded: [String: UInt64]) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for (path, value) in folded {
            let frames = path.split(separator: ";")
            guard let main = frames.firstIndex(of: "main") else {
                Issue.record("a stack outside main: \(path)")
                continue
            }
            result[frames[main...].joined(separator: ";"), default: 0] += value
        }
        return result
    }

    @Test func everyKindIsExactPerStack() throws {
        let program = try ExamplePrograms.build("c/flame_known.c")
        let (recording, _) = try Tracing.recordAndSummarize(program)
        #expect(recording.exitCode == 0)
        let profile = try StackProfileLoader.load(path: recording.mainTrace)
        let expected: [FlameGraphKind: [String: UInt64]] = [
            .allocated: [Self.a: 6400, Self.b: 50_000, Self.c: 81_920],
            .allocations: [Self.a: 100, Self.b: 50, Self.c: 20],
            .peak: [Self.b: 50_000, Self.c: 81_920],
            .leaked: [Self.b: 10_000],
            .temporary: [Self.a: 100, Self.c: 1],
        ]
        for kind in FlameGraphKind.allCases {
            let graph = FlameGraphBuilder(kind: kind).build(profile)
            let folded = parseFolded(FoldedStacks.render(graph))
            #expect(Self.fromMain(folded) == expected[kind]!, "\(kind)")
            #expect(folded.values.reduce(0, +) == kind.weight(profile.totals), "\(kind)")
        }
        // Counts shown with the peak: 50 and 20 blocks.
        let peak = FlameGraphBuilder(kind: .peak).build(profile)
        #expect(peak.root.count == 70)
        // The inlined make_page has its own frame with its own source line.
        let makePage = try #require(peak.nodes.first { peak.name(of: $0) == "make_page" })
        #expect(peak.location(of: makePage)?.file?.hasSuffix("flame_known.c") == true)

        // Per-thread loading gives the same figures under the one thread.
        let threaded = try StackProfileLoader.load(path: recording.mainTrace, perThread: true)
        var builder = FlameGraphBuilder(kind: .allocated)
        builder.threads = .split
        let split = parseFolded(FoldedStacks.render(builder.build(threaded)))
        #expect(split.keys.allSatisfy { $0.hasPrefix("thread ") })
        let splitTotal: UInt64 = split.values.reduce(0, +)
        #expect(splitTotal == 138_320)

        // The command line: the pprof file decodes to the same totals; a bad regex is one line.
        let dir = Tracing.scratchDirectory()
        let pprof = try TestProcess.run(Tracing.mematlasBinary, ["flamegraph", recording.mainTrace, "-o", dir + "/p.pb.gz"])
        #expect(pprof.status == 0, "\(pprof.stderr)")
        let decoded = try DecodedPprof(try #require(Gzip.decompress(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/p.pb.gz"))))))
        let allocatedTotal = decoded.samples.reduce(UInt64(0)) { $0 + $1.values[0] }
        let inuseTotal = decoded.samples.reduce(UInt64(0)) { $0 + $1.values[2] }
        #expect(allocatedTotal == 138_320)
        #expect(inuseTotal == 131_920)
        let folded = try TestProcess.run(Tracing.mematlasBinary, ["flamegraph", recording.mainTrace, "--kind", "leaked", "--format", "folded", "--filter", "run_b"])
        #expect(Self.fromMain(parseFolded(folded.stdout)) == [Self.b: 10_000])
        let bad = try TestProcess.run(Tracing.mematlasBinary, ["flamegraph", recording.mainTrace, "--filter", "(unclosed"])
        #expect(bad.status != 0)
        #expect(bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
        let missing = try TestProcess.run(Tracing.mematlasBinary, ["flamegraph", dir + "/none.trace"])
        #expect(missing.status != 0)
        #expect(missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")
        // diff of a run against itself: nothing changed.
        let same = try TestProcess.run(Tracing.mematlasBinary, ["diff", recording.mainTrace, recording.mainTrace, "-o", dir + "/d.svg"])
        #expect(same.status == 0, "\(same.stderr)")
        #expect(same.stdout.contains("Grew (0 call sites)"))
        #expect(FileManager.default.fileExists(atPath: dir + "/d.svg"))
    }
}
