import CMemAtlasShims
import Foundation
import TraceIO

#if canImport(Glibc)
import Glibc
#endif

/// Codes every trace of a recording in `mematlas record`'s own process, on another core, while the
/// programs run. The recorders write raw (`MEMATLAS_PARENT_COMPRESSES=1`), and a `TraceCompressor`
/// follows each trace as it grows.
///
/// One process's traces follow one another: OUTPUT for the started process (OUTPUT.PID for a
/// child), then OUTPUT.PID.2, OUTPUT.PID.3, ... for the programs it execs (a script's interpreter, a
/// shim, then the program that does the work). A trace is complete once the next one of its process
/// exists (the exec succeeded, and the recorder wrote everything and closed the trace before it), or
/// once its process has ended: a pidfd says so, and the records a killed process left pending are
/// appended first. New trace files are seen by listing the output's folder: every 2 to 20 ms (less
/// often while nothing changes), and never more often than ten times the listing takes, so that a
/// folder of many thousand files costs at most a tenth of a core. inotify would see them at once,
/// but closing an inotify instance waits for an RCU grace period, 12-16 ms here, at the end of
/// every recording. A process that starts and ends between two listings has its trace coded once
/// it is seen, from its start.
///
/// A child still running when the started process has ended (a daemon) is not waited for: its
/// trace stays as its recorder writes it, raw, which reads like any other trace.
final class RecordingTraceCoder: @unchecked Sendable {
    private let output: String
    /// Trace files that existed before the recording (an earlier recording's, to the same output):
    /// the recorder does not overwrite them, it takes the next name.
    private let existing: Set<String>
    private var seen: Set<String> = []
    /// An eventfd that wakes the dispatcher to stop.
    private let stop: Int32
    private var root: ProcessTraces
    /// Every process with a trace being coded, by pid (the started process's too, once known).
    private var processes: [Int32: ProcessTraces] = [:]
    private var dispatcher: Thread?
    private let dispatcherDone = DispatchSemaphore(value: 0)

    private final class ProcessTraces {
        let pid: Int32
        /// Readable once the process has ended; -1 for the started process (`record` waits for
        /// it) or where pidfd_open is not to be had.
        let pidfd: Int32
        var path: String
        /// 0 for OUTPUT, else N of OUTPUT.PID.N (1 for OUTPUT.PID).
        var image: Int
        var coder: TraceCompressor?

        init(pid: Int32, pidfd: Int32, path: String, image: Int, coder: TraceCompressor?) {
            self.pid = pid
            self.pidfd = pidfd
            self.path = path
            self.image = image
            self.coder = coder
        }
    }

    /// nil when zstd cannot be loaded here (the programs then compress their own traces).
    init?(output: String, existing: Set<String> = []) {
        guard let first = TraceCompressor(trace: output) else { return nil }
        stop = mematlas_shim_wake_fd()
        guard stop >= 0 else { return nil }
        self.output = output
        self.existing = existing
        root = ProcessTraces(pid: 0, pidfd: -1, path: output, image: 0, coder: first)
        first.start()
    }

    deinit {
        if stop >= 0 { close(stop) }
    }

    /// The started process is `pid`: follow the traces of its programs and of its children.
    func processStarted(pid: Int32) {
        root = ProcessTraces(pid: pid, pidfd: -1, path: root.path, image: 0, coder: root.coder)
        processes[pid] = root
        let thread = Thread { [self] in
            dispatch()
            dispatcherDone.signal()
        }
        thread.stackSize = 1 << 20
        dispatcher = thread
        thread.start()
    }

    /// The started process has ended: codes the rest of its traces (with the records it left
    /// pending), and of every child that has ended too; a child still running keeps its raw trace.
    func finish() {
        if dispatcher != nil {
            var one: UInt64 = 1
            _ = write(stop, &one, 8)
            dispatcherDone.wait()
            dispatcher = nil
        }
        PendingRecords.salvage(trace: root.path, processEnded: true)
        root.coder?.finish()
        root.coder = nil
        processes[root.pid] = nil
        for process in processes.values {
            if hasEnded(process) {
                end(process)
            } else {
                process.coder?.abandon()
                if process.pidfd >= 0 { close(process.pidfd) }
            }
        }
        processes = [:]
    }

    // MARK: - The dispatcher thread

    private func dispatch() {
        var pause: Int32 = 2  // ms between listings; grows to 20 while nothing changes
        while true {
            let children = processes.values.filter { $0.pid != root.pid }
            var fds = [pollfd(fd: stop, events: Int16(POLLIN), revents: 0)]
            fds += children.map { pollfd(fd: $0.pidfd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), pause)
            if ready < 0 && errno != EINTR { return }
            // New files first: a program that execs and then ends made its next trace before it ended.
            let started = DispatchTime.now().uptimeNanoseconds
            let known = seen.count
            scan()
            let took = Int32(min((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000, 1000))
            pause = max(seen.count > known ? 2 : min(pause * 2, 20), 10 * took)
            for (i, process) in children.enumerated() {
                let ended = process.pidfd >= 0 ? fds[1 + i].revents != 0 : hasEnded(process)
                if ended && processes[process.pid] === process { end(process) }
            }
            if fds[0].revents != 0 { return }
        }
    }

    /// Looks at the folder's trace files, oldest image of each process first.
    private func scan() {
        for file in Recorder.otherTraceFiles(for: output) { handle(pid: file.pid, image: file.image, path: file.path) }
    }

    /// A file appeared: OUTPUT.PID or OUTPUT.PID.N starts a process's next trace (or a new process's).
    private func handle(pid: Int32, image: Int, path: String) {
        guard !existing.contains(path), seen.insert(path).inserted else { return }
        if let process = processes[pid] {
            guard image > process.image else { return }
            if process.pid != root.pid && hasEnded(process) {
                end(process)  // its pid was reused: a new process
            } else {
                process.coder?.finish()
                process.path = path
                process.image = image
                process.coder = TraceCompressor(trace: path)
                process.coder?.start()
                return
            }
        }
        let pidfd = mematlas_shim_pidfd_open(pid)
        let process = ProcessTraces(pid: pid, pidfd: pidfd, path: path, image: image, coder: TraceCompressor(trace: path))
        process.coder?.start()
        processes[pid] = process
    }

    private func hasEnded(_ process: ProcessTraces) -> Bool {
        if process.pidfd >= 0 {
            var fd = pollfd(fd: process.pidfd, events: Int16(POLLIN), revents: 0)
            return poll(&fd, 1, 0) > 0
        }
        return kill(process.pid, 0) != 0 && errno == ESRCH
    }

    /// The process has ended: its records left pending, then the rest of its trace.
    private func end(_ process: ProcessTraces) {
        PendingRecords.salvage(trace: process.path, processEnded: true)
        process.coder?.finish()
        process.coder = nil
        if process.pidfd >= 0 { close(process.pidfd) }
        processes[process.pid] = nil
    }
}
