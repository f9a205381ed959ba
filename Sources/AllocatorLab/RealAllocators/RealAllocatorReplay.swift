import Foundation

/// A real allocator the replay driver can run under.
public struct RealAllocator: Sendable, Equatable {
    /// The allocator's name (`glibc`, `jemalloc`, `mimalloc`).
    public var name: String
    /// The shared object to `LD_PRELOAD`, nil for the C library's own malloc.
    public var preload: String?

    /// glibc malloc (always present), then jemalloc and mimalloc when their Debian packages
    /// (libjemalloc2, libmimalloc2.0) are installed.
    public static func available() -> [RealAllocator] {
        var result = [RealAllocator(name: "glibc", preload: nil)]
        let candidates = [("jemalloc", "libjemalloc.so.2"), ("mimalloc", "libmimalloc.so.2")]
        for (name, file) in candidates {
            for directory in ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"] {
                let path = directory + "/" + file
                if FileManager.default.fileExists(atPath: path) {
                    result.append(RealAllocator(name: name, preload: path))
                    break
                }
            }
        }
        return result
    }
}

/// What one real allocator did with a replayed workload.
public struct RealReplayResult: Sendable, Codable, Equatable {
    /// The allocator's name.
    public var allocator: String
    /// The driver's peak resident set size (`VmHWM`) in bytes.
    public var peakResidentBytes: UInt64
    /// The driver's resident set size just before the first operation, in bytes.
    public var baselineResidentBytes: UInt64
    /// Requests that returned NULL.
    public var failedRequests: UInt64
    /// Wall time of the replay in seconds.
    public var seconds: Double
    /// Peak RSS growth caused by the workload: peak minus baseline, in bytes.
    public var heapResidentBytes: UInt64 { peakResidentBytes &- min(peakResidentBytes, baselineResidentBytes) }
}

/// A failure to build or run the replay driver.
public struct RealReplayError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public var message: String
    public var description: String { message }
}

