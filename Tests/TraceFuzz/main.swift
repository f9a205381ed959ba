// trace-fuzz: feeds the trace reader (and the analyses a summary runs) mutated and truncated
// traces made from seed traces, and checks that each read ends in a result or a one-line
// TraceFormatError naming the file, never a crash, a hang or an unbounded allocation.
//
//   trace-fuzz [--inputs N] [--seed S] [--start I] [--work DIR] [--summary-every K] [--verbose] SEED.trace...
//
// Seeds are traces written by `mematlas record` (give both --no-compress and compressed ones:
// record-level mutations work on the decoded stream, raw damage on the compressed files). Input i
// is made from (S, i) alone: `--start i --inputs 1` makes it again. The last input is left in
// DIR/input.trace; a crash prints the input's number and recipe. The result is one JSON line.
#if canImport(Glibc)
import Glibc
#endif
import Analysis
import Foundation
import MemAtlasTraceSchema
import TraceIO

struct Options {
    var inputs: UInt64 = 10_000
    var seed: UInt64 = 1
    var start: UInt64 = 0
    var work = FileManager.default.temporaryDirectory.appendingPathComponent("mematlas-trace-fuzz-\(getpid())").path
    var summaryEvery: UInt64 = 16
    var verbose = false
    var seeds: [String] = []
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()
    func value(_ name: String) -> String {
        guard let v = arguments.popFirst() else { fail("\(name) needs a value") }
        return v
    }
    func number(_ name: String) -> UInt64 {
        let text = value(name)
        guard let n = UInt64(text) else { fail("\(name) \(text): not a number") }
        return n
    }
    while let argument = arguments.popFirst() {
        switch argument {
        case "--inputs": options.inputs = number(argument)
        case "--seed": options.seed = number(argument)
        case "--start": options.start = number(argument)
        case "--summary-every": options.summaryEvery = max(1, number(argument))
        case "--work": options.work = value(argument)
        case "--verbose": options.verbose = true
        case "-h", "--help":
            print("usage: trace-fuzz [--inputs N] [--seed S] [--start I] [--work DIR] [--summary-every K] [--verbose] SEED.trace...")
            exit(0)
        default: options.seeds.append(argument)
        }
    }
    if options.seeds.isEmpty { fail("give seed traces (written by mematlas record)") }
    return options
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("trace-fuzz: \(message)\n".utf8))
    exit(2)
}

func loadSeed(_ path: String) -> Seed {
    guard let data = FileManager.default.contents(atPath: path), data.count >= 32 else { fail("\(path): not a trace") }
    let file = Array(data)
    var header = Array(file[..<32])
    let stream: [UInt8]
    if file[10] & UInt8(MA_FLAG_COLUMNS) != 0 {
        // Column blocks: mutate the records they hold, which read as a raw-address stream.
        guard let records = try? ColumnBlocks.records(ofTrace: path) else { fail("\(path): the column blocks do not decode") }
        stream = records
        header[10] = (header[10] & ~UInt8(MA_FLAG_COLUMNS)) | UInt8(MA_FLAG_RAW_ADDRESSES)
    } else {
        stream = file[10] & 1 != 0 ? Zstd.decompress(Array(file[32...])) : Array(file[32...])
    }
    let records = TraceRecords(stream: stream, rawAddresses: header[10] & UInt8(MA_FLAG_RAW_ADDRESSES) != 0)
    let parsed = records.records.reduce(0) { $0 + $1.bytes.count }
    guard parsed == stream.count else { fail("\(path): the record scanner stopped at stream byte \(parsed) of \(stream.count)") }
    return Seed(name: (path as NSString).lastPathComponent, header: header, records: records, file: file, isCompressed: file[10] & UInt8(MA_FLAG_ZSTD | MA_FLAG_COLUMNS) != 0)
}

/// The recipe of the input being read, for the crash handler (which may only call write).
let crashNote = UnsafeMutablePointer<CChar>.allocate(capacity: 4096)
crashNote.initialize(to: 0)

/// The handlers installed before ours (the Swift runtime's backtracer), called after the note.
let previousActions = UnsafeMutablePointer<sigaction>.allocate(capacity: 32)

