import Foundation
import TestSupport
import Testing

/// `mematlas report` and `mematlas run` end to end, through the built binary.
@Suite struct ReportCommandTests {
    @Test func runWritesTheReportNextToTheTraceAndReportTakesAnOutput() throws {
        let dir = Tracing.scratchDirectory()
        let program = try ExamplePrograms.build("c/demo_allocations.c")
        let trace = dir + "/demo.trace"
        let run = try TestProcess.run(Tracing.mematlasBinary, ["run", "-o", trace, "--json", "--", program], currentDirectory: dir)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("report: \(trace).html"))
        let page = try String(contentsOfFile: trace + ".html", encoding: .utf8)
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("id=\"card-peak-heap\""))
        // The summary on stdout is unchanged: JSON with the same figures as the page.
        let json = try #require(run.stdout.firstIndex(of: "{").map { String(run.stdout[$0...]) })
        let s = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let peak = try #require(s["peakHeapBytes"] as? Int)
        #expect(page.contains("id=\"card-peak-heap\" data-value=\"\(peak)\""))

        let out = dir + "/custom.html"
        let report = try TestProcess.run(Tracing.mematlasBinary, ["report", trace, "-o", out, "--no-heap-map"])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.hasPrefix("report: \(out) ("))
        #expect(FileManager.default.fileExists(atPath: out))
    }

    @Test func badInputGivesAOneLineError() throws {
        let dir = Tracing.scratchDirectory()
        let missing = try TestProcess.run(Tracing.mematlasBinary, ["report", dir + "/nope.trace"])
        #expect(missing.status != 0)
        #expect(missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")
        try "not a trace".write(toFile: dir + "/junk.trace", atomically: true, encoding: .utf8)
        let junk = try TestProcess.run(Tracing.mematlasBinary, ["report", dir + "/junk.trace"])
        #expect(junk.status != 0)
        #expect(junk.stderr.split(separator: "\n").count == 1, "\(junk.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/junk.trace.html"))
    }
}
