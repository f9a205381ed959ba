import Foundation
import TraceIO

/// How to record.
public struct RecordOptions: Sendable {
    /// The trace path for the started program; other processes write `PATH.PID[.N]` beside it.
    public var output: String?
    /// `libunwind` (default), `fp` (frame pointers) or `none`.
    public var unwinder: String = "libunwind"
    /// Deepest stack kept, in frames.
    public var maxDepth: Int = 64
    /// Sample ticks (time + RSS) interval, in milliseconds.
    public var sampleIntervalMs: Int = 10
    /// zstd-compress the trace.
    public var compress: Bool = true
    /// Replace an existing trace at the output path.
    public var force: Bool = false
    /// Start the recorder's writer thread at once, even in a single-threaded program (faster on a
    /// machine with a spare core; the program then has a thread it did not start).
    public var writerThread: Bool = false

    /// Default options.
    public init() {}
}

/// What a recording produced.
public struct RecordingResult: Sendable {
    /// The started program's exit code, when it exited.
    public var exitCode: Int32?
    /// The signal that killed it, when one did.
    public var signal: Int32?
    /// The started process's pid.
    public var pid: Int32
    /// Trace files written, the started program's first.
    public var traces: [String]
    /// The trace of the started process's final program (after any exec), for summaries.
    public var mainTrace: String

    /// The status a shell would see: the exit code, or 128 + signal.
    public var shellStatus: Int32 { exitCode ?? (128 + (signal ?? 0)) }
}

/// A program cannot be recorded.
public struct RecordError: Error, CustomStringConvertible {
    /// What went wrong, in one line.
    public var message: String
    public var description: String { message }
}

/// Runs programs under the recorder (`LD_PRELOAD`) and collects their traces.
public enum Recorder {
    /// The default trace path for a program: `mematlas.PROGRAM.PID.trace` in the current folder.
    public static func defaultOutput(for program: String) -> String {
        "mematlas.\((program as NSString).lastPathComponent).\(getpid()).trace"
    }

    /// Resolves `program` the way a shell would (PATH search when it has no slash).
    public static func resolve(_ program: String) -> String? {
        if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(program)"
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        return nil
    }

