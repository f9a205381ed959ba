import Foundation
import TestSupport
import Testing

/// The examples `mematlas run --example` offers show what they say, in exact figures.
@Suite struct LearningExampleTests {
    /// Call sites of `mematlas run --example NAME` whose location (inlined frames included) passes
    /// through a function whose name starts with `function`.
    func sites(_ summary: [String: Any], through function: String) -> [[String: Any]] {
        (summary["topByAllocations"] as? [[String: Any]] ?? []).filter { site in
            (site["location"] as? [[String: Any]] ?? []).contains { ($0["function"] as? String)?.hasPrefix(function) == true }
        }
    }

    func total(_ sites: [[String: Any]], _ key: String) -> Int { sites.reduce(0) { $0 + ($1[key] as? Int ?? 0) } }

    /// `mematlas run` of a program that forks and execs lists every process with its figures, the
    /// summarized one marked.
    @Test func runListsEveryProcessOfTheRecording() throws {
        let program = try ExamplePrograms.build("c/exact_counts.c")
        let trace = Tracing.scratchDirectory() + "/t"
        let run = try TestProcess.run(Tracing.mematlasBinary, ["run", "--no-report", "-o", trace, "--", "/bin/sh", "-c", "\(program); exec /bin/true"])
        #expect(run.status == 0, "\(run.stderr)")
        let table = try #require(run.stdout.components(separatedBy: "\nProcesses").last)
        let rows = table.split(separator: "\n").dropFirst(2).map(String.init)
        try #require(rows.count == 3, "\(table)")
        // exact_counts: 367 calls (192 allocations of 36,150 bytes, 169 frees, 6 mappings), a peak of
        // 8,150 bytes, 365 bytes leaked.
        let child = try #require(rows.first { $0.contains("   \(program) (") }, "\(table)")
        #expect(child.split(separator: " ").prefix(8).map(String.init).dropFirst() == ["367", "35.3", "KiB", "8.0", "KiB", "365", "B"], "\(child)")
        #expect(child.hasSuffix("exit   \(program) (t.\(child.split(separator: " ")[0]))"))
        #expect(rows.filter { $0.hasPrefix(" *") }.count == 1)
        #expect(rows.first { $0.hasPrefix(" *") }?.contains("/bin/true") == true)

        // The same list in the JSON, exact.
        let json = try TestProcess.run(Tracing.mematlasBinary, ["run", "--no-report", "--json", "-o", trace + "2", "--", "/bin/sh", "-c", "\(program); exec /bin/true"])
        // exact_counts writes "done" (with write(2)) before the JSON.
        let object = try #require(json.stdout.firstIndex(of: "{").map { json.stdout[$0...] })
        let s = try #require(JSONSerialization.jsonObject(with: Data(object.utf8)) as? [String: Any])
        let processes = try #require(s["processes"] as? [[String: Any]])
        #expect(processes.count == 3)
        let counted = try #require(processes.first { ($0["command"] as? String) == program })
        #expect(counted["calls"] as? Int == 367)
        #expect(counted["allocations"] as? Int == 192)
        #expect(counted["allocatedBytes"] as? Int == 36150)
        #expect(counted["peakHeapBytes"] as? Int == 8150)
        #expect(counted["leakedBytes"] as? Int == 365)
        #expect(counted["leakedBlocks"] as? Int == 10)
        #expect(counted["end"] as? String == "exit")
    }

    @Test func pointersShowWhichWaysOfPassingAnObjectCopyIt() throws {
        let trace = Tracing.scratchDirectory() + "/pointers.trace"
        let run = try TestProcess.run(Tracing.mematlasBinary, ["run", "--no-report", "--json", "--top", "40", "-o", trace, "--example", "pointers"])
        #expect(run.status == 0, "\(run.stderr)")
        // The program prints its line first, then the summary's JSON follows.
        let lines = run.stdout.split(separator: "\n", maxSplits: 1).map(String.init)
        try #require(lines.count == 2)
        #expect(lines[0] == "total 54")
        let s = try #require(JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])

        // By value: each of the 10 calls copies the robot's 64 KiB array and its 48-byte name.
        let byValue = sites(s, through: "passed_by_value")
        #expect(total(byValue, "allocations") == 20)
        #expect(total(byValue, "allocatedBytes") == 10 * (65536 + 48))
        #expect(total(byValue, "leakedBlocks") == 0)
        // By reference and by pointer: nothing.
        #expect(sites(s, through: "passed_by_reference").isEmpty)
        #expect(sites(s, through: "passed_by_pointer").isEmpty)
        #expect(sites(s, through: "drive_by").isEmpty)
        // unique_ptr: one robot (64 bytes) with its array and name, all freed by the owner.
        let unique = sites(s, through: "owned_by_unique_ptr")
        #expect(total(unique, "allocations") == 3)
        #expect(total(unique, "allocatedBytes") == 64 + 65536 + 48)
        #expect(total(unique, "leakedBlocks") == 0)
        // make_shared: one block for the robot and its counts (80 bytes), its array and name, and the
        // owners' vector (10 x 16 bytes); the 10 owners and the weak pointer add no block.
        let shared = sites(s, through: "shared_by_shared_ptr")
        #expect(total(shared, "allocations") == 4)
        #expect(total(shared, "allocatedBytes") == 80 + 65536 + 48 + 160)
        #expect(total(shared, "leakedBlocks") == 0)
        // new without delete: the robot, its array and its name leak.
        let leaked = sites(s, through: "leaked_raw_pointer")
        #expect(total(leaked, "leakedBlocks") == 3)
        #expect(total(leaked, "leakedBytes") == 64 + 65536 + 48)
    }

    @Test func unknownExampleListsTheExamples() throws {
        let run = try TestProcess.run(Tracing.mematlasBinary, ["run", "--example", "nosuch"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("no example named nosuch; the examples are: demo_allocations, pointers"))
    }
}