func installCrashReport() {
    for signal in [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT] {
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = { signal, info, context in
            write(2, crashNote, strlen(crashNote))
            let previous = previousActions[Int(signal)]
            if previous.sa_flags & Int32(SA_SIGINFO) != 0, let handler = previous.__sigaction_handler.sa_sigaction {
                handler(signal, info, context)
            } else {
                Glibc.signal(signal, SIG_DFL)
                raise(signal)
            }
        }
        action.sa_flags = Int32(SA_SIGINFO)
        sigaction(signal, &action, previousActions + Int(signal))
    }
}

enum Outcome { case complete, truncated, refused }

/// Reads one input as `mematlas summary` does (the summary's symbolizer without llvm-symbolizer,
/// every `summaryEvery`-th input) plus the derived figures of the metadata.
func evaluate(_ path: String, fullSummary: Bool, violations: inout [String], index: UInt64) -> Outcome {
    do {
        let reader = try TraceReader(path: path)
        var analysis = HeapAnalysis()
        try reader.read(into: &analysis)
        let profile = analysis.finish()
        for snapshot in reader.residency {
            _ = snapshot.residentBytes
            for region in snapshot.regions { _ = region.residentBytes(from: region.start, to: region.start &+ region.length / 2) }
        }
        for map in reader.moduleMaps { for module in map.modules { _ = module.contains(module.loadBias) } }
        if fullSummary {
            let symbolizer = Symbolizer(moduleMaps: reader.moduleMaps, symbolizerPath: nil)
            _ = SummaryBuilder(top: 5).build(reader: reader, profile: profile, symbolizer: symbolizer)
        }
        return reader.completeness == .complete ? .complete : .truncated
    } catch let error as TraceFormatError {
        if error.description.contains("\n") || error.path != path {
            violations.append("input \(index): not a one-line error naming the file: \(error.description)")
        }
        return .refused
    } catch {
        violations.append("input \(index): \(type(of: error)) instead of TraceFormatError: \(error)")
        return .refused
    }
}

/// Writes an input in place (no temporary file, no fsync: the file is read at once and rewritten next).
func writeInput(_ bytes: [UInt8], to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { fail("cannot write \(path): \(String(cString: strerror(errno)))") }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    guard written == bytes.count else { fail("cannot write \(path)") }
}

func peakRSSBytes() -> UInt64 {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
    return (UInt64(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
}

let options = parseOptions()
let seeds = options.seeds.map(loadSeed)
let mutator = Mutator(seeds: seeds)
try? FileManager.default.createDirectory(atPath: options.work, withIntermediateDirectories: true)
let inputPath = options.work + "/input.trace"
installCrashReport()

var counts: [Outcome: UInt64] = [.complete: 0, .truncated: 0, .refused: 0]
var violations: [String] = []
var slowest: (ms: Double, index: UInt64) = (0, 0)
let began = Date()
for index in options.start..<(options.start + options.inputs) {
    let input = mutator.make(index, baseSeed: options.seed)
    let note = "trace-fuzz: crashed on input \(index) (--seed \(options.seed) --start \(index) --inputs 1): \(input.description); it is in \(inputPath)\n"
    _ = note.withCString { strncpy(crashNote, $0, 4095) }
    writeInput(input.bytes, to: inputPath)
    let t0 = Date()
    let outcome = evaluate(inputPath, fullSummary: index % options.summaryEvery == 0, violations: &violations, index: index)
    let ms = Date().timeIntervalSince(t0) * 1000
    if options.verbose {
        FileHandle.standardError.write(Data("input \(index): \(outcome) in \(Int(ms)) ms: \(input.description)\n".utf8))
    }
    if ms > slowest.ms { slowest = (ms, index) }
    counts[outcome]! += 1
    if (index - options.start + 1) % 10_000 == 0 {
        FileHandle.standardError.write(Data("trace-fuzz: \(index - options.start + 1) inputs, \(Int(Date().timeIntervalSince(began))) s\n".utf8))
    }
}
let seconds = Date().timeIntervalSince(began)
let result: [String: Any] = [
    "inputs": options.inputs, "seed": options.seed, "seeds": seeds.map(\.name),
    "complete": counts[.complete]!, "truncated": counts[.truncated]!, "refused": counts[.refused]!,
    "violations": Array(violations.prefix(20)), "violationCount": violations.count,
    "slowestInputMs": (slowest.ms * 10).rounded() / 10, "slowestInput": slowest.index,
    "peakRSSBytes": peakRSSBytes(), "seconds": (seconds * 10).rounded() / 10,
]
let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
exit(violations.isEmpty ? 0 : 1)
