import Foundation

/// A trace file that cannot be read, or whose format cannot be told.
public struct TraceFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The one-line message, naming the file.
    public var description: String
}

/// An address trace on disk, read in chunks with `FileHandle` and parsed from bytes: memory stays
/// bounded by the chunk size however long the trace is.
public struct TraceFile: MemoryAccessSource {
    /// The file's path.
    public let path: String
    /// The format of its lines (given or detected).
    public let format: TraceFormat
    /// The page size that turns page reference strings into addresses (bytes).
    public let pageSize: UInt64
    /// How many bytes are read at a time.
    public let chunkSize: Int

    /// Opens `path`; when `format` is nil, detects it from the extension or the first lines.
    /// - Parameters:
    ///   - pageSize: bytes per page, used only for page reference strings.
    ///   - chunkSize: bytes read per `FileHandle` read.
    public init(path: String, format: TraceFormat? = nil, pageSize: UInt64 = 4096, chunkSize: Int = 1 << 20) throws {
        self.path = path
        self.pageSize = pageSize
        self.chunkSize = max(chunkSize, 64)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw TraceFileError(description: "\(path): cannot open the trace file (missing or unreadable)")
        }
        defer { try? handle.close() }
        if let format {
            self.format = format
        } else {
            let head = (try? handle.read(upToCount: 64 * 1024)) ?? Data()
            let detected = head.withUnsafeBytes { TraceFormat.detect(fileName: path, head: $0) }
            guard let detected else {
                throw TraceFileError(description:
                    "\(path): cannot tell the trace format; pass --format lackey, din or refs")
            }
            self.format = detected
        }
    }

    /// Reads the whole file chunk by chunk, calling `body` with the accesses of each chunk's lines.
    public func forEachBatch(_ body: (UnsafeBufferPointer<MemoryAccess>) throws -> Void) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw TraceFileError(description: "\(path): cannot open the trace file (missing or unreadable)")
        }
        defer { try? handle.close() }
        var parser = TraceLineParser(format: format, fileName: path, pageSize: pageSize)
        var pending: [UInt8] = []
        pending.reserveCapacity(chunkSize * 2)
        var accesses: [MemoryAccess] = []
        accesses.reserveCapacity(chunkSize / 8)
        while true {
            let data: Data
            do {
                data = try handle.read(upToCount: chunkSize) ?? Data()
            } catch {
                throw TraceFileError(description: "\(path): read failed: \(error.localizedDescription)")
            }
            let atEnd = data.isEmpty
            pending.append(contentsOf: data)
            // Parse up to and including the last newline; keep the partial line for the next chunk.
            var cut = pending.count
            if !atEnd {
                guard let lastNewline = pending.lastIndex(of: UInt8(ascii: "\n")) else { continue }
                cut = lastNewline + 1
            }
            accesses.removeAll(keepingCapacity: true)
            try pending.withUnsafeBytes { bytes in
                try parser.parse(UnsafeRawBufferPointer(rebasing: bytes[0..<cut]), into: &accesses)
            }
            pending.removeFirst(cut)
            if !accesses.isEmpty {
                try accesses.withUnsafeBufferPointer { try body($0) }
            }
            if atEnd { return }
        }
    }
}
