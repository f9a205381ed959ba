import Foundation
import Testing
import TestSupport

@Suite("mematlas heapmap", .serialized)
struct HeapMapCommandTests {
    @Test func badInputGivesOneLineErrors() throws {
        let directory = Tracing.scratchDirectory()
        let missing = try TestProcess.run(Tracing.mematlasBinary, ["heapmap", directory + "/nothing.trace"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no such file"))
        #expect(missing.stderr.split(separator: "\n").count == 1)
        #expect(FileManager.default.createFile(atPath: directory + "/junk.trace", contents: Data("not a trace at all, really".utf8)))
        let junk = try TestProcess.run(Tracing.mematlasBinary, ["heapmap", directory + "/junk.trace"])
        #expect(junk.status != 0)
        #expect(junk.stderr.contains("not a MemAtlas trace"))
        #expect(junk.stderr.split(separator: "\n").count == 1)
        let badFrames = try TestProcess.run(Tracing.mematlasBinary, ["heapmap", directory + "/junk.trace", "--frames", "0"])
        #expect(badFrames.status != 0)
        #expect(badFrames.stderr.split(separator: "\n").count == 1)
        let badMoment = try TestProcess.run(Tracing.mematlasBinary, ["heapmap", directory + "/junk.trace", "--at", "soon"])
        #expect(badMoment.status != 0)
        #expect(badMoment.stderr.contains("--at"))
        #expect(badMoment.stderr.split(separator: "\n").count == 1)
    }

    @Test func drawsMapFramesAndAnimation() throws {
        let program = try ExamplePrograms.build("c/heap_holes.c")
        let directory = Tracing.scratchDirectory()
        let trace = try record(program, [], in: directory)
        let svg = directory + "/map.svg"
        let end = try TestProcess.run(Tracing.mematlasBinary, ["heapmap", trace, "--at", "end", "-o", svg])
        #expect(end.status == 0, "\(end.stderr)")
        #expect(end.stdout.contains("39,999 holes"))
        #expect(end.stdout.contains("freed heap the allocator has not returned"))
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(text.hasPrefix("<svg"))
        #expect(text.contains("heap_holes.c:"))  // call-site legend
        #expect(text.utf8.count < 4 << 20)

        let json = try TestProcess.run(Tracing.mematlasBinary, ["heapmap", trace, "--at", "end", "-o", svg, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let overall = report?["overall"] as? [String: Any]
        #expect(overall?["holes"] as? Int == 39_999)
        #expect((report?["breakdowns"] as? [Any])?.isEmpty == false)

        let frames = try TestProcess.run(Tracing.mematlasBinary, ["heapmap", trace, "--frames", "2", "-o", directory + "/f.svg"])
        #expect(frames.status == 0, "\(frames.stderr)")
        for i in 0..<2 { #expect(FileManager.default.fileExists(atPath: directory + "/f-00\(i).svg")) }

        let animated = try TestProcess.run(Tracing.mematlasBinary, ["heapmap", trace, "--animate", "--frames", "2", "-o", directory + "/a.svg"])
        #expect(animated.status == 0, "\(animated.stderr)")
        let animation = try String(contentsOfFile: directory + "/a.svg", encoding: .utf8)
        #expect(animation.components(separatedBy: "<animate ").count == 3)
    }
}
