/// The flags of one physical page from `/proc/kpageflags` (root only).
public struct KernelPageFlags: OptionSet, Hashable, Sendable {
    /// The raw 64-bit flag word.
    public var rawValue: UInt64
    /// Wraps a raw flag word.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 2: accessed recently.
    public static let referenced = KernelPageFlags(rawValue: 1 << 2)
    /// Bit 4: modified, not yet written back.
    public static let dirty = KernelPageFlags(rawValue: 1 << 4)
    /// Bit 5: on an LRU list (reclaimable).
    public static let lru = KernelPageFlags(rawValue: 1 << 5)
    /// Bit 6: on the active LRU list.
    public static let active = KernelPageFlags(rawValue: 1 << 6)
    /// Bit 11: mapped by some process.
    public static let mmap = KernelPageFlags(rawValue: 1 << 11)
    /// Bit 12: anonymous memory.
    public static let anonymous = KernelPageFlags(rawValue: 1 << 12)
    /// Bit 13: in the swap cache.
    public static let swapCache = KernelPageFlags(rawValue: 1 << 13)
    /// Bit 17: part of a hugetlbfs page.
    public static let huge = KernelPageFlags(rawValue: 1 << 17)
    /// Bit 22: part of a transparent huge page.
    public static let transparentHuge = KernelPageFlags(rawValue: 1 << 22)
    /// Bit 24: the shared zero page (what reading untouched anonymous memory maps).
    public static let zeroPage = KernelPageFlags(rawValue: 1 << 24)

    /// Short names of the flags set, in bit order (`"referenced lru active anon"`).
    public var names: [String] {
        let all: [(KernelPageFlags, String)] = [
            (.referenced, "referenced"), (.dirty, "dirty"), (.lru, "lru"), (.active, "active"),
            (.mmap, "mmap"), (.anonymous, "anon"), (.swapCache, "swapcache"), (.huge, "huge"),
            (.transparentHuge, "thp"), (.zeroPage, "zero"),
        ]
        return all.filter { contains($0.0) }.map(\.1)
    }
}

/// Reads `/proc/kpageflags`, one 64-bit word per physical frame.
public final class KernelPageFlagsReader {
    private let fd: FileDescriptor
    private static let path = "/proc/kpageflags"

    /// Opens `/proc/kpageflags`; throws `ProcError.permissionDenied` unless root.
    public init() throws {
        do { fd = try Syscall.openReadOnly(Self.path) } catch let error as SystemCallError {
            throw ProcError.from(error, path: Self.path, pid: nil)
        }
    }

    deinit { Syscall.close(fd) }

    /// The flags of `frame`.
    public func flags(of frame: FrameNumber) throws -> KernelPageFlags {
        try flags(ofRunFrom: frame, count: 1)[0]
    }

    /// The flags of `count` consecutive frames starting at `frame`.
    public func flags(ofRunFrom frame: FrameNumber, count: Int) throws -> [KernelPageFlags] {
        var words = [UInt64](repeating: 0, count: count)
        let got = try words.withUnsafeMutableBytes {
            try Syscall.pread(fd, into: $0, at: frame.rawValue * 8, path: Self.path)
        }
        return words[0..<(got / 8)].map { KernelPageFlags(rawValue: $0) }
    }
}
