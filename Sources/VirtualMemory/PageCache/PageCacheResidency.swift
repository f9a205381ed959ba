import Glibc

/// How much of one file sits in the page cache, from `mmap` + `mincore`.
public struct FileResidency: Sendable {
    /// The file's path as given.
    public var path: String
    /// The file's size in bytes.
    public var sizeBytes: UInt64
    /// The page size in bytes.
    public var pageSize: UInt64
    /// One flag per page of the file: true when the page is in the page cache.
    public var residentPages: [Bool]

    /// Pages the file spans.
    public var pageCount: Int { residentPages.count }
    /// Pages in the page cache.
    public var residentCount: Int { residentPages.lazy.filter { $0 }.count }
    /// Bytes of the file in the page cache (whole pages).
    public var residentBytes: UInt64 { UInt64(residentCount) * pageSize }

    /// The resident pages as half-open ranges of page indices, in order.
    public var residentRanges: [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start: Int?
        for (index, resident) in residentPages.enumerated() {
            if resident, start == nil { start = index }
            if !resident, let s = start { ranges.append(s..<index); start = nil }
        }
        if let s = start { ranges.append(s..<residentPages.count) }
        return ranges
    }
}

/// Measures and changes page-cache residency of files.
public enum PageCache {
    /// Measures which pages of `path` are in the page cache (maps the file read-only and asks `mincore`).
    public static func residency(of path: String) throws -> FileResidency {
        let fd = try Syscall.openReadOnly(path)
        defer { Syscall.close(fd) }
        let size = try Syscall.fileSize(fd, path: path)
        let pageSize = UInt64(Syscall.pageSize)
        let pages = Int((size + pageSize - 1) / pageSize)
        guard pages > 0 else { return FileResidency(path: path, sizeBytes: size, pageSize: pageSize, residentPages: []) }
        let address = try Syscall.mapFile(fd, length: Int(size), path: path)
        defer { Syscall.unmap(address, length: Int(size)) }
        var vector = [UInt8](repeating: 0, count: pages)
        try vector.withUnsafeMutableBufferPointer { try Syscall.mincore(address, length: Int(size), into: $0.baseAddress!, path: path) }
        return FileResidency(path: path, sizeBytes: size, pageSize: pageSize, residentPages: vector.map { $0 & 1 != 0 })
    }

    /// Asks the kernel to drop the file's clean pages from the page cache (`POSIX_FADV_DONTNEED`).
    public static func evict(_ path: String) throws {
        let fd = try Syscall.openReadOnly(path)
        defer { Syscall.close(fd) }
        try Syscall.fadvise(fd, offset: 0, length: 0, advice: POSIX_FADV_DONTNEED, path: path)
    }

    /// Reads `length` bytes at `offset` with read-ahead turned off (`POSIX_FADV_RANDOM`), so that only
    /// those pages enter the page cache.
    public static func readWithoutReadahead(_ path: String, offset: UInt64, length: Int) throws {
        let fd = try Syscall.openReadOnly(path)
        defer { Syscall.close(fd) }
        try Syscall.fadvise(fd, offset: 0, length: 0, advice: POSIX_FADV_RANDOM, path: path)
        var buffer = [UInt8](repeating: 0, count: Syscall.pageSize)
        var done = 0
        while done < length {
            let chunk = min(buffer.count, length - done)
            let got = try buffer.withUnsafeMutableBytes {
                try Syscall.pread(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<chunk]), at: offset + UInt64(done), path: path)
            }
            if got == 0 { break }
            done += got
        }
    }
}
