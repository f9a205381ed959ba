import Analysis
import Foundation
import Render
import TestSupport
import Testing
import TraceModel

/// The pprof export, decoded back with the test's own protobuf decoder.
@Suite struct PprofTests {
    @Test func decodedTotalsEqualTheProfile() throws {
        let profile = Fixtures.demo()
        let compressed = PprofExport.render(profile, kind: .peak)
        #expect(compressed.starts(with: [0x1f, 0x8b]))
        let raw = try #require(Gzip.decompress(compressed))
        let decoded = try DecodedPprof(raw)
        #expect(decoded.sampleTypes == ["alloc_space/bytes", "alloc_objects/count", "inuse_space/bytes", "inuse_objects/count", "temporary_objects/count"])
        #expect(decoded.defaultSampleType == "inuse_space")
        let totals = profile.totals
        func sum(_ i: Int) -> UInt64 { decoded.samples.reduce(0) { $0 + $1.values[i] } }
        #expect(sum(0) == totals.allocatedBytes)
        #expect(sum(1) == totals.allocations)
        #expect(sum(2) == totals.peakBytes)
        #expect(sum(3) == totals.peakBlocks)
        #expect(sum(4) == totals.temporary)
        // Leaf first, inlined frames expanded: tokenize inlined into parse, called by main.
        #expect(decoded.samples.contains { $0.functions == ["tokenize", "parse", "main"] })
        #expect(decoded.mappings == ["/usr/bin/demo"])
        #expect(decoded.locationCount == 6)
        // In use means live at exit for the leaked kind.
        let leaked = try DecodedPprof(PprofExport.encode(profile, kind: .leaked))
        let leakedTotal = leaked.samples.reduce(UInt64(0)) { $0 + $1.values[2] }
        #expect(leakedTotal == totals.leakedBytes)
    }

    @Test func systemGzipReadsTheExport() throws {
        let dir = Tracing.scratchDirectory()
        let path = dir + "/demo.pb.gz"
        let compressed = PprofExport.render(Fixtures.demo(), kind: .allocated)
        try Data(compressed).write(to: URL(fileURLWithPath: path))
        let result = try TestProcess.run("sh", ["-c", "gzip -dc '\(path)' | od -An -tx1 -v | tr -d ' \\n'"])
        #expect(result.status == 0)
        let expected = PprofExport.encode(Fixtures.demo(), kind: .allocated).map { String(format: "%02x", $0) }.joined()
        #expect(result.stdout == expected)
    }
}