/// Replays an operation log against real allocators in a child process: a small C driver, compiled
/// with the system C compiler at first use, reads a compact operation file, performs each malloc,
/// realloc and free, writes every byte of each block (so its pages are really resident), and
/// reports `VmHWM` from `/proc/self/status`.
public enum RealAllocatorReplay {
    /// Writes `log` in the driver's format: "MAOPS1\n", the slot count (u64), then 13-byte records
    /// (kind u8, slot u32, bytes u64; little-endian).
    public static func writeOperationFile(_ log: OperationLog, to path: String) throws {
        var data = Data("MAOPS1\n".utf8)
        withUnsafeBytes(of: UInt64(log.slotCount).littleEndian) { data.append(contentsOf: $0) }
        data.reserveCapacity(data.count + log.operations.count * 13)
        for op in log.operations {
            data.append(op.kind.rawValue)
            withUnsafeBytes(of: op.slot.littleEndian) { data.append(contentsOf: $0) }
            withUnsafeBytes(of: op.bytes.littleEndian) { data.append(contentsOf: $0) }
        }
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw RealReplayError(message: "cannot write \(path)")
        }
    }

    /// The driver executable, compiled into the cache folder on first use.
    public static func driver() throws -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in driverSource.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let base = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        let directory = base.appendingPathComponent("mematlas/allocator-lab")
        let executable = directory.appendingPathComponent("replay-driver-" + String(hash, radix: 16)).path
        if FileManager.default.isExecutableFile(atPath: executable) { return executable }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let source = executable + ".c"
        try driverSource.write(toFile: source, atomically: true, encoding: .utf8)
        let temporary = executable + ".tmp-\(getpid())"
        let result = try run("/usr/bin/env", ["cc", "-O2", "-o", temporary, source], environment: nil)
        guard result.status == 0, rename(temporary, executable) == 0 else {
            throw RealReplayError(message: "compiling the replay driver failed: \(result.stderr)")
        }
        return executable
    }

    /// Replays the operation file at `operationFile` under `allocator`.
    public static func run(operationFile: String, allocator: RealAllocator) throws -> RealReplayResult {
        let executable = try driver()
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "LD_PRELOAD")
        if let preload = allocator.preload { environment["LD_PRELOAD"] = preload }
        let result = try run(executable, [operationFile], environment: environment)
        guard result.status == 0 else {
            throw RealReplayError(message: "replay driver under \(allocator.name) failed (status \(result.status)): \(result.stderr)")
        }
        var fields: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        guard let peak = fields["peak_kb"].flatMap(UInt64.init), let baseline = fields["baseline_kb"].flatMap(UInt64.init) else {
            throw RealReplayError(message: "replay driver under \(allocator.name) printed no figures: \(result.stdout)")
        }
        return RealReplayResult(
            allocator: allocator.name, peakResidentBytes: peak * 1024, baselineResidentBytes: baseline * 1024,
            failedRequests: fields["failed"].flatMap(UInt64.init) ?? 0, seconds: fields["seconds"].flatMap(Double.init) ?? 0)
    }

    private static func run(_ program: String, _ arguments: [String], environment: [String: String]?) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    /// The driver's C source.
    static let driverSource = #"""
    /* MemAtlas allocator-lab replay driver: replays a compact operation file with the process's
       malloc (LD_PRELOAD picks another) and prints its peak RSS. Reads the file in small chunks so
       that the file itself never becomes resident. */
    #include <stdint.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include <time.h>

    static unsigned long status_kb(const char *key) {
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        unsigned long value = 0;
        size_t n = strlen(key);
        if (!f) return 0;
        while (fgets(line, sizeof line, f))
            if (strncmp(line, key, n) == 0) { value = strtoul(line + n, NULL, 10); break; }
        fclose(f);
        return value;
    }

    int main(int argc, char **argv) {
        if (argc != 2) { fprintf(stderr, "usage: %s OPFILE\n", argv[0]); return 2; }
        FILE *f = fopen(argv[1], "rb");
        if (!f) { perror(argv[1]); return 2; }
        char magic[7];
        uint64_t slots;
        if (fread(magic, 1, 7, f) != 7 || memcmp(magic, "MAOPS1\n", 7) != 0 || fread(&slots, 8, 1, f) != 1) {
            fprintf(stderr, "%s: not an operation file\n", argv[1]);
            return 2;
        }
        void **blocks = calloc(slots ? slots : 1, sizeof *blocks);
        unsigned long failed = 0;
        static unsigned char buffer[13 * 4096];
        struct timespec t0, t1;
        unsigned long baseline = status_kb("VmRSS:");
        clock_gettime(CLOCK_MONOTONIC, &t0);
        size_t got;
        while ((got = fread(buffer, 13, 4096, f)) > 0) {
            for (size_t i = 0; i < got; i++) {
                const unsigned char *r = buffer + 13 * i;
                uint32_t slot; uint64_t bytes;
                memcpy(&slot, r + 1, 4);
                memcpy(&bytes, r + 5, 8);
                if (slot >= slots) { fprintf(stderr, "bad slot %u\n", slot); return 2; }
                if (r[0] == 2) {
                    free(blocks[slot]);
                    blocks[slot] = NULL;
                } else {
                    void *p = r[0] == 0 || blocks[slot] == NULL ? malloc(bytes) : realloc(blocks[slot], bytes);
                    if (p == NULL && bytes != 0) { failed++; continue; }
                    if (r[0] == 0 && blocks[slot]) free(blocks[slot]);
                    blocks[slot] = p;
                    if (p) memset(p, 0xA5, bytes);
                }
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("peak_kb %lu\nbaseline_kb %lu\nfailed %lu\nseconds %.6f\n", status_kb("VmHWM:"), baseline, failed,
               (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        return 0;
    }
    """#
}
