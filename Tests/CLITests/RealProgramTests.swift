import Foundation
import Recording
import TestSupport
import Testing
import TraceIO
import TraceModel

/// Runs `mematlas record` (the built binary) on real programs: each must behave exactly as without
/// the recorder, and its traces must be consistent.
@Suite struct RealProgramTests {
    struct Run {
        var plain: TestProcess.Result
        var recorded: TestProcess.Result
        var traces: [String]
    }

    /// Runs the program plainly and under `mematlas record`, in the same folder and environment;
    /// with `timeout`, both runs are killed after that many seconds (a hang fails the test, not the suite).
    func recordBoth(_ program: String, _ arguments: [String], in directory: String? = nil, stdin: String? = nil, timeout: Int? = nil) throws -> Run {
        let scratch = Tracing.scratchDirectory(program)
        let cwd = directory ?? scratch
        let limit = timeout.map { ["/usr/bin/timeout", "-s", "KILL", String($0)] } ?? []
        func start(_ command: [String]) throws -> TestProcess.Result {
            let words = limit + command
            return try TestProcess.run(words[0], Array(words.dropFirst()), currentDirectory: cwd, stdin: stdin)
        }
        let plain = try start([program] + arguments)
        let output = scratch + "/trace"
        let recorded = try start([Tracing.mematlasBinary, "record", "-o", output, "--", program] + arguments)
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch).filter { $0.hasPrefix("trace") }.sorted()
        return Run(plain: plain, recorded: recorded, traces: names.map { scratch + "/" + $0 })
    }

    /// The summary of a trace as JSON, with `top` call sites per ranking.
    func summary(_ trace: String, top: Int = 5) throws -> [String: Any] {
        let result = try TestProcess.run(Tracing.mematlasBinary, ["summary", "--json", "--top", String(top), trace])
        #expect(result.status == 0, "summary failed: \(result.stderr)")
        return try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    /// The sum of a figure over the call sites of one ranking whose innermost location is `function`.
    func siteFigure(_ s: [String: Any], _ ranking: String = "topByAllocations", function: String, _ key: String = "allocations") -> Int {
        let sites = s[ranking] as? [[String: Any]] ?? []
        return sites.filter { (($0["location"] as? [[String: Any]])?.first?["function"] as? String) == function }
            .reduce(0) { $0 + ($1[key] as? Int ?? 0) }
    }

    /// The module of the first call site of a ranking whose innermost location is `function`.
    func siteModule(_ s: [String: Any], function: String) -> String? {
        let sites = s["topByAllocations"] as? [[String: Any]] ?? []
        let frames = sites.compactMap { ($0["location"] as? [[String: Any]])?.first }
        return frames.first { $0["function"] as? String == function }?["module"] as? String
    }

    /// A trace read to its end (events discarded), for its metadata.
    func readMetadata(_ trace: String) throws -> TraceReader {
        struct Discard: TraceVisitor { mutating func visit(_ event: TraceEvent) {} }
        let reader = try TraceReader(path: trace)
        var discard = Discard()
        try reader.read(into: &discard)
        return reader
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

    @Test func nonPIEExecutableIsNotTakenForOneWithItsOwnMalloc() throws {
        // Debian's python3.11 is not position-independent and takes malloc's address: its dynamic
        // symbol table holds malloc undefined, valued at its PLT stub, which is what dlsym returns.
        let python = "/usr/bin/python3.11"
        try #require(FileManager.default.isExecutableFile(atPath: python))
        let run = try recordBoth(python, ["-c", "print(sum(range(10)))"])
        #expect(run.recorded.stdout == "45\n")
        #expect(run.recorded.status == 0)
        let s = try summary(run.traces[0])
        #expect(s["programHasOwnMalloc"] as? Bool == false)
        #expect((s["allocations"] as? Int ?? 0) > 1_000)
    }

    @Test func blocksAtAddressesOfTheRecordersOwnFreedBlocksAreMatched() throws {
        // The recorder's own blocks (libunwind's, dlopen's) freed or moved while its guard was
        // set used to stay in its set of internal blocks: a program block given such an address
        // later had its free dropped, and showed as a leak (Python's thread locks did, 2 of 41).
        let python = "/usr/bin/python3.11"
        try #require(FileManager.default.isExecutableFile(atPath: python))
        let script = """
            import threading
            def work(n): return len({str(i): [i] * (i % 7) for i in range(n)})
            threads = [threading.Thread(target=work, args=(5000,)) for _ in range(4)]
            for t in threads: t.start()
            for t in threads: t.join()
            print("joined")
            """
        let run = try recordBoth(python, ["-c", script])
        #expect(run.recorded.stdout == "joined\n")
        let s = try summary(run.traces[0], top: 10_000)
        #expect(siteFigure(s, function: "PyThread_allocate_lock") > 0)
        #expect(siteFigure(s, function: "PyThread_allocate_lock", "leakedBlocks") == 0)
        #expect(s["unmatchedFrees"] as? Int == 0)
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
        // Every process's trace, the children's written by the recorder alone, is private (0600)
        // and compressed: the started program's by `record` (on another core), the others' by the
        // recorder in each process.
        for trace in run.traces {
            let attributes = try FileManager.default.attributesOfItem(atPath: trace)
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(trace)")
            #expect(try Tracing.isCompressed(trace), "\(trace)")
        }
        let parent = try summary(run.traces[0])
        #expect((parent["calls"] as? [String: Int])?["malloc"] == 111)  // 100 + 10 + stdout's buffer
    }

    @Test func forkingWhileThreadsAllocateTracesEveryProcess() throws {
        let program = try ExamplePrograms.build("c/fork_storm.c")
        let run = try recordBoth(program, [], timeout: 120)
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

    /// A child forked while another thread is inside libunwind inherits libunwind's locks as they
    /// were (a CI run hung in such a child's first unwind): the recorder counts the threads inside
    /// libunwind, and a child forked while any was walks frame pointers instead (its trace says
    /// so). The threads here unwind almost all the time (every stack is new), so some children of
    /// the 100 are forked in that window.
    @Test func childrenForkedWhileThreadsUnwindCompleteAndSayHowTheyUnwound() throws {
        let program = try ExamplePrograms.build("c/fork_while_unwinding.c")
        let run = try recordBoth(program, [], timeout: 120)
        #expect(run.recorded.status == 0)
        #expect(run.recorded.stdout == "100 children exited normally\n")
        #expect(run.traces.count == 101)
        var unwinders: [String: Int] = [:]
        for trace in run.traces.dropFirst() {
            let s = try summary(trace)
            #expect((s["calls"] as? [String: Int])?["malloc"] == 10)
            #expect(s["end"] as? String == "_exit")
            unwinders[s["unwinder"] as? String ?? "?", default: 0] += 1
        }
        #expect(Set(unwinders.keys).isSubset(of: ["libunwind", "fp"]), "\(unwinders)")
        #expect(unwinders["fp", default: 0] > 0, "no child was forked while a thread was inside libunwind: \(unwinders)")
        #expect(try summary(run.traces[0])["unwinder"] as? String == "libunwind")
    }

    @Test func oddCallsBehaveTheSameAndFailuresAreCounted() throws {
        let program = try ExamplePrograms.build("c/odd_calls.c")
        let run = try recordBoth(program, [])
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.stdout.contains("posix_memalign(alignment 3): Invalid argument"))
        #expect(run.recorded.stdout.contains("malloc(SIZE_MAX - 4096): NULL errno=Cannot allocate memory"))
        #expect(run.recorded.stdout.contains("freed by another thread: ok"))
        #expect(run.recorded.status == 0)
        let s = try summary(run.traces[0], top: 100)
        let failed = s["failedCalls"] as? [String: Int] ?? [:]
        #expect(failed == ["malloc": 1, "calloc": 1, "realloc": 1, "posix_memalign": 1])
        #expect(s["unmatchedFrees"] as? Int == 0)
        // Between the two marker allocations the trace holds exactly the example's odd calls, in
        // order (addresses named by first appearance, threads as main/other, stacks dropped).
        let dump = try TestProcess.run(Tracing.mematlasBinary, ["dump", run.traces[0]]).stdout.split(separator: "\n")
        let first = try #require(dump.firstIndex { $0.contains(" malloc 4242 -> ") })
        let last = try #require(dump.firstIndex { $0.contains(" malloc 4343 -> ") })
        var names: [String: String] = ["0x0": "NULL"]
        let mainThread = dump[first].split(separator: " ")[1]
        let section = dump[(first + 1)..<last].map { line -> String in
            var words = line.split(separator: " ").map(String.init)
            if let stack = words.firstIndex(of: "stack") { words.removeSubrange(stack...) }
            let thread = words[1] == mainThread ? "main" : "other"
            let fields = words.dropFirst(2).map { word -> String in
                guard word.hasPrefix("0x") else { return word }
                if let name = names[word] { return name }
                let name = "A\(names.count)"
                names[word] = name
                return name
            }
            return ([thread] + fields).joined(separator: " ")
        }
        #expect(section == [
            "main malloc 33 -> A1",  // from the SIGUSR1 handler
            "main free A1",
            "main free NULL",
            "main realloc NULL 40 -> A1",  // realloc(NULL, 40), given the address just freed
            "main realloc A1 0 -> NULL",  // realloc(p, 0) frees p
            "main free NULL",
            "main malloc 18446744073709547519 -> NULL",  // SIZE_MAX - 4096: ENOMEM
            "main calloc 18446744073709551615 -> NULL",  // SIZE_MAX / 2 x 4 overflows: recorded as SIZE_MAX
            "main malloc 16 -> A2",
            "main realloc A2 18446744073709547519 -> NULL",  // fails: A2 stays live
            "main free A2",
            "main posix_memalign 64 align 3 -> NULL",  // EINVAL
            "main aligned_alloc 64 align 3 -> A3",
            "main free A3",
            "main malloc 24 -> A2",
            "other free A2",  // freed by the other thread
        ])
        // The constructor's malloc (before main) and the signal handler's are call sites of their own.
        #expect(siteFigure(s, function: "before_main") == 1)
        #expect(siteFigure(s, function: "on_signal") == 1)
    }

    @Test func underscoreExitLeavesACompleteTrace() throws {
        let program = try ExamplePrograms.build("c/exit_paths.c")
        let run = try recordBoth(program, ["_exit"])
        #expect(run.plain.status == 3)
        #expect(run.recorded.status == 3)
        #expect(run.recorded.stdout == "calling _exit(3)\n")
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.traces.count == 1)
        let s = try summary(run.traces[0])
        #expect(s["end"] as? String == "_exit")
        #expect(s["complete"] as? Bool == true)
        #expect(s["events"] as? Int == 14)  // malloc 10, free 4: nothing else (no stdio)
        #expect((s["calls"] as? [String: Int])?["malloc"] == 10)
        #expect((s["calls"] as? [String: Int])?["free"] == 4)
        #expect(s["leakedBlocks"] as? Int == 6)
        #expect(s["leakedBytes"] as? Int == 104 + 105 + 106 + 107 + 108 + 109)
    }

    @Test func abortIsReportedAsSIGABRTWithItsEvents() throws {
        let program = try ExamplePrograms.build("c/exit_paths.c")
        let run = try recordBoth(program, ["abort"])
        // mematlas ends by the same signal: its parent sees what it would see without it.
        #expect(run.plain.signal == SIGABRT)
        #expect(run.recorded.signal == SIGABRT)
        #expect(run.recorded.status == 128 + SIGABRT)
        #expect(run.recorded.stdout == "calling abort()\n")
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.stderr.contains("killed by signal 6"))
        #expect(run.traces.count == 1)
        let s = try summary(run.traces[0])
        #expect(s["end"] as? String == "abort")
        #expect(s["complete"] as? Bool == true)
        #expect(s["events"] as? Int == 14)
        #expect((s["calls"] as? [String: Int])?["malloc"] == 10)
        #expect((s["calls"] as? [String: Int])?["free"] == 4)
        #expect(s["leakedBlocks"] as? Int == 6)
    }

    @Test func crashHandlerThatExitsInsideReallocFinishesTheTrace() throws {
        // glibc aborts inside realloc (an invalid pointer) while the realloc hook holds the writer
        // lock; the program's SIGABRT handler calls exit(9), which runs the recorder's destructor.
        // It used to wait for that lock forever.
        let program = try ExamplePrograms.build("c/exit_paths.c")
        let run = try recordBoth(program, ["crash"], timeout: 60)
        #expect(run.plain.status == 9)
        #expect(run.recorded.status == 9)
        #expect(run.recorded.stdout == "realloc of an invalid pointer\nSIGABRT handler: exit(9)\n")
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.stderr.hasPrefix(run.plain.stderr))
        #expect(run.plain.stderr == "realloc(): invalid pointer\n")
        let s = try summary(run.traces[0])
        #expect(s["end"] as? String == "exit")
        #expect(s["complete"] as? Bool == true)
        // malloc 10 + the 64-byte block, free 4; the realloc that never returned is not an event.
        #expect((s["calls"] as? [String: Int])?["malloc"] == 11)
        #expect((s["calls"] as? [String: Int])?["free"] == 4)
        #expect((s["calls"] as? [String: Int])?["realloc"] == 0)
        #expect(s["leakedBlocks"] as? Int == 7)
    }

    @Test func dlopenedLibraryIsMappedWhileLoadedAndStillSymbolizedAfterDlclose() throws {
        let library = try ExamplePrograms.build("c/dl_library.c", extraFlags: ["-shared", "-fPIC"])
        let program = try ExamplePrograms.build("c/dl_host.c")
        let run = try recordBoth(program, [library])
        #expect(run.recorded.stdout == "dlclose ok\ndone\n")
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.status == 0)
        #expect(run.traces.count == 1)
        try expectConsistent(run.traces[0])
        // The library is gone when the summary is made: its stacks resolve through the module map
        // that was in effect when they were captured.
        let s = try summary(run.traces[0], top: 100)
        #expect(siteFigure(s, function: "dl_library_make") == 20)
        #expect(siteModule(s, function: "dl_library_make") == library)
        #expect(siteFigure(s, function: "dl_library_loaded") == 3)  // its constructor, run inside dlopen
        #expect(siteFigure(s, function: "after_dlclose") == 5)
        #expect(siteModule(s, function: "after_dlclose") == program)
        #expect(siteFigure(s, "topByLeaks", function: "dl_library_make", "leakedBlocks") == 10)
        #expect(siteFigure(s, "topByLeaks", function: "after_dlclose", "leakedBlocks") == 2)
        #expect(siteFigure(s, "topByLeaks", function: "dl_library_loaded", "leakedBlocks") == 0)  // freed at dlclose
        // Module maps: not at start, present once loaded, gone after dlclose (200 ms = 20 ticks later).
        let maps = try readMetadata(run.traces[0]).moduleMaps.map { $0.modules.map(\.path) }
        #expect(maps.count >= 3)
        #expect(maps.first?.contains(library) == false)
        #expect(maps.contains { $0.contains(library) })
        #expect(maps.last?.contains(library) == false)
        #expect(maps.last?.contains(program) == true)
    }

    @Test func framesOutsideEveryModuleDoNotRepeatTheModuleMap() throws {
        // 200 new stacks through generated code (as a JIT's): the loader's list did not change, so
        // the trace holds no module map beyond the first (it used to get one per such stack).
        let program = try ExamplePrograms.build("c/jit_frames.c")
        for unwind in ["libunwind", "fp"] {
            let trace = Tracing.scratchDirectory() + "/trace"
            let run = try TestProcess.run(Tracing.mematlasBinary, ["record", "--unwind", unwind, "-o", trace, "--", program])
            #expect(run.status == 0)
            #expect(run.stdout == "200 allocations through generated code\n")
            let reader = try readMetadata(trace)
            #expect(reader.moduleMaps.count == 1, "\(unwind): \(reader.moduleMaps.count) module maps")
            let calls = try summary(trace)["calls"] as? [String: Int]
            #expect(calls?["malloc"] == 201)  // and stdout's buffer
            #expect(calls?["free"] == 200)
        }
    }

    @Test func threadsThatAskForTheirStackBeforeAllocatingDoNotHang() throws {
        // glibc's pthread_getattr_np holds the thread's lock across a realloc; the recorder's first
        // stack capture on that thread asked pthread_getattr_np again and waited forever.
        let program = try ExamplePrograms.build("c/thread_stack_query.c")
        let run = try recordBoth(program, [], timeout: 60)
        #expect(run.recorded.stdout == "4 threads knew their stack size\n")
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.status == 0)
        try expectConsistent(run.traces[0])
        let s = try summary(run.traces[0], top: 20)
        #expect(s["threads"] as? Int == 5)
        #expect(siteFigure(s, function: "worker") == 40)
        #expect(s["unmatchedFrees"] as? Int == 0)
    }

    @Test func programWithItsOwnMallocIsNotDeadlocked() throws {
        // rustc's jemalloc maps its arena holding its lock, called from a library constructor before
        // the recorder started; starting the recorder there called dlopen, whose malloc is that
        // allocator: it waited on its own lock forever.
        let library = try ExamplePrograms.build("c/own_malloc_library.c", extraFlags: ["-shared", "-fPIC"])
        let directory = (library as NSString).deletingLastPathComponent
        let program = try ExamplePrograms.build("c/own_malloc.c", extraFlags: [library, "-Wl,-rpath," + directory])
        let run = try recordBoth(program, [], timeout: 60)
        #expect(run.plain.stdout == "greeting from a library constructor; own malloc served the library and main\n")
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.status == 0)
        #expect(run.traces.count == 1)
        let s = try summary(run.traces[0])
        #expect(s["programHasOwnMalloc"] as? Bool == true)
        #expect(s["complete"] as? Bool == true)
        // The heap calls went to the program's allocator; main's mappings were recorded exactly (the
        // arena was mapped before the recorder started).
        let calls = s["calls"] as? [String: Int] ?? [:]
        #expect(calls["malloc"] == 0)
        #expect(calls["mmap"] == 3)
        #expect(calls["munmap"] == 3)
        #expect(s["peakMappedBytes"] as? Int == 3 * 65536)
        #expect(run.recorded.stderr.contains("heap calls not seen: the program brings its own malloc"))
        let html = run.traces[0] + ".html"
        #expect(try TestProcess.run(Tracing.mematlasBinary, ["report", "-o", html, run.traces[0]]).status == 0)
        #expect(try String(contentsOfFile: html, encoding: .utf8).contains("heap calls not seen: the program brings its own malloc"))
        // An ordinary program is not flagged.
        let plain = try recordBoth(try ExamplePrograms.build("c/exact_counts.c"), [])
        #expect(try summary(plain.traces[0])["programHasOwnMalloc"] as? Bool == false)
        #expect(!plain.recorded.stderr.contains("heap calls not seen"))
    }

    @Test func rustProgramWithThreads() throws {
        // Rust's std calls pthread_getattr_np at every thread start (the case above, for real).
        guard let rustc = Recorder.resolve("rustc") else { return }  // no Rust toolchain here: nothing to run
        let dir = Tracing.scratchDirectory()
        try """
            use std::thread;
            fn main() {
                let handles: Vec<_> = (0..4u64).map(|i| thread::spawn(move || {
                    let v: Vec<u64> = (0..1000).map(|x| x * i).collect();
                    v.iter().sum::<u64>()
                })).collect();
                let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
                println!("total {}", total);
            }
            """.write(toFile: dir + "/threads.rs", atomically: true, encoding: .utf8)
        let build = try TestProcess.run(rustc, ["-O", "-g", "-o", dir + "/threads", dir + "/threads.rs"])
        try #require(build.status == 0, "\(build.stderr)")
        let run = try recordBoth(dir + "/threads", [], timeout: 60)
        #expect(run.recorded.stdout == "total 2997000\n")  // (0 + 1 + 2 + 3) x (0 + ... + 999)
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.status == 0)
        try expectConsistent(run.traces[0])
        let s = try summary(run.traces[0])
        #expect(s["threads"] as? Int == 5)
    }

    @Test func sqliteInsertsBehaveTheSame() throws {
        guard let sqlite = Recorder.resolve("sqlite3") else {
            Issue.record("sqlite3 is not installed (Debian package sqlite3; .ci/run installs it)")
            return
        }
        var script = "DROP TABLE IF EXISTS t;\nCREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, value REAL);\nBEGIN;\n"
        for i in 1...3000 { script += "INSERT INTO t(name, value) VALUES ('row \(i)', \(i) * 0.5);\n" }
        script += "COMMIT;\nSELECT count(*), sum(id), sum(value) FROM t;\nSELECT name FROM t WHERE id % 1000 = 0;\n"
        // Both runs use one database file: the script starts from an empty table each time.
        let run = try recordBoth(sqlite, ["test.db"], stdin: script)
        #expect(run.plain.stdout == "3000|4501500|2250750.0\nrow 1000\nrow 2000\nrow 3000\n")
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.stderr.hasPrefix(run.plain.stderr))
        #expect(run.plain.status == 0)
        #expect(run.recorded.status == 0)
        #expect(run.traces.count == 1)
        try expectConsistent(run.traces[0])
        let s = try summary(run.traces[0])
        #expect(s["end"] as? String == "exit")
        #expect(s["unmatchedFrees"] as? Int == 0)
        // Every INSERT is prepared into a statement object of its own (sqlite3_prepare allocates it).
        #expect(((s["calls"] as? [String: Int])?["malloc"] ?? 0) >= 3000)
    }

    @Test func gccTracesEveryProcessItStarts() throws {
        let dir = Tracing.scratchDirectory()
        try "#include <stdio.h>\nint main(void) { puts(\"hello from gcc\"); return 0; }\n"
            .write(toFile: dir + "/hello.c", atomically: true, encoding: .utf8)
        let gcc = try #require(Recorder.resolve("gcc"))
        let run = try recordBoth(gcc, ["-O1", "-o", "hello", "hello.c"], in: dir)
        #expect(run.plain.status == 0)
        #expect(run.recorded.status == 0)
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.stderr.hasPrefix(run.plain.stderr))
        // The executable built under the recorder runs.
        #expect(try TestProcess.run(dir + "/hello", []).stdout == "hello from gcc\n")

        // The processes gcc starts, counted without the recorder: `gcc -###` prints each command the
        // driver runs (cc1, as, collect2: one line each, starting with a space), and collect2 runs
        // the linker once (no LTO objects, so no lto-wrapper). Driver + those 3 + ld = 5 processes.
        let plan = try TestProcess.run(gcc, ["-###", "-O1", "-o", "hello", "hello.c"], currentDirectory: dir).stderr
        let commands = plan.split(separator: "\n").filter { $0.hasPrefix(" ") && !$0.hasPrefix("  ") }
            .map { String($0.dropFirst().split(separator: " ")[0]).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        #expect(commands.count == 3)
        func real(_ program: String) -> String {
            URL(fileURLWithPath: Recorder.resolve(program) ?? program).resolvingSymlinksInPath().path
        }
        let expected = ([gcc] + commands + ["ld"]).map(real)
        #expect(run.traces.count == expected.count)
        var executables: [String] = []
        var parents: [String: UInt32] = [:], pids: [String: UInt32] = [:]
        for trace in run.traces {
            try expectConsistent(trace)
            let s = try summary(trace)
            #expect(s["end"] as? String == "exit", "\(trace)")
            let reader = try readMetadata(trace)
            let process = try #require(reader.process)
            executables.append(process.executable)
            pids[process.executable] = process.pid
            parents[process.executable] = process.parentPID
            // gcc and collect2 start their children with vfork + execvp: the child's exec, run in the
            // parent's memory, must not end the parent's trace.
            #expect(reader.execPath == nil, "\(trace) has an exec record of \(reader.execPath ?? "")")
        }
        #expect(executables.sorted() == expected.sorted())
        // The process tree: cc1, as and collect2 are the driver's children; ld is collect2's.
        let driver = real(gcc), collect2 = real(commands[2]), linker = real("ld")
        for child in expected where child != driver {
            #expect(parents[child] == pids[child == linker ? collect2 : driver], "\(child)")
        }
    }

    @Test func symlinkAtTheOutputPathIsNotFollowed() throws {
        let dir = Tracing.scratchDirectory()
        let victim = dir + "/victim"
        try "precious\n".write(toFile: victim, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/t", withDestinationPath: victim)
        let result = try TestProcess.run(Tracing.mematlasBinary, ["record", "-o", dir + "/t", "--", "/bin/true"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(dir)/t is a symbolic link (to \(victim))"))
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/t") == victim)
        // A dangling link: the file it names must not be created.
        let absent = dir + "/absent"
        try FileManager.default.createSymbolicLink(atPath: dir + "/u", withDestinationPath: absent)
        let dangling = try TestProcess.run(Tracing.mematlasBinary, ["record", "-o", dir + "/u", "--", "/bin/true"])
        #expect(dangling.status == 1)
        #expect(dangling.stderr.contains("is a symbolic link"))
        #expect(!FileManager.default.fileExists(atPath: absent))
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
