import Foundation
import MemAtlasTraceSchema

#if canImport(Glibc)
import Glibc
#endif

/// The records a recording process had not yet written to its trace when it died, kept in
/// `TRACE.pending` (layout in the schema header). After the process is gone they are appended to
/// the trace, which then holds every event up to the death.
public enum PendingRecords {
    /// The pending file's suffix (`TRACE.pending`).
    public static let suffix = MA_PENDING_SUFFIX

    /// What `salvage` did with one trace's pending file.
    public enum Outcome: Equatable, Sendable {
        /// No pending file: the process ended normally (or wrote everything).
        case none
        /// The process is still running (or the trace is not writable here): the pending file is
        /// left alone.
        case stillRunning
        /// `bytes` of records were appended to the trace; the pending file is gone.
        case appended(bytes: Int)
        /// The pending file was unusable (not ours, or the process died while writing its trace:
        /// the trace's end is then uncertain); it was removed and the trace left as it was.
        case discarded(reason: String)
    }

    /// Appends the pending records of `trace` (when its process is gone) and removes the pending file.
    /// `processEnded`: the caller knows that the process has ended (a pidfd said so), which a zombie
    /// not yet reaped by its parent does not show to `kill(pid, 0)`.
    @discardableResult
    public static func salvage(trace: String, processEnded: Bool = false) -> Outcome {
        let path = trace + suffix
        guard let data = FileManager.default.contents(atPath: path) else { return .none }
        func u64(_ at: Int) -> UInt64 {
            data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        }
        let headerSize = Int(MA_PENDING_HEADER_SIZE), bufferSize = Int(MA_PENDING_BUFFER_SIZE), buffers = Int(MA_PENDING_BUFFERS)
        guard data.count >= headerSize + buffers * bufferSize, data.prefix(8) == Data(MA_PENDING_MAGIC.utf8) else {
            return discard(path, "not a MemAtlas pending file")
        }
        let pid = pid_t(truncatingIfNeeded: u64(8))
        if !processEnded, pid > 0, kill(pid, 0) == 0 || errno == EPERM { return .stillRunning }
        guard u64(16) == 0 else { return discard(path, "the process died while writing its trace") }
        var pending: [(sequence: UInt64, start: Int, count: Int)] = []
        for i in 0..<buffers {
            let used = Int(clamping: u64(Int(MA_PENDING_USED_OFFSET) + 8 * i))
            guard used > 0 else { continue }
            guard used <= bufferSize else { return discard(path, "buffer \(i) claims \(used) bytes") }
            pending.append((u64(Int(MA_PENDING_SEQUENCE_OFFSET) + 8 * i), headerSize + i * bufferSize, used))
        }
        pending.sort { $0.sequence < $1.sequence }
        var records = Data()
        for buffer in pending { records.append(data[buffer.start..<buffer.start + buffer.count]) }
        // A trace this user may not write keeps its pending file (its owner can complete it).
        guard let trace = FileHandle(forUpdatingAtPath: trace) else { return .stillRunning }
        defer { try? trace.close() }
        let header = (try? trace.read(upToCount: Int(MA_TRACE_HEADER_SIZE))) ?? Data()
        guard header.count == Int(MA_TRACE_HEADER_SIZE), header.prefix(8) == Data(MA_TRACE_MAGIC.utf8) else {
            return discard(path, "the trace has no MemAtlas header")
        }
        let flags = UInt16(header[10]) | UInt16(header[11]) << 8
        // Column blocks are written once the program has ended and its pending records are in
        // its raw trace; their model cannot take more records without decoding every block.
        if flags & UInt16(MA_FLAG_COLUMNS) != 0 { return discard(path, "the trace is already coded in column blocks") }
        if !records.isEmpty {
            _ = try? trace.seekToEnd()
            let compressed = flags & UInt16(MA_FLAG_ZSTD) != 0
            trace.write(compressed ? closingZstdFrame + rawZstdFrame(records) : records)
        }
        unlink(path)
        return .appended(bytes: records.count)
    }

    private static func discard(_ path: String, _ reason: String) -> Outcome {
        unlink(path)
        return .discarded(reason: reason)
    }

    /// An empty last raw block: ends the recorder's zstd frame, which it only ever flushes (no
    /// content checksum is declared, so none follows).
    static let closingZstdFrame = Data([0x01, 0x00, 0x00])

    /// A zstd frame of raw (stored) blocks holding `bytes`: no content size, a 128 KiB window.
    static func rawZstdFrame(_ bytes: Data) -> Data {
        let blockSize = 128 * 1024
        var frame = Data([0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x38])  // magic; descriptor; window 2^(10 + 7)
        var offset = bytes.startIndex
        repeat {
            let count = min(blockSize, bytes.endIndex - offset)
            let last = offset + count == bytes.endIndex ? 1 : 0
            let blockHeader = UInt32(count) << 3 | UInt32(last)  // type 0: raw
            frame.append(contentsOf: [UInt8(blockHeader & 0xff), UInt8(blockHeader >> 8 & 0xff), UInt8(blockHeader >> 16 & 0xff)])
            frame.append(bytes[offset..<offset + count])
            offset += count
        } while offset < bytes.endIndex
        return frame
    }
}
