import Foundation
import Recording
import TestSupport
import Testing

extension RealProgramTests {
    @Test func singleThreadedProgramStaysSingleThreaded() throws {
        // The recorder starts no thread of its own in a single-threaded program: a process with two
        // threads cannot unshare(CLONE_NEWUSER), and Chromium's zygote stops when it counts more.
        let dir = Tracing.scratchDirectory()
        try """
            #include <dirent.h>
            #include <stdio.h>
            #include <stdlib.h>
            static void *volatile sink;
            int main(void) {
                for (int i = 0; i < 100000; i++) {  /* long enough for several samples */
                    sink = malloc(64);
                    free(sink);
                }
                int threads = 0;
                DIR *tasks = opendir("/proc/self/task");
                for (struct dirent *e; (e = readdir(tasks));) threads += e->d_name[0] != '.';
                closedir(tasks);
                printf("%d thread\\n", threads);
                return 0;
            }
            """.write(toFile: dir + "/count_threads.c", atomically: true, encoding: .utf8)
        let build = try TestProcess.run("cc", ["-O1", "-o", dir + "/count_threads", dir + "/count_threads.c"])
        try #require(build.status == 0, "\(build.stderr)")
        let run = try recordBoth(dir + "/count_threads", [])
        #expect(run.plain.stdout == "1 thread\n")
        #expect(run.recorded.stdout == "1 thread\n")
        let s = try summary(run.traces[0])
        #expect((s["calls"] as? [String: Int])?["malloc"] ?? 0 >= 100_000)
        #expect(s["complete"] as? Bool == true)
        // Samples still come (from the program's own calls): time and RSS move.
        #expect(s["peakResidentBytes"] as? Int ?? 0 > 0)
        // --writer-thread trades that for speed: the program sees the recorder's thread.
        let trace = Tracing.scratchDirectory() + "/t"
        let fast = try TestProcess.run(Tracing.mematlasBinary, ["record", "--writer-thread", "-o", trace, "--", dir + "/count_threads"])
        #expect(fast.stdout == "2 thread\n")
        #expect(try summary(trace)["complete"] as? Bool == true)
    }

    @Test func unshareIntoAUserNamespaceWorks() throws {
        guard let unshare = Recorder.resolve("unshare") else { return }  // util-linux is not installed
        let run = try recordBoth(unshare, ["-r", "id", "-u"])
        guard run.plain.status == 0 else { return }  // user namespaces are not allowed here
        #expect(run.plain.stdout == "0\n")
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.status == 0)
        #expect(run.recorded.stderr == run.plain.stderr + "mematlas: wrote 2 traces: \(run.traces[0]) and 1 more (\((run.traces[1] as NSString).lastPathComponent))\n")
    }

    @Test func crashLeavesEveryEventBeforeIt() throws {
        // A single-threaded program that dies of SIGSEGV right after its allocations: the records it
        // had not written yet are in TRACE.pending, which `record` appends to the trace.
        let program = try ExamplePrograms.build("c/exit_paths.c")
        let run = try recordBoth(program, ["segv"])
        #expect(run.plain.status == 128 + SIGSEGV)
        #expect(run.recorded.status == run.plain.status)
        #expect(run.recorded.stdout == "writing through a null pointer\n")
        #expect(run.traces.count == 1)
        let s = try summary(run.traces[0])
        #expect(s["events"] as? Int == 14)  // malloc 10, free 4: nothing else (no stdio)
        #expect((s["calls"] as? [String: Int])?["malloc"] == 10)
        #expect((s["calls"] as? [String: Int])?["free"] == 4)
        #expect(s["leakedBlocks"] as? Int == 6)
        #expect(s["complete"] as? Bool == false)  // no exit record: it was killed
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (run.traces[0] as NSString).deletingLastPathComponent)
        #expect(!leftovers.contains { $0.hasSuffix(".pending") || $0.hasSuffix(".compressing") })
        // The program wrote its trace uncompressed; `record` compressed it, pending records included.
        #expect(try Tracing.isCompressed(run.traces[0]))
    }

    @Test func aChildsCrashLeavesEveryEventBeforeIt() throws {
        // The same crash in a child of the started process: `record` codes the child's trace too,
        // and appends its pending records when the child has ended, before it codes the trace's end.
        let program = try ExamplePrograms.build("c/exit_paths.c")
        let run = try recordBoth("/bin/sh", ["-c", "\(program) segv; echo after $?"])
        #expect(run.plain.status == 0)
        #expect(run.recorded.status == 0)
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.stdout.hasSuffix("after \(128 + SIGSEGV)\n"))
        let crashed = try run.traces.map { ($0, try summary($0)) }.filter { ($0.1["executable"] as? String) == program }
        try #require(crashed.count == 1)
        let s = crashed[0].1
        #expect(s["events"] as? Int == 14)
        #expect((s["calls"] as? [String: Int])?["malloc"] == 10)
        #expect(s["leakedBlocks"] as? Int == 6)
        #expect(s["complete"] as? Bool == false)
        for trace in run.traces { #expect(try Tracing.isCompressed(trace), "\(trace)") }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (run.traces[0] as NSString).deletingLastPathComponent)
        #expect(!leftovers.contains { $0.hasSuffix(".pending") || $0.hasSuffix(".compressing") })
    }

    @Test func terminatingRecordTerminatesTheProgramAndKeepsItsTrace() throws {
        // SIGTERM aimed at `mematlas record` (kill, timeout) reaches the program, and the trace is
        // still complete up to the signal and compressed, with nothing left beside it.
        let program = try ExamplePrograms.build("c/killed.c")
        let directory = Tracing.scratchDirectory()
        let process = Process()
        // Through python3, to start `record` with no signal blocked, as a shell does (the test
        // runner's threads block SIGTERM, and a child inherits that).
        process.executableURL = URL(fileURLWithPath: try #require(Recorder.resolve("python3")))
        process.arguments = ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
                             Tracing.mematlasBinary, "record", "-o", directory + "/t", "--", program]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        TestProcess.read(out, until: "allocated")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        // `record` ends the way the program did: by SIGTERM.
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGTERM)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["t"])
        #expect(try Tracing.isCompressed(directory + "/t"))
        let s = try summary(directory + "/t")
        #expect((s["calls"] as? [String: Int])?["malloc"] == 1001)  // and stdout's buffer
        #expect(s["complete"] as? Bool == false)
    }
}
