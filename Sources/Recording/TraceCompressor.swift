import Foundation
import MemAtlasTraceSchema
import TraceIO

#if canImport(Glibc)
import Glibc
#endif

/// Compresses the started program's trace in `mematlas record`'s own process, on another core:
/// the program's first image writes its records uncompressed (`MEMATLAS_PARENT_COMPRESSES`) and
/// never spends its time in zstd, which is otherwise its costliest part. A thread follows the
/// trace as it grows and compresses it into `TRACE.compressing`; `finish` (after the program
/// ended and its pending records were appended) compresses the rest, writes the header with
/// MA_FLAG_COLUMNS (MA_FLAG_ZSTD for a trace without raw addresses) and renames the result over
/// the trace. Until then, and whenever something fails,
/// the uncompressed trace stays as it is: a valid trace.
///
/// The program writes its addresses raw (MA_FLAG_RAW_ADDRESSES): coding them was the costliest
/// thing the recorder did on the program's own thread. Here the records are coded into column
/// blocks (MA_FLAG_COLUMNS, `ColumnBlockWriter`): each field against a model of the heap that the
/// reader keeps too, which takes about half the bytes of the program's own coding.
final class TraceCompressor {
    static let environmentVariable = "MEMATLAS_PARENT_COMPRESSES"
    /// O_TMPFILE (Linux 3.11), which Glibc's Swift overlay does not name: __O_TMPFILE | O_DIRECTORY.
    static let temporaryFile: Int32 = 0o20000000 | O_DIRECTORY

    private let tracePath: String
    private let zstd: ZstdCompressor
    private let partialPath: String
    private let done = DispatchSemaphore(value: 0)
    /// Signalled when the program ended, so that the follower does not sleep out its pause.
    private let wake = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var programEnded = false
    private var thread: Thread?

    /// nil when zstd cannot be loaded here (the program then compresses its own trace).
    init?(trace: String) {
        guard let zstd = ZstdCompressor() else { return nil }
        self.zstd = zstd
        tracePath = trace
        partialPath = trace + ".compressing"
    }