    /// Checks that `path` can be traced: an executable that is a script or a dynamically linked ELF.
    public static func checkTraceable(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw RecordError(message: "\(path): cannot be read") }
        let head = handle.readData(ofLength: 4)
        try? handle.close()
        if head.starts(with: [0x23, 0x21]) { return }  // "#!": a script; its interpreter is checked by the kernel
        guard head == Data([0x7f, 0x45, 0x4c, 0x46]) else { return }
        let elf = try ELFFile(path: path)
        if !elf.hasInterpreter {
            throw RecordError(message: "\(path) is statically linked: LD_PRELOAD cannot trace it (the recorder needs a dynamically linked program)")
        }
    }

    /// Runs `program` with `arguments` under the recorder; stdin, stdout and stderr pass through.
    /// - Throws: `RecordError` when the program cannot be found or traced, or the recorder did not start.
    public static func run(program: String, arguments: [String], options: RecordOptions) throws -> RecordingResult {
        guard let executable = resolve(program) else { throw RecordError(message: "\(program): command not found") }
        try checkTraceable(executable)
        let library = try RecorderLibrary.path()
        let output = URL(fileURLWithPath: options.output ?? defaultOutput(for: program)).standardizedFileURL.path
        // Never through a symbolic link (the recorder opens with O_NOFOLLOW | O_EXCL as well): one
        // planted at the output path would make the trace overwrite the file it names.
        let link = try? FileManager.default.destinationOfSymbolicLink(atPath: output)
        if FileManager.default.fileExists(atPath: output) || link != nil {
            guard options.force else {
                let what = link.map { "is a symbolic link (to \($0)), which mematlas never writes through" } ?? "exists"
                throw RecordError(message: "\(output) \(what): choose another --output or pass --force to replace it")
            }
            try FileManager.default.removeItem(atPath: output)  // a link itself, never what it names
        }

        // Traces of an earlier recording to the same output (its children's OUTPUT.PID files, which
        // --force does not remove) are not this recording's.
        let earlier = Set(traceFiles(for: output))

        var environment = ProcessInfo.processInfo.environment
        let preload = environment["LD_PRELOAD"].map { library + ":" + $0 } ?? library
        environment["LD_PRELOAD"] = preload
        environment["MEMATLAS_OUTPUT"] = output
        environment["MEMATLAS_ROOT"] = "1"
        environment["MEMATLAS_UNWIND"] = options.unwinder
        environment["MEMATLAS_DEPTH"] = String(options.maxDepth)
        environment["MEMATLAS_SAMPLE_MS"] = String(options.sampleIntervalMs)
        environment["MEMATLAS_COMPRESS"] = options.compress ? "zstd" : "none"
        environment["MEMATLAS_WRITER_THREAD"] = options.writerThread ? "1" : "0"
        // Every process's traces are coded here, on another core (see RecordingTraceCoder).
        let compressor = options.compress ? RecordingTraceCoder(output: output, existing: earlier) : nil
        environment[TraceCompressor.environmentVariable] = compressor == nil ? "0" : "1"

        let pid: Int32, status: Int32
        do {
            (pid, status) = try spawnAndWait(executable: executable, arguments: [program] + arguments, environment: environment) {
                compressor?.processStarted(pid: $0)
            }
        } catch {
            compressor?.finish()
            throw error
        }
        var result = RecordingResult(exitCode: nil, signal: nil, pid: pid, traces: [], mainTrace: output)
        if status & 0x7f == 0 { result.exitCode = (status >> 8) & 0xff } else { result.signal = status & 0x7f }

        // A process that was killed or crashed left the records it had not written in TRACE.pending
        // (the coder appends those of the traces it codes before it codes their end).
        compressor?.finish()
        result.traces = traceFiles(for: output).filter { !earlier.contains($0) }
        for trace in result.traces { PendingRecords.salvage(trace: trace) }
        guard result.traces.first == output else {
            throw RecordError(message: "the recorder did not start in \(program): no trace was written at \(output) (a setuid program, or one that clears LD_PRELOAD, cannot be traced)")
        }
        // The started process may have exec'd other programs: each wrote OUTPUT.PID[.N].
        let ownImages = result.traces.filter { $0 == output || $0 == "\(output).\(pid)" || $0.hasPrefix("\(output).\(pid).") }
        result.mainTrace = ownImages.last ?? output
        return result
    }

    /// Ends this process by `signal`, the way the recorded program ended, so that a parent sees the
    /// same wait status as without mematlas (`WIFSIGNALED`, `WTERMSIG` == `signal`) and a shell the
    /// same message. Its own core dump is turned off (the program wrote one if it was to). Returns
    /// only when the signal does not end a process by default.
    public static func terminate(bySignal signal: Int32) {
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = getrlimit(Int32(RLIMIT_CORE.rawValue), &noCore)
        noCore.rlim_cur = 0
        _ = setrlimit(Int32(RLIMIT_CORE.rawValue), &noCore)
        _ = Glibc.signal(signal, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        _ = pthread_sigmask(SIG_UNBLOCK, &set, nil)
        _ = raise(signal)
    }

    /// Trace files of one recording: the output path first, then `OUTPUT.PID[.N]` in pid order.
    public static func traceFiles(for output: String) -> [String] {
        let url = URL(fileURLWithPath: output)
        let root = FileManager.default.fileExists(atPath: url.path) ? [url.path] : []
        return root + otherTraceFiles(for: output).map(\.path)
    }

    /// The `OUTPUT.PID[.N]` files beside `output`, in pid then image order (image 1 for OUTPUT.PID).
    static func otherTraceFiles(for output: String) -> [(pid: Int32, image: Int, path: String)] {
        let url = URL(fileURLWithPath: output)
        let directory = url.deletingLastPathComponent().path
        let base = url.lastPathComponent
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var others: [(pid: Int32, image: Int, path: String)] = []
        for name in names {
            if let (pid, image) = traceName(name, base: base) { others.append((pid, image, directory + "/" + name)) }
        }
        return others.sorted { ($0.pid, $0.image) < ($1.pid, $1.image) }
    }

    /// The pid and image of a name the recorder gives a trace beside OUTPUT (`base`): `base.PID`
    /// (image 1), or `base.PID.N` with N from 2 (see open_trace_file in the recorder's writer.c).
    static func traceName(_ name: String, base: String) -> (pid: Int32, image: Int)? {
        guard name.count > base.count + 1, name.hasPrefix(base + ".") else { return nil }
        let parts = name.dropFirst(base.count + 1).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let pid = Int32(parts[0]), pid > 0 else { return nil }
        guard parts.count == 2 else { return (pid, 1) }
        guard let image = Int(parts[1]), image >= 2 else { return nil }
        return (pid, image)
    }

    /// posix_spawn the program and wait for it while ignoring SIGINT and SIGQUIT here (the child
    /// gets them from the terminal, as under `time`), and passing SIGTERM and SIGHUP on to it (`kill`
    /// or `timeout` aimed at `mematlas record` reach the program, and the recording still ends with
    /// its trace complete and compressed). The child inherits the signal mask and the ignored
    /// signals exactly as it would without mematlas in between.
    static func spawnAndWait(
        executable: String, arguments: [String], environment: [String: String], whenStarted: (pid_t) -> Void = { _ in }
    ) throws -> (Int32, Int32) {
        let wereIgnored = SignalForwarding.start()
        var started: pid_t? = nil
        defer { SignalForwarding.stop(started) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Only the two signals ignored here go back to what they were (unless they were ignored).
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGINT, SIGQUIT] where !wereIgnored.contains(number) { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let error = posix_spawn(&pid, executable, nil, &attributes, argv, envp)
        guard error == 0 else { throw RecordError(message: "\(executable): \(String(cString: strerror(error)))") }
        started = pid
        SignalForwarding.forward(to: pid)
        whenStarted(pid)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw RecordError(message: "waitpid: \(String(cString: strerror(errno)))") }
        }
        return (pid, status)
    }
}

