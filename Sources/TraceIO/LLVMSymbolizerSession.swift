#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TraceModel

/// One `llvm-symbolizer` process kept running for a symbolizer's lookups: it loads each module's
/// debug information once, and `warmUp` has it do so while a trace is still being read. (Loading
/// libc's separate debug file alone takes llvm-symbolizer about 80 ms, which `summary` otherwise
/// waited for after its pass.)
///
/// The process answers each input line with one JSON line, as soon as it is read.
public final class LLVMSymbolizerSession: @unchecked Sendable {
    private let process = Process()
    private let input: Int32
    private let output: Int32
    private let lock = NSLock()
    /// Lines written whose answers have not been read: the warm-up's, read and dropped at the next lookup.
    private var unanswered = 0
    private var warmed = Set<String>()
    /// Output read but not yet returned: from `pendingStart` on.
    private var pending: [UInt8] = []
    private var pendingStart = 0
    private var ended = false

    /// The options `Symbolizer` reads answers with: every inlined frame, demangled.
    public static let frameArguments = ["--output-style=JSON", "--demangle", "--inlining"]

    /// Starts llvm-symbolizer at `path` with `arguments` (JSON output, one answer line a query);
    /// nil when there is none or it cannot start.
    public init?(path: String? = Symbolizer.findLLVMSymbolizer(), arguments: [String] = frameArguments) {
        guard let path else { return nil }
        let toProcess = Pipe(), fromProcess = Pipe()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = toProcess
        process.standardOutput = fromProcess
        process.standardError = FileHandle.nullDevice
        process.terminationHandler = { _ in }  // reaped by Foundation; never waited for
        do { try process.run() } catch { return nil }
        // Close-on-exec: a program started later (another symbolizer, a recorded program) must
        // not hold the input open, or llvm-symbolizer would never see its end.
        input = fcntl(toProcess.fileHandleForWriting.fileDescriptor, F_DUPFD_CLOEXEC, 0)
        output = fcntl(fromProcess.fileHandleForReading.fileDescriptor, F_DUPFD_CLOEXEC, 0)
        try? toProcess.fileHandleForWriting.close()
        try? toProcess.fileHandleForReading.close()
        try? fromProcess.fileHandleForReading.close()
        try? fromProcess.fileHandleForWriting.close()
        guard input >= 0, output >= 0 else { return nil }
    }

    deinit {
        if input >= 0 { close(input) }  // llvm-symbolizer ends at the end of its input
        if output >= 0 { close(output) }
    }

    /// A session that loads the symbol files of `reader`'s first module map while the reader
    /// reads (set as its `firstModuleMapHandler`); nil without llvm-symbolizer.
    public static func warmingUp(_ reader: TraceReader) -> LLVMSymbolizerSession? {
        guard let session = LLVMSymbolizerSession() else { return nil }
        reader.firstModuleMapHandler = { [weak session] modules in session?.warmUp(modules) }
        return session
    }

    /// Has llvm-symbolizer load the symbol files of `modules` (those it has not loaded yet) on
    /// its own, in the background: the files are chosen as `Symbolizer` chooses them, so the
    /// later lookups find them loaded.
    public func warmUp(_ modules: [Module], debugDirectory: String = Symbolizer.defaultDebugDirectory) {
        Self.onThreadWithoutSIGPIPE { [self] in
            var files: [String] = []
            for module in modules {
                // The recorder is never in a stack (its frames are dropped when captured).
                if (module.path as NSString).lastPathComponent.hasPrefix("libmematlas-recorder") { continue }
                if let file = Symbolizer.symbolFile(for: module, debugDirectory: debugDirectory), Self.canQuote(file) {
                    files.append(file)
                }
            }
            lock.lock()
            defer { lock.unlock() }
            let fresh = files.filter { warmed.insert($0).inserted }
            guard !ended, !fresh.isEmpty else { return }
            // Address 0 of a file: llvm-symbolizer loads the file and its debug information to
            // answer it. The answers are small: the pipe holds them until the next lookup.
            if writeAll(Data(fresh.map { "\"\($0)\" 0x0\n" }.joined().utf8)) { unanswered += fresh.count }
        }
    }

    /// Whether a path can be written in llvm-symbolizer's input, quoted, on one line.
    public static func canQuote(_ path: String) -> Bool { !path.contains("\"") && !path.contains("\n") && !path.contains("\r") }

    /// Looks up each `(file, address)` and returns one JSON answer per query (fewer when the
    /// process ended early).
    public func lookUp(_ queries: [(file: String, address: UInt64)]) -> [Data] {
        lock.lock()
        defer { lock.unlock() }
        guard !ended else { return [] }
        var text = ""
        for query in queries { text += "\"\(query.file)\" 0x\(String(query.address, radix: 16))\n" }
        // Written from another thread: with many queries, llvm-symbolizer's answers fill the pipe
        // back before it has read them all.
        let written = DispatchSemaphore(value: 0)
        let payload = Data(text.utf8)
        Self.onThreadWithoutSIGPIPE { [self] in
            _ = writeAll(payload)
            written.signal()
        }
        var answers: [Data] = []
        answers.reserveCapacity(queries.count)
        var skip = unanswered
        while answers.count < queries.count, let line = readLine() {
            if skip > 0 { skip -= 1 } else { answers.append(line) }
        }
        unanswered = 0
        if answers.count < queries.count { ended = true }
        written.wait()
        return answers
    }

    /// Runs `body` on a thread of its own that blocks SIGPIPE: a write to a symbolizer that died
    /// then fails with EPIPE instead of killing this process, and the signal is dropped with the
    /// thread. (Ignoring SIGPIPE in the whole process would also leave it ignored in the programs
    /// that `mematlas record` starts later.)
    private static func onThreadWithoutSIGPIPE(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread {
            var blocked = sigset_t()
            sigemptyset(&blocked)
            sigaddset(&blocked, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &blocked, nil)
            body()
        }
        thread.start()
    }

    private func writeAll(_ data: Data) -> Bool {
        data.withUnsafeBytes { bytes in
            var done = 0
            while done < bytes.count {
                let n = write(input, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
    }

    /// The next line of output, without its newline; nil at the end.
    private func readLine() -> Data? {
        var searched = pendingStart
        while true {
            if let newline = pending[searched...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(pending[pendingStart..<newline])
                pendingStart = newline + 1
                return line
            }
            pending.removeSubrange(..<pendingStart)
            pendingStart = 0
            searched = pending.count
            let old = pending.count
            pending.append(contentsOf: repeatElement(0, count: 65536))
            let n = pending.withUnsafeMutableBytes { read(output, $0.baseAddress! + old, 65536) }
            pending.removeSubrange((old + max(n, 0))...)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
        }
    }
}
