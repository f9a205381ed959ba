import CMemAtlasShims
import Glibc

/// Why perf events could not be used.
public enum PerfEventError: Error, CustomStringConvertible, Sendable {
    /// The kernel refused (`EACCES`/`EPERM`): not root and `kernel.perf_event_paranoid` too high.
    case notPermitted(SystemCallError)
    /// The kernel or machine has no such event (`ENOENT`, `EOPNOTSUPP`, `ENODEV`, `ENOSYS`).
    case unsupported(event: String, SystemCallError)
    /// Another failure.
    case system(SystemCallError)

    /// A message for the terminal.
    public var description: String {
        switch self {
        case .notPermitted(let error):
            let paranoid = (try? ProcFile.readText("/proc/sys/kernel/perf_event_paranoid"))?
                .split(separator: "\n").first.map(String.init) ?? "?"
            return "perf events are not permitted here (\(error)); kernel.perf_event_paranoid is \(paranoid): "
                + "run as root, or lower it with `sysctl kernel.perf_event_paranoid=1`"
        case .unsupported(let event, let error):
            return "\(event) is not supported on this machine (\(error))"
        case .system(let error):
            return error.description
        }
    }

    static func classify(_ error: SystemCallError, event: String) -> PerfEventError {
        switch error.errno {
        case EACCES, EPERM: return .notPermitted(error)
        case ENOENT, EOPNOTSUPP, ENODEV, ENOSYS, EINVAL: return .unsupported(event: event, error)
        default: return .system(error)
        }
    }
}

/// One perf event opened on every CPU for one process and its descendants (`inherit`), counting or sampling.
final class PerCPUEvent {
    let name: String
    private(set) var descriptors: [FileDescriptor] = []

    /// Whether only user-space events are counted (the kernel refused kernel-side counting, as
    /// `kernel.perf_event_paranoid` 2 does for non-root users).
    private(set) var isUserSpaceOnly = false

    /// Opens the event on each configured CPU; a CPU that is offline (`ENODEV` on one CPU only) is
    /// skipped. When the kernel refuses with `EACCES`/`EPERM`, retries counting user space only.
    init(name: String, config: mematlas_shim_perf_config, pid: Int32) throws {
        self.name = name
        var config = config
        var firstError: SystemCallError?
        for attempt in 0..<2 {
            firstError = nil
            for cpu in 0..<Syscall.configuredCPUCount {
                do {
                    descriptors.append(try Syscall.perfEventOpen(config, pid: pid, cpu: Int32(cpu)))
                } catch let error as SystemCallError {
                    if firstError == nil { firstError = error }
                }
            }
            guard descriptors.isEmpty, let error = firstError, attempt == 0,
                  error.errno == EACCES || error.errno == EPERM, config.exclude_kernel == 0 else { break }
            config.exclude_kernel = 1
            isUserSpaceOnly = true
        }
        if descriptors.isEmpty, let firstError {
            throw PerfEventError.classify(firstError, event: name)
        }
    }

    deinit { for fd in descriptors { Syscall.close(fd) } }

    /// The count summed over CPUs (read as one 64-bit value per descriptor).
    func total() throws -> UInt64 {
        var sum: UInt64 = 0
        for fd in descriptors {
            var value: UInt64 = 0
            _ = try withUnsafeMutableBytes(of: &value) { try Syscall.read(fd, into: $0) }
            sum &+= value
        }
        return sum
    }
}

/// A perf ring buffer mapped for one sampling descriptor.
final class PerfRingBuffer {
    let fd: FileDescriptor
    private let base: UnsafeMutableRawPointer
    private let dataSize: Int
    private let mappedSize: Int
    private var scratch: [UInt8]

    /// Maps `dataPages` (a power of two) pages of ring buffer plus the control page for `fd`.
    init(fd: FileDescriptor, dataPages: Int) throws {
        self.fd = fd
        let page = Syscall.pageSize
        dataSize = dataPages * page
        mappedSize = dataSize + page
        base = try Syscall.mapReadWrite(fd, length: mappedSize)
        scratch = [UInt8](repeating: 0, count: dataSize)
    }

    deinit { Syscall.unmap(base, length: mappedSize) }

    /// Hands every unread record to `body` as raw bytes (header included), then marks them read.
    func drain(_ body: (UnsafeRawBufferPointer) -> Void) {
        while true {
            let count = scratch.withUnsafeMutableBytes {
                mematlas_shim_perf_ring_drain(base, dataSize, $0.baseAddress, $0.count)
            }
            if count == 0 { return }
            scratch.withUnsafeBytes { raw in
                var offset = 0
                while offset + 8 <= count {
                    let size = Int(raw.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self))
                    if size < 8 || offset + size > count { break }
                    body(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + size)]))
                    offset += size
                }
            }
        }
    }
}
