import Glibc

/// One 64-bit entry of `/proc/PID/pagemap`: what backs one virtual page.
public struct PageMapEntry: Hashable, Sendable {
    /// The raw entry.
    public var rawValue: UInt64
    /// Wraps a raw entry.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bit 63: the page is in RAM.
    public var isPresent: Bool { rawValue & (1 << 63) != 0 }
    /// Bit 62: the page is in swap.
    public var isSwapped: Bool { rawValue & (1 << 62) != 0 }
    /// Bit 61: the page is a file page or shared anonymous memory.
    public var isFileOrSharedAnonymous: Bool { rawValue & (1 << 61) != 0 }
    /// Bit 56: the page is mapped by this process only.
    public var isExclusivelyMapped: Bool { rawValue & (1 << 56) != 0 }
    /// Bit 55: the page was written since the soft-dirty bits were last cleared.
    public var isSoftDirty: Bool { rawValue & (1 << 55) != 0 }
    /// Bits 0-54 of a present page: its physical frame (nil when absent, or zero because the reader is not root).
    public var frame: FrameNumber? {
        guard isPresent else { return nil }
        let pfn = rawValue & ((1 << 55) - 1)
        return pfn == 0 ? nil : FrameNumber(pfn)
    }
    /// Bits 0-4 of a swapped page: the swap area.
    public var swapType: UInt64? { isSwapped ? rawValue & 0x1f : nil }
    /// Bits 5-54 of a swapped page: the slot in the swap area.
    public var swapOffset: UInt64? { isSwapped ? (rawValue >> 5) & ((1 << 50) - 1) : nil }

    /// The state this entry describes.
    public var state: PageState {
        if isPresent { return .present }
        if isSwapped { return .swapped }
        return .notPresent
    }
}

/// Where a virtual page lives right now.
public enum PageState: String, CaseIterable, Sendable {
    /// In RAM (backed by a physical frame).
    case present
    /// Written out to swap.
    case swapped
    /// Neither in RAM nor in swap: never touched (or a clean file page that was dropped).
    case notPresent = "not present"
}

/// Reads `/proc/PID/pagemap` in batches of entries.
public final class PageMapReader {
    /// Entries read by one `pread` (8 bytes each: 64 Ki entries = 512 KiB, covering 256 MiB of 4 KiB pages).
    public static let batchEntries = 64 * 1024

    /// The process whose page map this is.
    public let pid: Int32
    /// The base page size in bytes.
    public let pageSize: UInt64
    private let fd: FileDescriptor
    private let path: String
    private var buffer: [UInt64]

    /// Opens the page map of `pid`.
    public init(pid: Int32) throws {
        self.pid = pid
        self.path = "/proc/\(pid)/pagemap"
        self.pageSize = UInt64(Syscall.pageSize)
        do { fd = try Syscall.openReadOnly(path) } catch let error as SystemCallError {
            throw ProcError.from(error, path: path, pid: pid)
        }
        buffer = [UInt64](repeating: 0, count: Self.batchEntries)
    }

    deinit { Syscall.close(fd) }

    /// Calls `body` once per batch with the entries of pages `firstPage ..< firstPage + count` in order:
    /// the first page number of the batch and its entries.
    public func forEachBatch(
        firstPage: UInt64, count: UInt64, _ body: (UInt64, UnsafeBufferPointer<UInt64>) throws -> Void
    ) throws {
        var page = firstPage
        let endPage = firstPage + count
        while page < endPage {
            let want = Int(min(UInt64(Self.batchEntries), endPage - page))
            let got: Int
            do {
                got = try buffer.withUnsafeMutableBytes { raw in
                    try Syscall.pread(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<(want * 8)]),
                                      at: page * 8, path: path)
                }
            } catch let error as SystemCallError {
                throw ProcError.from(error, path: path, pid: pid)
            }
            var entries = got / 8
            if entries == 0 {
                // End of file: the process is gone, or the range lies above the user address space
                // (`[vsyscall]`), which has no page-table entries to report.
                if access("/proc/\(pid)", F_OK) != 0 { throw ProcError.processGone(pid: pid) }
                entries = want
                buffer.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            }
            try buffer.withUnsafeBufferPointer { try body(page, UnsafeBufferPointer(rebasing: $0[0..<entries])) }
            page += UInt64(entries)
        }
    }

    /// The entry of the page holding `address`.
    public func entry(at address: VirtualAddress) throws -> PageMapEntry {
        var result = PageMapEntry(rawValue: 0)
        try forEachBatch(firstPage: address.rawValue / pageSize, count: 1) { _, entries in
            result = PageMapEntry(rawValue: entries[0])
        }
        return result
    }
}