    /// Starts following the trace.
    func start() {
        let thread = Thread { [self] in
            follow()
            done.signal()
        }
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    /// The program ended (and its pending records are in the trace): compresses what is left and
    /// replaces the trace by its compressed form.
    func finish() {
        lock.lock()
        programEnded = true
        lock.unlock()
        wake.signal()
        done.wait()
    }

    private var hasProgramEnded: Bool {
        lock.lock()
        defer { lock.unlock() }
        return programEnded
    }

    private var abandoned = false
    private var isAbandoned: Bool {
        lock.lock()
        defer { lock.unlock() }
        return abandoned
    }

    /// Stops following a trace whose process is still running (it outlived the recording): the
    /// trace stays as the process writes it, raw, and what was coded of it is dropped.
    func abandon() {
        lock.lock()
        abandoned = true
        lock.unlock()
        wake.signal()
        done.wait()
    }

    private func follow() {
        // The trace appears when the recorder starts in the program.
        var input: Int32 = -1
        while input < 0 {
            input = open(tracePath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            if input >= 0 { break }
            if hasProgramEnded || isAbandoned { return }
            _ = wake.wait(timeout: .now() + .milliseconds(2))
        }
        defer { close(input) }
        // A file with no name until it is complete (O_TMPFILE), so that nothing is left behind when
        // this process is killed first; a named one where the file system cannot do that.
        let directory = (tracePath as NSString).deletingLastPathComponent
        var output = open(directory.isEmpty ? "." : directory, Self.temporaryFile | O_WRONLY | O_CLOEXEC, 0o600)
        let named = output < 0
        if named { output = open(partialPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        guard output >= 0 else { return }
        var keep = false
        defer {
            close(output)
            if named && !keep { unlink(partialPath) }
        }
        let headerSize = Int(MA_TRACE_HEADER_SIZE)
        var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var columns: ColumnBlockWriter?  // known at the first records (the header precedes them)
        var carried = 0  // bytes at the buffer's start: the start of a record cut at the last read
        func write(_ bytes: UnsafeRawBufferPointer, at offset: off_t? = nil) throws {
            var done = 0
            while done < bytes.count {
                let n = offset.map { pwrite(output, bytes.baseAddress! + done, bytes.count - done, $0 + off_t(done)) }
                    ?? Glibc.write(output, bytes.baseAddress! + done, bytes.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw RecordError(message: "\(partialPath): \(String(cString: strerror(errno)))") }
                done += n
            }
        }
        do {
            try write(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<headerSize]))  // the header comes last
            var offset = off_t(headerSize)
            var ended = false
            var pause: useconds_t = 1000  // grows to 20 ms while the program writes nothing
            while true {
                if carried == buffer.count {
                    // One record larger than the buffer (a huge module list): make room.
                    guard buffer.count < 1 << 28 else { return }
                    let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 16)
                    grown.copyMemory(from: UnsafeRawBufferPointer(buffer))
                    buffer.deallocate()
                    buffer = grown
                }
                if isAbandoned { return }
                let n = pread(input, buffer.baseAddress! + carried, buffer.count - carried, offset)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { return }
                if n > 0 {
                    if offset == off_t(headerSize) {
                        let flags = try headerFlags(input)
                        // Written compressed (a process that did not leave it to `record`): nothing to do.
                        guard flags & UInt16(MA_FLAG_ZSTD | MA_FLAG_COLUMNS) == 0 else { return }
                        columns = try columnBlockWriter(flags: flags)
                    }
                    offset += off_t(n)
                    pause = 1000
                    let available = UnsafeRawBufferPointer(rebasing: buffer[0..<(carried + n)])
                    if let columns {
                        guard let consumed = try columns.append(available, write: { try write($0) }) else { return }
                        carried = available.count - consumed
                        if carried > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + consumed, byteCount: carried) }
                    } else {
                        guard try zstd.compress(available, end: false, write: { try write($0) }) else { return }
                    }
                    continue
                }
                // At the end of what is written: once the program has ended, one more read finds
                // anything appended before it was known to have ended.
                if ended { break }
                if hasProgramEnded {
                    ended = true
                } else {
                    _ = wake.wait(timeout: .now() + .microseconds(Int(pause)))
                    pause = min(pause * 2, 20_000)
                }
            }
            // A record cut at the end (a process killed while writing it): its tag alone, which
            // reads as the cut record it is, in any coding.
            let cut = UnsafeRawBufferPointer(rebasing: buffer[0..<min(carried, 1)])
            if let columns {
                guard try columns.finish(cut: cut, write: { try write($0) }) else { return }
            } else {
                guard try zstd.compress(cut, end: true, write: { try write($0) }) else { return }
            }
            // The header as the recorder left it (its flags are final now), marked compressed.
            guard pread(input, buffer.baseAddress, headerSize, 0) == headerSize,
                  memcmp(buffer.baseAddress!, MA_TRACE_MAGIC, Int(MA_TRACE_MAGIC_SIZE)) == 0, Int(buffer[12]) == headerSize
            else { return }
            let flags = UInt16(buffer[10]) | UInt16(buffer[11]) << 8
            guard flags & UInt16(MA_FLAG_ZSTD | MA_FLAG_COLUMNS) == 0 else { return }
            let marked = columns == nil ? flags | UInt16(MA_FLAG_ZSTD) : (flags | UInt16(MA_FLAG_COLUMNS)) & ~UInt16(MA_FLAG_RAW_ADDRESSES)
            buffer[10] = UInt8(marked & 0xff)
            buffer[11] = UInt8(marked >> 8)
            try write(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<headerSize]), at: 0)
            if !named {
                guard linkat(AT_FDCWD, "/proc/self/fd/\(output)", AT_FDCWD, partialPath, AT_SYMLINK_FOLLOW) == 0 else { return }
            }
            keep = true
            guard rename(partialPath, tracePath) == 0 else {
                unlink(partialPath)
                return
            }
        } catch {
            return
        }
    }
}

extension TraceCompressor {
    private func headerFlags(_ input: Int32) throws -> UInt16 {
        var header = [UInt8](repeating: 0, count: Int(MA_TRACE_HEADER_SIZE))
        guard pread(input, &header, header.count, 0) == header.count else {
            throw RecordError(message: "\(tracePath): cannot read the trace header")
        }
        return UInt16(header[10]) | UInt16(header[11]) << 8
    }

    /// A column block writer when the trace's header flags say its addresses are raw, else nil.
    private func columnBlockWriter(flags: UInt16) throws -> ColumnBlockWriter? {
        guard flags & UInt16(MA_FLAG_RAW_ADDRESSES) != 0 else { return nil }
        guard let writer = ColumnBlockWriter() else { throw RecordError(message: "\(tracePath): cannot start the column coder") }
        return writer
    }
}
