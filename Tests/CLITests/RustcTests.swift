import Foundation
import Recording
import TestSupport
import Testing

extension RealProgramTests {
    @Test func rustcWithItsOwnJemallocAndZstdIsRecorded() throws {
        // rustc links jemalloc into its executable (its malloc is not the recorder's) and exports a
        // zstd of its own from its driver library, which the system libzstd's internal calls bind to:
        // the recorder used to hang at start, then to lose the whole trace at its first compression.
        guard let rustc = Recorder.resolve("rustc") else { return }  // no Rust toolchain here: nothing to run
        let run = try recordBoth(rustc, ["--version"], timeout: 120)
        guard run.plain.status == 0 else { return }  // a rustup proxy without an installed toolchain
        #expect(run.recorded.status == 0)
        #expect(run.recorded.stdout == run.plain.stdout)
        #expect(run.recorded.stdout.hasPrefix("rustc "))
        // rustup's proxy execs the real rustc: each process has a complete trace; the real one is
        // flagged, as no heap call reached the recorder.
        #expect(!run.traces.isEmpty)
        var flagged = 0
        for trace in run.traces {
            let s = try summary(trace)
            #expect(s["complete"] as? Bool == true, "\(trace): \(s["truncation"] ?? "")")
            if s["programHasOwnMalloc"] as? Bool == true {
                flagged += 1
                #expect((s["calls"] as? [String: Int])?["malloc"] == 0)
                #expect((s["calls"] as? [String: Int])?["mmap"] ?? 0 > 0)
            }
        }
        // rustup's toolchains link jemalloc into rustc; a distribution's rustc may use glibc's malloc.
        let rustupToolchain = try run.traces.contains { try (summary($0)["executable"] as? String)?.contains("/.rustup/toolchains/") == true }
        #expect(rustupToolchain ? flagged == 1 : flagged <= 1)
    }

    @Test func nonPIEProgramThatTakesMallocsAddressIsNotFlagged() throws {
        // A non-PIE executable that takes malloc's address makes its PLT entry the address dlsym
        // returns for malloc (node is one): that alone must not say the program has its own malloc.
        let dir = Tracing.scratchDirectory()
        try """
            #include <stdio.h>
            #include <stdlib.h>
            void *(*volatile allocate)(size_t);
            int main(void) {
                allocate = malloc;  /* an absolute address in non-PIE code: a canonical PLT entry */
                for (int i = 0; i < 5; i++) free(allocate(100));
                puts("5 blocks through a pointer to malloc");
                return 0;
            }
            """.write(toFile: dir + "/pointer_to_malloc.c", atomically: true, encoding: .utf8)
        let build = try TestProcess.run("cc", ["-O1", "-fno-pie", "-no-pie", "-o", dir + "/pointer_to_malloc", dir + "/pointer_to_malloc.c"])
        try #require(build.status == 0, "\(build.stderr)")
        let run = try recordBoth(dir + "/pointer_to_malloc", [])
        #expect(run.recorded.stdout == "5 blocks through a pointer to malloc\n")
        let s = try summary(run.traces[0])
        #expect(s["programHasOwnMalloc"] as? Bool == false)
        #expect(!run.recorded.stderr.contains("heap calls not seen"))
    }
}
