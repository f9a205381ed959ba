import AllocatorLab
import Foundation
import Render
import TestSupport
import Testing

@Suite struct SimulateCommandTests {
    @Test func badTextTraceLineGivesOneLineErrorWithFileAndLine() throws {
        let directory = Tracing.scratchDirectory()
        let path = directory + "/bad.rep"
        try "a 0 10\nq 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let result = try TestProcess.run(Tracing.mematlasBinary, ["simulate", path])
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("bad.rep:2: unknown operation \"q\""), "\(result.stderr)")
    }

    @Test func comparesModelsAndWritesHeapMaps() throws {
        let directory = Tracing.scratchDirectory()
        let result = try TestProcess.run(Tracing.mematlasBinary, [
            "simulate", ExamplePrograms.source("traces/lab_two_holes.rep"), "--allocator", "first-fit,best-fit,buddy", "--json", "-o", directory,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let document = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let models = document?["models"] as? [[String: Any]] ?? []
        #expect(models.map { $0["allocator"] as? String } == ["first-fit", "best-fit", "buddy"])
        // Best fit reuses the exact 64-byte hole; first fit splits the 128-byte one and must grow.
        #expect(models.map { $0["peakFootprintBytes"] as? Int } == [368, 256, 256])
        for name in ["first-fit", "best-fit", "buddy"] {
            let svg = try String(contentsOfFile: directory + "/heapmap-\(name).svg", encoding: .utf8)
            #expect(svg.hasPrefix("<svg") && svg.contains("one row = 256 B"))
        }
    }

    @Test func heapMapMatchesGoldenFile() throws {
        let log = try TextTrace.parse(String(contentsOfFile: ExamplePrograms.source("traces/lab_two_holes.rep"), encoding: .utf8), file: "lab_two_holes.rep")
        let model = SequentialFitAllocator(policy: .firstFit, ordering: .addressOrdered)
        let result = ReplayEngine.replay(log, through: model)
        let snapshot = ReplayEngine.snapshotAtPeak(log, result: result) { SequentialFitAllocator(policy: .firstFit, ordering: .addressOrdered) }
        let svg = HeapMapPicture.svg(snapshot, title: "first-fit at its peak", subtitle: "lab_two_holes.rep")
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/heapmap-first-fit.svg").path
        if ProcessInfo.processInfo.environment["MEMATLAS_RECORD_GOLDEN"] != nil {
            try FileManager.default.createDirectory(atPath: (golden as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try svg.write(toFile: golden, atomically: true, encoding: .utf8)
        }
        #expect(svg == (try String(contentsOfFile: golden, encoding: .utf8)), "re-record with MEMATLAS_RECORD_GOLDEN=1")
    }
}
