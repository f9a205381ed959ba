import Glibc

/// Why a `/proc` file could not be read, in words a user can act on.
public enum ProcError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The process does not exist (any more): it exited before or during the read.
    case processGone(pid: Int32)
    /// The file exists but this user may not read it (try as root or the process's owner).
    case permissionDenied(path: String)
    /// This kernel does not provide the file (too old, or configured without it).
    case unavailable(path: String)
    /// The file's content did not parse.
    case malformed(path: String, line: String)
    /// Another libc failure.
    case system(SystemCallError)

    /// A one-line message for the terminal.
    public var description: String {
        switch self {
        case .processGone(let pid): return "process \(pid) is gone (it exited or never existed)"
        case .permissionDenied(let path): return "permission denied reading \(path) (run as root or as the process's owner)"
        case .unavailable(let path): return "this kernel does not provide \(path)"
        case .malformed(let path, let line): return "cannot parse \(path): \(line)"
        case .system(let error): return error.description
        }
    }

    /// Turns a failed call on `path` (maybe inside `/proc/<pid>/`) into the most useful error.
    static func from(_ error: SystemCallError, path: String, pid: Int32?) -> ProcError {
        switch error.errno {
        case ESRCH:
            return .processGone(pid: pid ?? 0)
        case ENOENT:
            if let pid, access("/proc/\(pid)", F_OK) != 0 { return .processGone(pid: pid) }
            return .unavailable(path: path)
        case EACCES, EPERM:
            if let pid, access("/proc/\(pid)", F_OK) != 0 { return .processGone(pid: pid) }
            return .permissionDenied(path: path)
        default:
            return .system(error)
        }
    }
}

/// Reads whole `/proc` files (whose reported size is 0, so they are read until end of file).
enum ProcFile {
    /// Reads all bytes of `path`; `pid` names the process the file belongs to, for error messages.
    static func readBytes(_ path: String, pid: Int32? = nil) throws -> [UInt8] {
        do {
            let fd = try Syscall.openReadOnly(path)
            defer { Syscall.close(fd) }
            var result: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = try chunk.withUnsafeMutableBytes { try Syscall.read(fd, into: $0, path: path) }
                if count == 0 { break }
                result.append(contentsOf: chunk[0..<count])
            }
            return result
        } catch let error as SystemCallError {
            throw ProcError.from(error, path: path, pid: pid)
        } catch {
            throw error
        }
    }

    /// Reads `path` as UTF-8 text.
    static func readText(_ path: String, pid: Int32? = nil) throws -> String {
        String(decoding: try readBytes(path, pid: pid), as: UTF8.self)
    }
}
