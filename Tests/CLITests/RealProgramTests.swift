import Foundation
import TestSupport
import Testing

/// Runs `mematlas record` (the built binary) on real programs: each must behave exactly as without
/// the recorder, and its traces must be consistent.
@Suite struct RealProgramTests {
    struct Run {
        var plain: TestProcess.Result
        var recorded: TestProcess.Result
        var traces: [String]
    }

    /// Runs the program plainly and under `mematlas record`, in the same folder and environment.
    func recordBoth(_ program: String, _ arguments: [String], in directory: String? = nil, stdin: String? = nil) throws -> Run {
        let scratch = Tracing.scratchDirectory(program)
        let cwd = directory ?? scratch
        let plain = try TestProcess.run(program, arguments, currentDirectory: cwd, stdin: stdin)
        let output = scratch + "/trace"
        let recorded = try TestProcess.run(Tracing.mematlasBinary, ["record", "-o", output, "--", program] + arguments, currentDirectory: cwd, stdin: stdin)
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch).filter { $0.hasPrefix("trace") }.sorted()
        return Run(plain: plain, recorded: recorded, traces: names.map { scratch + "/" + $0 })
    }

    /// The summary of a trace as JSON.
    func summary(_ trace: String) throws -> [String: Any] {
        let result = try TestProcess.run(Tracing.mematlasBinary, ["summary", "--json", trace])
        #expect(result.status == 0, "summary failed: \(result.stderr)")
        return try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    /// Checks a trace's internal consistency: it is complete and no free is of an unknown block.
    func expectConsistent(_ trace: String, allowUnmatched: Int = 0) throws {
        let s = try summary(trace)
        #expect(s["complete"] as? Bool == true, "\(trace) incomplete: \(s["truncation"] ?? "")")
        let unmatched = s["unmatchedFrees"] as? Int ?? -1
        #expect(unmatched >= 0 && unmatched <= allowUnmatched, "\(trace): \(unmatched) frees of unknown blocks")
        let calls = s["calls"] as? [String: Int] ?? [:]
        let allocations = s["allocations"] as? Int ?? 0
        let leaked = s["leakedBlocks"] as? Int ?? 0
        // Blocks freed = allocations - leaked; each free call releases at most one block.
        #expect(allocations - leaked <= (calls["free"] ?? 0) + (calls["realloc"] ?? 0) + (calls["reallocarray"] ?? 0))
    }

    @Test func lsBehavesTheSame() throws {
        let run = try recordBoth("/bin/ls", ["-la", "/usr/lib"])
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.status == run.plain.status)
        #expect(run.traces.count == 1)
        try expectConsistent(run.traces[0])
        let s = try summary(run.traces[0])
        #expect((s["allocations"] as? Int ?? 0) > 100)
    }

    @Test func exitStatusAndStderrPassThrough() throws {
        let run = try recordBoth("/bin/ls", ["/no/such/path"])
        #expect(run.plain.status == 2)
        #expect(run.recorded.status == 2)
        #expect(run.recorded.stderr.hasPrefix(run.plain.stderr))
    }

    @Test func stdinPassesThrough() throws {
        let run = try recordBoth("/usr/bin/sort", [], stdin: "pear\napple\nfig\n")
        #expect(run.recorded.stdout == "apple\nfig\npear\n")
        #expect(run.recorded.stdout == run.plain.stdout)
    }

    @Test func pythonWithThreads() throws {
        let python = try #require(try TestProcess.run("python3", ["-c", "import sys; print(sys.executable)"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines).nilIfEmpty)
        let script = """
            import json, threading, collections, re, hashlib
            def work(n):
                d = {str(i): [i] * (i % 7) for i in range(n)}
                return len(json.dumps(d))
            results = []
            threads = [threading.Thread(target=lambda: results.append(work(5000))) for _ in range(4)]
            for t in threads: t.start()
            for t in threads: t.join()
            print(sorted(results), hashlib.sha256(b"x").hexdigest()[:8], re.sub("a", "b", "banana"))
            """
        let run = try recordBoth(python, ["-c", script])
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.status == 0)
        #expect(run.traces.count == 1)
        try expectConsistent(run.traces[0])
        let s = try summary(run.traces[0])
        #expect((s["threads"] as? Int ?? 0) >= 5)
        #expect((s["allocations"] as? Int ?? 0) > 5_000)
    }

    @Test func gitOnASmallRepository() throws {
        let repo = Tracing.scratchDirectory("repo")
        let env = ["GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t"]
        for command in [["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "one"], ["commit", "-q", "--allow-empty", "-m", "two"]] {
            _ = try TestProcess.run("/usr/bin/env", env + ["git"] + command, currentDirectory: repo)
        }
        let version = try recordBoth("/usr/bin/git", ["--version"])
        #expect(version.recorded.stdout == version.plain.stdout)
        let log = try recordBoth("/usr/bin/git", ["log", "--oneline", "--no-decorate"], in: repo)
        #expect(log.recorded.stdout == log.plain.stdout)
        #expect(log.recorded.stdout.contains("two"))
        #expect(log.recorded.status == 0)
        for trace in log.traces { try expectConsistent(trace, allowUnmatched: 1_000) }
        try expectConsistent(log.traces[0])
    }

    @Test func multithreadedCxxProgram() throws {
        let program = try ExamplePrograms.build("cpp/threads.cpp")
        let run = try recordBoth(program, [])
        #expect(run.recorded.stdout == run.plain.stdout || run.recorded.stdout.hasPrefix("threads done"))
        #expect(run.recorded.status == 0)
        let s = try summary(run.traces[0])
        #expect(s["complete"] as? Bool == true)
        let calls = s["calls"] as? [String: Int] ?? [:]
        // 8 threads x 2000 rounds x (vector object + vector storage + string + kept-list growth...)
        #expect((calls["malloc"] ?? 0) >= 8 * 2000 * 3)
        #expect((s["threads"] as? Int ?? 0) == 9)
        let sites = s["topByAllocations"] as? [[String: Any]] ?? []
        let stacks = sites.flatMap { ($0["stack"] as? [[String: Any]]) ?? [] }.compactMap { $0["function"] as? String }
        #expect(stacks.contains("work(int, int)"))  // C++ names demangled
        // Blocks freed by another thread than allocated them are matched too.
        #expect((s["unmatchedFrees"] as? Int ?? 99) == 0)
    }

    @Test func forkAndExecWriteOneTracePerProcess() throws {
        let program = try ExamplePrograms.build("c/fork_exec.c")
        let run = try recordBoth(program, [])
        #expect(run.recorded.status == 3)
        #expect(run.recorded.stdout == run.plain.stdout)
        // parent, child 1, child 2 before and after its exec of echo, child 3
        #expect(run.traces.count == 5)
        var ends: [String] = []
        var pids = Set<Int>()
        for trace in run.traces {
            let s = try summary(trace)
            ends.append(s["end"] as? String ?? "")
            pids.insert(s["pid"] as? Int ?? 0)
            #expect(s["complete"] as? Bool == true)
        }
        #expect(pids.count == 4)
        #expect(ends.sorted() == ["_exit", "exec", "exit", "exit", "exit"])
        let parent = try summary(run.traces[0])
        #expect((parent["calls"] as? [String: Int])?["malloc"] == 111)  // 100 + 10 + stdout's buffer
    }

    @Test func forkingWhileThreadsAllocateTracesEveryProcess() throws {
        let program = try ExamplePrograms.build("c/fork_storm.c")
        let run = try recordBoth(program, [])
        #expect(run.recorded.status == 0)
        #expect(run.recorded.stdout == "100 children exited normally\n")
        #expect(run.traces.count == 101)
        for trace in run.traces.dropFirst() {
            let s = try summary(trace)
            #expect((s["calls"] as? [String: Int])?["malloc"] == 10)
            #expect(s["end"] as? String == "_exit")
            #expect(s["unmatchedFrees"] as? Int == 0)
        }
    }

    @Test func oddCallsBehaveTheSameAndFailuresAreCounted() throws {
        let program = try ExamplePrograms.build("c/odd_calls.c")
        let run = try recordBoth(program, [])
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.stdout.contains("posix_memalign(alignment 3): Invalid argument"))
        #expect(run.recorded.stdout.contains("malloc(SIZE_MAX - 4096): NULL errno=Cannot allocate memory"))
        #expect(run.recorded.status == 0)
        let s = try summary(run.traces[0])
        let failed = s["failedCalls"] as? [String: Int] ?? [:]
        #expect(failed == ["malloc": 1, "calloc": 1, "realloc": 1, "posix_memalign": 1])
        #expect(s["unmatchedFrees"] as? Int == 0)
        // The constructor's malloc (before main) and the signal handler's are in the trace.
        let dump = try TestProcess.run(Tracing.mematlasBinary, ["dump", run.traces[0]]).stdout
        #expect(dump.contains(" malloc 77 -> "))
        #expect(dump.contains(" malloc 33 -> "))
        #expect(dump.contains(" realloc 0x0 40 -> "))
    }

    @Test func swiftProgramHasDemangledCallSites() throws {
        let dir = Tracing.scratchDirectory()
        let program = dir + "/swift-allocations"
        let build = try TestProcess.run("swiftc", ["-g", "-Onone", "-o", program, ExamplePrograms.source("swift/allocations.swift")])
        try #require(build.status == 0, "\(build.stderr)")
        let run = try recordBoth(program, [])
        #expect(run.recorded.stdout == "sum 12497500, buffers 200\n")
        let s = try summary(run.traces[0])
        let sites = s["topByAllocations"] as? [[String: Any]] ?? []
        let functions = sites.compactMap { ($0["location"] as? [[String: Any]])?.first?["function"] as? String }
        // Swift runtime frames are skipped: the site is the initializer, demangled.
        #expect(functions.contains { $0.contains("Node.__allocating_init(value: Swift.Int") })
        let top = try #require(sites.first)
        #expect((top["allocations"] as? Int ?? 0) >= 5000)
    }

    @Test func recorderLoadsNoSwiftRuntimeOrLibstdcxx() throws {
        let run = try recordBoth("/bin/cat", ["/proc/self/maps"])
        #expect(run.recorded.stdout.contains("libmematlas-recorder"))
        #expect(!run.recorded.stdout.contains("libswiftCore"))
        #expect(!run.recorded.stdout.contains("libstdc++"))
        #expect(!run.recorded.stdout.contains("libFoundation"))
    }

    @Test func staticBinaryGetsAClearError() throws {
        let program = try ExamplePrograms.build("c/exact_counts.c", extraFlags: ["-static"])
        let result = try TestProcess.run(Tracing.mematlasBinary, ["record", "-o", Tracing.scratchDirectory() + "/t", "--", program])
        #expect(result.status != 0)
        #expect(result.stderr.contains("statically linked"))
    }

    @Test func missingProgramGetsAClearError() throws {
        let result = try TestProcess.run(Tracing.mematlasBinary, ["record", "-o", Tracing.scratchDirectory() + "/t", "--", "no-such-program-xyz"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("no-such-program-xyz: command not found"))
    }

    @Test func existingTraceIsNotOverwritten() throws {
        let dir = Tracing.scratchDirectory()
        FileManager.default.createFile(atPath: dir + "/t", contents: Data("keep".utf8))
        let result = try TestProcess.run(Tracing.mematlasBinary, ["record", "-o", dir + "/t", "--", "/bin/true"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("exists"))
        #expect(try String(contentsOfFile: dir + "/t", encoding: .utf8) == "keep")
        let forced = try TestProcess.run(Tracing.mematlasBinary, ["record", "--force", "-o", dir + "/t", "--", "/bin/true"])
        #expect(forced.status == 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/t")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func runWithoutProgramSummarizesTheBundledExample() throws {
        let dir = Tracing.scratchDirectory()
        let result = try TestProcess.run(Tracing.mematlasBinary, ["run", "--json"], currentDirectory: dir)
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(result.stdout.firstIndex(of: "{").map { String(result.stdout[$0...]) })
        let s = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(s["leakedBlocks"] as? Int == 26)  // 25 calloc'd blocks + stdout's buffer
        #expect((s["calls"] as? [String: Int])?["calloc"] == 25)
        #expect((s["calls"] as? [String: Int])?["realloc"] == 16)
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
