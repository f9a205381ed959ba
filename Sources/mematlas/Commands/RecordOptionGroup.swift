import ArgumentParser
import Recording

/// Options shared by `record` and `run`.
struct RecordOptionGroup: ParsableArguments {
    @Option(name: .shortAndLong, help: "Trace file for the started program (other processes write FILE.PID).")
    var output: String?

    @Option(help: "How to capture call stacks: libunwind, fp (frame pointers) or none.")
    var unwind: String = "libunwind"

    @Option(help: "Deepest call stack kept, in frames.")
    var depth: Int = 64

    @Option(name: .customLong("sample-interval"), help: "Interval of time and RSS samples, in milliseconds.")
    var sampleInterval: Int = 10

    @Flag(name: .customLong("no-compress"), help: "Write the trace without zstd compression.")
    var noCompress = false

    @Flag(help: "Replace an existing trace at the output path.")
    var force = false

    @Flag(name: .customLong("writer-thread"), help: ArgumentHelp(
        "Write the trace on a thread of the recorder's even while the program is single-threaded.",
        discussion: "The program then has a thread it did not start: unshare(CLONE_NEWUSER), sandboxes and Chromium's zygote refuse to run. By default the writer thread starts with the program's first thread, and the started program's trace is compressed by mematlas record, on another core."))
    var writerThread = false

    func validate() throws {
        guard ["libunwind", "fp", "none"].contains(unwind) else {
            throw ValidationError("--unwind must be libunwind, fp or none (got \(unwind))")
        }
        guard (1...240).contains(depth) else { throw ValidationError("--depth must be between 1 and 240 frames") }
        guard (1...60_000).contains(sampleInterval) else { throw ValidationError("--sample-interval must be 1 to 60000 ms") }
    }

    var recordOptions: RecordOptions {
        var options = RecordOptions()
        options.output = output
        options.unwinder = unwind
        options.maxDepth = depth
        options.sampleIntervalMs = sampleInterval
        options.compress = !noCompress
        options.force = force
        options.writerThread = writerThread
        return options
    }
}
