import CMemAtlasShims
import Glibc

/// How a traced process ended.
public enum ProcessExit: Equatable, Sendable, CustomStringConvertible {
    /// It called `exit` with this status.
    case exited(Int32)
    /// A signal killed it.
    case signaled(Int32)

    /// The shell-style status: the exit status, or 128 + the signal.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let status): return status
        case .signaled(let signal): return 128 + signal
        }
    }

    /// `"exited with status 0"` or `"killed by signal 9"`.
    public var description: String {
        switch self {
        case .exited(let status): return "exited with status \(status)"
        case .signaled(let signal): return "killed by signal \(signal)"
        }
    }
}

/// A child program started under `ptrace`, stopped before `exec` so observers can attach first,
/// and stopped again just before it exits (`PTRACE_O_TRACEEXIT`) so its address space can be read.
public final class TracedProcess {
    /// The child's process id.
    public let pid: Int32
    /// Whether the child got as far as `exec` of the program (false when the program was not found).
    public private(set) var didExec = false
    private var finished: ProcessExit?

    /// Starts `program` (looked up in `PATH` when it has no slash) with `arguments`; the child is
    /// stopped before `exec` until `run` is called.
    public init(program: String, arguments: [String]) throws {
        pid = try Syscall.spawnTraced(program, arguments: arguments)
    }

    deinit {
        if finished == nil {
            try? Syscall.kill(pid, SIGKILL)
            _ = try? Syscall.waitpid(pid, options: 0)
        }
    }

    /// Lets the child run to completion.
    /// - Parameters:
    ///   - tickMilliseconds: how often `onTick` runs while the child runs (also the longest wait).
    ///   - pollDescriptors: descriptors whose readiness also wakes the loop (perf ring buffers).
    ///   - onTick: runs every tick and whenever a descriptor is ready.
    ///   - onExitStop: runs once when the child is about to exit, with its memory still mapped
    ///     (not when `exec` failed: the child would still be a copy of this tool).
    /// - Returns: how the child ended.
    public func run(
        tickMilliseconds: Int32 = 10, pollDescriptors: [FileDescriptor] = [],
        onTick: () throws -> Void = {}, onExitStop: () throws -> Void = {}
    ) throws -> ProcessExit {
        if let finished { return finished }
        try Syscall.ptraceContinue(pid, signal: 0)
        var descriptors = pollDescriptors.map { pollfd(fd: $0.rawValue, events: Int16(POLLIN), revents: 0) }
        while true {
            if descriptors.isEmpty {
                usleep(UInt32(tickMilliseconds) * 1000)
            } else {
                _ = try Syscall.poll(&descriptors, timeoutMilliseconds: tickMilliseconds)
            }
            try onTick()
            while true {
                let (got, status) = try Syscall.waitpid(pid, options: WNOHANG)
                if got == 0 { break }
                var value: Int32 = 0
                switch mematlas_shim_wait_status_kind(status, &value) {
                case 0:
                    finished = .exited(value)
                    return finished!
                case 1:
                    finished = .signaled(value)
                    return finished!
                case 2:
                    if didExec { try onExitStop() }
                    try Syscall.ptraceContinue(pid, signal: 0)
                case 3:
                    didExec = true
                    try Syscall.ptraceContinue(pid, signal: 0)
                default:
                    try Syscall.ptraceContinue(pid, signal: value)
                }
            }
        }
    }
}
