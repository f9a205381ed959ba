import CMemAtlasShims
import Glibc

/// A failed libc call: the C function's name, the `errno` it left, and the path it worked on.
public struct SystemCallError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The C function that failed, e.g. `"pread"`.
    public var function: String
    /// The `errno` value read right after the call.
    public var errno: Int32
    /// The file the call worked on, when there is one.
    public var path: String?

    /// Creates an error from a function name, an errno value and an optional path.
    public init(function: String, errno: Int32, path: String? = nil) {
        self.function = function
        self.errno = errno
        self.path = path
    }

    /// `"pread /proc/1/pagemap: Permission denied (errno 13)"`.
    public var description: String {
        let message = String(cString: strerror(errno))
        return "\(function)\(path.map { " " + $0 } ?? ""): \(message) (errno \(errno))"
    }
}

/// An open file descriptor owned by the caller (closed with `Syscall.close`).
public struct FileDescriptor: Hashable, Sendable {
    /// The raw descriptor number.
    public var rawValue: Int32
    /// Wraps a raw descriptor number.
    public init(rawValue: Int32) { self.rawValue = rawValue }
}

/// The one seam through which VirtualMemory calls libc and the C shims: EINTR is retried here,
/// `errno` is read immediately after the call, and failures become a `SystemCallError`.
enum Syscall {
    /// Runs `body` until it does not fail with EINTR; a result of -1 becomes a `SystemCallError`.
    @inline(__always)
    static func retrying<T: BinaryInteger>(
        _ function: String, path: String? = nil, _ body: () -> T
    ) throws -> T {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = Glibc.errno
            if code == EINTR { continue }
            throw SystemCallError(function: function, errno: code, path: path)
        }
    }

    /// Wraps `open(path, O_RDONLY | O_CLOEXEC)`.
    static func openReadOnly(_ path: String) throws -> FileDescriptor {
        FileDescriptor(rawValue: try retrying("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) })
    }

    /// Wraps `close(fd)`; errors are ignored (the descriptor is gone either way on Linux).
    static func close(_ fd: FileDescriptor) {
        _ = Glibc.close(fd.rawValue)
    }

    /// Wraps `pread(fd, buffer, count, offset)`: returns the number of bytes read.
    static func pread(
        _ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64, path: String? = nil
    ) throws -> Int {
        try retrying("pread", path: path) {
            Glibc.pread(fd.rawValue, buffer.baseAddress, buffer.count, off_t(truncatingIfNeeded: offset))
        }
    }

    /// Wraps `read(fd, buffer, count)`: returns the number of bytes read (0 at end of file).
    static func read(_ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer, path: String? = nil) throws -> Int {
        try retrying("read", path: path) { Glibc.read(fd.rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Wraps `fstat(fd)` and returns `st_size` in bytes.
    static func fileSize(_ fd: FileDescriptor, path: String? = nil) throws -> UInt64 {
        var info = stat()
        _ = try retrying("fstat", path: path) { fstat(fd.rawValue, &info) }
        return UInt64(max(0, info.st_size))
    }

    /// Wraps `mmap(NULL, length, prot, flags, fd, 0)`.
    static func mapFile(_ fd: FileDescriptor, length: Int, path: String? = nil) throws -> UnsafeMutableRawPointer {
        let address = Glibc.mmap(nil, length, PROT_READ, MAP_SHARED, fd.rawValue, 0)
        if address == MAP_FAILED || address == nil {
            throw SystemCallError(function: "mmap", errno: Glibc.errno, path: path)
        }
        return address!
    }

    /// Wraps `mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)` for a perf ring buffer.
    static func mapReadWrite(_ fd: FileDescriptor, length: Int) throws -> UnsafeMutableRawPointer {
        let address = Glibc.mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, 0)
        if address == MAP_FAILED || address == nil {
            throw SystemCallError(function: "mmap", errno: Glibc.errno)
        }
        return address!
    }

    /// Wraps `munmap(address, length)`.
    static func unmap(_ address: UnsafeMutableRawPointer, length: Int) {
        _ = Glibc.munmap(address, length)
    }

    /// Wraps `mincore(address, length, vector)`: one byte a page, bit 0 set when resident.
    static func mincore(_ address: UnsafeMutableRawPointer, length: Int, into vector: UnsafeMutablePointer<UInt8>, path: String? = nil) throws {
        _ = try retrying("mincore", path: path) { Glibc.mincore(address, length, vector) }
    }

    /// Wraps `posix_fadvise(fd, offset, length, advice)` (which returns the error instead of setting errno).
    static func fadvise(_ fd: FileDescriptor, offset: UInt64, length: UInt64, advice: Int32, path: String? = nil) throws {
        let result = posix_fadvise(fd.rawValue, off_t(truncatingIfNeeded: offset), off_t(truncatingIfNeeded: length), advice)
        if result != 0 { throw SystemCallError(function: "posix_fadvise", errno: result, path: path) }
    }

    /// Wraps `sysconf(_SC_PAGESIZE)`: the base page size in bytes.
    static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// Wraps `sysconf(_SC_NPROCESSORS_CONF)`: the number of configured CPUs.
    static var configuredCPUCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_CONF)))) }

    /// Wraps `waitpid(pid, &status, options)`: returns the pid (0 with WNOHANG and nothing to report) and status.
    static func waitpid(_ pid: pid_t, options: Int32) throws -> (pid: pid_t, status: Int32) {
        var status: Int32 = 0
        let got = try retrying("waitpid") { Glibc.waitpid(pid, &status, options) }
        return (got, status)
    }

    /// Wraps `kill(pid, signal)`.
    static func kill(_ pid: pid_t, _ signal: Int32) throws {
        _ = try retrying("kill") { Glibc.kill(pid, signal) }
    }

    /// Wraps `poll(fds, count, timeout)`; returns the number of ready descriptors.
    static func poll(_ fds: inout [pollfd], timeoutMilliseconds: Int32) throws -> Int32 {
        let count = fds.count
        return try fds.withUnsafeMutableBufferPointer { buffer in
            try retrying("poll") { Glibc.poll(buffer.baseAddress, nfds_t(count), timeoutMilliseconds) }
        }
    }

    /// Wraps `mematlas_shim_perf_event_open` (`syscall(SYS_perf_event_open, ...)`).
    static func perfEventOpen(_ config: mematlas_shim_perf_config, pid: pid_t, cpu: Int32) throws -> FileDescriptor {
        var config = config
        return FileDescriptor(rawValue: try retrying("perf_event_open") { mematlas_shim_perf_event_open(&config, pid, cpu) })
    }

    /// Wraps `mematlas_shim_perf_event_enable` (`ioctl(fd, PERF_EVENT_IOC_ENABLE/DISABLE)`).
    static func perfEventEnable(_ fd: FileDescriptor, _ enable: Bool) throws {
        _ = try retrying("ioctl(PERF_EVENT_IOC_ENABLE)") { mematlas_shim_perf_event_enable(fd.rawValue, enable ? 1 : 0) }
    }

    /// Wraps `mematlas_shim_spawn_traced`: fork, `PTRACE_TRACEME`, stop, then exec `path` once continued.
    static func spawnTraced(_ path: String, arguments: [String]) throws -> pid_t {
        var cStrings: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) }
        cStrings.append(nil)
        defer { for pointer in cStrings { free(pointer) } }
        return try retrying("fork/ptrace", path: path) {
            cStrings.withUnsafeBufferPointer { mematlas_shim_spawn_traced(path, $0.baseAddress) }
        }
    }

    /// Wraps `ptrace(PTRACE_CONT, pid, 0, signal)`.
    static func ptraceContinue(_ pid: pid_t, signal: Int32) throws {
        _ = try retrying("ptrace(PTRACE_CONT)") { mematlas_shim_ptrace_continue(pid, signal) }
    }
}
