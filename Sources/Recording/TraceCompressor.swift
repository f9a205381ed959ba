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
/// MA_FLAG_ZSTD and renames the result over the trace. Until then, and whenever something fails,
/// the uncompressed trace stays as it is: a valid trace.
///
/// The program writes its addresses raw (MA_FLAG_RAW_ADDRESSES): their move-to-front coding was
/// the costliest thing the recorder did on the program's own thread. They are coded here, record by
/// record, before zstd (`ma_transcode_raw_addresses`), so the trace on disk is the same as when
/// the program codes them itself.
final class TraceCompressor {
    static let environmentVariable = "MEMATLAS_PARENT_COMPRESSES"
    /// O_TMPFILE (Linux 3.11), which Glibc's Swift overlay does not name: __O_TMPFILE | O_DIRECTORY.
    static let temporaryFile: Int32 = 0o20000000 | O_DIRECTORY

    private let tracePath: String
    private let zstd: ZstdCompressor
    private let partialPath: String
    private let done = DispatchSemaphore(value: 0)
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
        done.wait()
    }

    private var hasProgramEnded: Bool {
        lock.lock()
        defer { lock.unlock() }
        return programEnded
    }

    private func follow() {
        // The trace appears when the recorder starts in the program.
        var input: Int32 = -1
        while input < 0 {
            input = open(tracePath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            if input >= 0 { break }
            if hasProgramEnded { return }
            usleep(2000)
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
        var transcoder: RawAddressTranscoder?  // known at the first records (the header precedes them)
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
                let n = pread(input, buffer.baseAddress! + carried, buffer.count - carried, offset)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { return }
                if n > 0 {
                    if offset == off_t(headerSize) {
                        transcoder = try rawAddressTranscoder(input)
                    }
                    offset += off_t(n)
                    pause = 1000
                    let available = UnsafeRawBufferPointer(rebasing: buffer[0..<(carried + n)])
                    if let transcoder {
                        guard let consumed = try transcoder.transcode(available, to: { try zstd.compress($0, end: false, write: { try write($0) }) })
                        else { return }
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
                    usleep(pause)
                    pause = min(pause * 2, 20_000)
                }
            }
            // A record cut at the end (a process killed while writing it): its tag alone, which
            // reads as the cut record it is, in either address coding.
            let cut = UnsafeRawBufferPointer(rebasing: buffer[0..<min(carried, 1)])
            guard try zstd.compress(cut, end: true, write: { try write($0) }) else { return }
            // The header as the recorder left it (its flags are final now), marked compressed.
            guard pread(input, buffer.baseAddress, headerSize, 0) == headerSize,
                  memcmp(buffer.baseAddress!, MA_TRACE_MAGIC, Int(MA_TRACE_MAGIC_SIZE)) == 0, Int(buffer[12]) == headerSize
            else { return }
            let flags = UInt16(buffer[10]) | UInt16(buffer[11]) << 8
            guard flags & UInt16(MA_FLAG_ZSTD) == 0 else { return }
            let marked = (flags | UInt16(MA_FLAG_ZSTD)) & ~(transcoder == nil ? 0 : UInt16(MA_FLAG_RAW_ADDRESSES))
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
    /// A transcoder when the trace's header says its addresses are raw, else nil.
    private func rawAddressTranscoder(_ input: Int32) throws -> RawAddressTranscoder? {
        var header = [UInt8](repeating: 0, count: Int(MA_TRACE_HEADER_SIZE))
        guard pread(input, &header, header.count, 0) == header.count else {
            throw RecordError(message: "\(tracePath): cannot read the trace header")
        }
        let flags = UInt16(header[10]) | UInt16(header[11]) << 8
        return flags & UInt16(MA_FLAG_RAW_ADDRESSES) != 0 ? RawAddressTranscoder() : nil
    }
}

/// Codes the raw addresses of a record stream (schema: adr), whole records at a time.
public final class RawAddressTranscoder {
    private var coder = ma_address_coder()
    private var output: [UInt8] = []

    public init() {}

    /// Transcodes the whole records at the start of `input`, handing the coded bytes to `consume`;
    /// returns the bytes of `input` it used (a record cut at its end is left), nil at a record it
    /// cannot read.
    public func transcode(_ input: UnsafeRawBufferPointer, to consume: (UnsafeRawBufferPointer) throws -> Bool) throws -> Int? {
        guard let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0 }
        // Room for all the input's records: metadata is copied, an event grows by at most 4 bytes.
        if output.count < 2 * input.count + 64 { output = [UInt8](repeating: 0, count: 2 * input.count + 64) }
        var used = 0
        while used < input.count {
            var written = 0
            let consumed = output.withUnsafeMutableBufferPointer { out in
                ma_transcode_raw_addresses(&coder, base + used, input.count - used, out.baseAddress, out.count, &written)
            }
            if written > 0 {
                guard try output.withUnsafeBytes({ try consume(UnsafeRawBufferPointer(rebasing: $0[0..<written])) }) else { return nil }
            }
            guard consumed >= 0 else { return nil }
            if consumed == 0 { break }
            used += consumed
        }
        return used
    }
}