/// SIGTERM and SIGHUP sent to `mematlas record` while it waits go to the recorded program (one that
/// came before the program existed is passed on as soon as it does). Handlers do not survive exec,
/// so the program starts with these signals as they were. Several recordings may run at once in
/// one process (the library API): the handlers stay installed while any runs, and a signal goes
/// to every program being recorded.
enum SignalForwarding {
    static let signals = [SIGTERM, SIGHUP]
    private static let capacity = 64
    /// The programs being recorded (0 = free slot); read by the handler, written under `lock`.
    nonisolated(unsafe) private static let children: UnsafeMutablePointer<pid_t> = {
        let slots = UnsafeMutablePointer<pid_t>.allocate(capacity: capacity)
        slots.initialize(repeating: 0, count: capacity)
        return slots
    }()
    nonisolated(unsafe) private static var early: Int32 = 0
    nonisolated(unsafe) private static var users = 0
    nonisolated(unsafe) private static var previous: [Int32: sighandler_t?] = [:]
    nonisolated(unsafe) private static var ignoredBefore: Set<Int32> = []
    private static let lock = NSLock()

    /// Starts a recording's signal handling; returns which of SIGINT and SIGQUIT were ignored
    /// before the first recording (those the program inherits ignored).
    static func start() -> Set<Int32> {
        lock.lock()
        defer { lock.unlock() }
        _ = children  // made before any handler can read it
        users += 1
        guard users == 1 else { return ignoredBefore }
        early = 0
        previous = [:]
        ignoredBefore = []
        // SIGINT and SIGQUIT are ignored here while programs run: the terminal sends them to the
        // program too (as under `time`).
        for number in [SIGINT, SIGQUIT] {
            let old = signal(number, SIG_IGN)
            previous[number] = old
            if unsafeBitCast(old, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { ignoredBefore.insert(number) }
        }
        for number in signals {
            // An ignored signal stays ignored, for the program too (nohup's SIGHUP).
            var current = sigaction()
            sigaction(number, nil, &current)
            if unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
            previous[number] = signal(number) { number in
                // Async-signal-safe: reads words and calls kill.
                var sent = false
                for i in 0..<SignalForwarding.capacity where SignalForwarding.children[i] > 0 {
                    kill(SignalForwarding.children[i], number)
                    sent = true
                }
                if !sent { SignalForwarding.early = number }
            }
        }
        return ignoredBefore
    }

    static func forward(to pid: pid_t) {
        lock.lock()
        defer { lock.unlock() }
        if let free = (0..<capacity).first(where: { children[$0] == 0 }) { children[free] = pid }
        if early != 0 { kill(pid, early) }
    }

    /// The recording of `pid` (nil when the program did not start) is over.
    static func stop(_ pid: pid_t?) {
        lock.lock()
        defer { lock.unlock() }
        if let pid, let slot = (0..<capacity).first(where: { children[$0] == pid }) { children[slot] = 0 }
        users -= 1
        guard users == 0 else { return }
        for (number, handler) in previous { signal(number, handler ?? SIG_DFL) }
        previous = [:]
    }
}
