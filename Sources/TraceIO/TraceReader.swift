#if canImport(Glibc)
import Glibc
#endif
import MemAtlasTraceSchema
import TraceModel

/// Receives a trace's events in stream order while `TraceReader.read` decodes them.
public protocol TraceVisitor {
    /// An allocator call. The reader reuses the value; copy what you keep.
    mutating func visit(_ event: TraceEvent)
    /// A sample tick: the time (ns since start) and the resident set size (bytes) at that moment.
    mutating func visitTick(timeNs: UInt64, residentBytes: UInt64)
}

extension TraceVisitor {
    public mutating func visitTick(timeNs: UInt64, residentBytes: UInt64) {}
}

/// How a read ended.
public enum TraceCompleteness: Sendable, Equatable {
    /// The trace has the process's exit (or exec) record: nothing is missing.
    case complete
    /// The trace stops without an exit record: the process was killed or crashed, or the file was
    /// cut. Everything up to the last whole record was read.
    case truncated(reason: String)
}

/// The fixed header at the start of every trace file.
public struct TraceFileHeader: Sendable {
    /// The format version (`MA_TRACE_VERSION`).
    public var version: UInt16
    /// `MA_FLAG_*` bits.
    public var flags: UInt16
    /// The pid of the process that wrote the trace.
    public var pid: UInt64
    /// True when the record stream is zstd-compressed.
    public var isCompressed: Bool { flags & UInt16(MA_FLAG_ZSTD) != 0 }
}

/// A module map in effect from a point of the trace on.
public struct ModuleMap: Sendable {
    /// The number of stacks defined before this map arrived: stacks with a higher id were
    /// captured while it was in effect.
    public var stacksBefore: UInt32
    /// The loaded modules.
    public var modules: [Module]
}

/// Reads a MemAtlas trace file as a stream, with bounded memory: events go to a visitor, and the
/// reader keeps only the metadata (stacks, module maps, thread names) that reports need.
public final class TraceReader {
    /// The trace file's path.
    public let path: String
    /// The file header.
    public let header: TraceFileHeader
    /// The process record (after `read`).
    public private(set) var process: ProcessRecord?
    /// Every call stack of the trace (after `read`).
    public private(set) var stacks = StackTable()
    /// Module maps in the order they appeared (after `read`).
    public private(set) var moduleMaps: [ModuleMap] = []
    /// Thread names by thread (after `read`).
    public private(set) var threadNames: [ThreadID: String] = [:]
    /// How the process ended (after `read`).
    public private(set) var processEnd: ProcessEnd = .unknown
    /// The program the process exec'd, when it did.
    public private(set) var execPath: String?
    /// Whether the last read saw the whole trace.
    public private(set) var completeness: TraceCompleteness = .complete
    /// Allocator events in the last read.
    public private(set) var eventCount: UInt64 = 0
    /// Time of the last tick or exit record, in ns since the process started.
    public private(set) var durationNs: UInt64 = 0
    /// The trace file's size in bytes.
    public let fileSize: UInt64

    private let fd: Int32

    /// Opens a trace and checks its header.
    /// - Throws: `TraceFormatError` for a file that is not a MemAtlas trace of this version, or
    ///   `TraceOpenError` when the file cannot be opened.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TraceOpenError(path: path, errno: errno) }
        self.fd = fd
        var info = stat()
        fstat(fd, &info)
        fileSize = UInt64(info.st_size)
        var raw = [UInt8](repeating: 0, count: Int(MA_TRACE_HEADER_SIZE))
        let got = raw.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        let magic = Array(MA_TRACE_MAGIC.utf8)
        guard got >= 8, Array(raw[0..<8]) == magic else {
            close(fd)
            throw TraceFormatError(path: path, offset: 0, message: "not a MemAtlas trace (expected the magic \"MEMATLAS\")")
        }
        guard got == raw.count else {
            close(fd)
            throw TraceFormatError(path: path, offset: UInt64(max(got, 0)), message: "the file ends inside the \(MA_TRACE_HEADER_SIZE)-byte header")
        }
        func u16(_ at: Int) -> UInt16 { UInt16(raw[at]) | UInt16(raw[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
        func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
        let version = u16(8)
        guard version == MA_TRACE_VERSION else {
            close(fd)
            throw TraceFormatError(path: path, offset: 8, message: "format version \(version), this MemAtlas reads version \(MA_TRACE_VERSION)")
        }
        guard u32(12) == MA_TRACE_HEADER_SIZE else {
            close(fd)
            throw TraceFormatError(path: path, offset: 12, message: "header size \(u32(12)), expected \(MA_TRACE_HEADER_SIZE)")
        }
        header = TraceFileHeader(version: version, flags: u16(10), pid: u64(16))
        if header.flags & ~UInt16(MA_FLAG_ZSTD) != 0 {
            close(fd)
            throw TraceFormatError(path: path, offset: 10, message: "unknown header flags 0x\(String(header.flags, radix: 16))")
        }
    }

    deinit { close(fd) }

    /// Reads the whole trace, handing every event to `visitor` in stream order.
    /// - Parameter progress: called now and then with the number of file bytes consumed so far.
    /// - Throws: `TraceFormatError` at the first corrupt record (events before it were visited).
    public func read<V: TraceVisitor>(into visitor: inout V, progress: ((UInt64) -> Void)? = nil) throws {
        stacks = StackTable()
        moduleMaps = []
        threadNames = [:]
        processEnd = .unknown
        execPath = nil
        process = nil
        eventCount = 0
        durationNs = 0
        var source = try ByteSource(reader: self)
        var decoder = RecordDecoder()
        var sawEnd = false
        while true {
            let more = try source.fill()
            let consumed = try source.withAvailable { bytes in
                try decoder.decode(bytes, reader: self, visitor: &visitor, atEnd: !more, sawEnd: &sawEnd, streamOffset: source.streamOffset)
            }
            source.consume(consumed)
            progress?(source.fileOffset)
            if !more {
                let leftover = source.available
                eventCount = decoder.events
                durationNs = decoder.timeNs
                if sawEnd {
                    completeness = .complete
                } else if leftover > 0 {
                    completeness = .truncated(reason: "the trace ends inside a record (\(leftover) bytes of it): the process was killed or the file was cut")
                } else if let detail = source.truncationDetail {
                    completeness = .truncated(reason: detail)
                } else {
                    completeness = .truncated(reason: "the trace has no exit record: the process was killed or crashed before it could exit")
                }
                return
            }
        }
    }

    // MARK: Metadata records (called by the decoder)

    fileprivate func setProcess(_ record: ProcessRecord) { process = record }
    fileprivate func addModuleMap(_ modules: [Module]) {
        moduleMaps.append(ModuleMap(stacksBefore: UInt32(stacks.count), modules: modules))
    }
    fileprivate func setThreadName(_ thread: ThreadID, _ name: String) { threadNames[thread] = name }
    fileprivate func setEnd(_ end: ProcessEnd, exec: String? = nil) {
        processEnd = end
        if let exec { execPath = exec }
    }

    fileprivate func readFile(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        while true {
            let n = pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw TraceFormatError(path: path, offset: offset, message: "read failed: \(String(cString: strerror(errno)))")
        }
    }
}

/// A trace file that cannot be opened.
public struct TraceOpenError: Error, CustomStringConvertible, Sendable {
    /// The path.
    public var path: String
    /// The errno of the failed open.
    public var errno: Int32
    public var description: String { "\(path): \(String(cString: strerror(errno)))" }
}

/// All call stacks of a trace: frames stored flat, indexed by stack id.
public struct StackTable: Sendable {
    /// Frame addresses of all stacks, innermost first, one stack after another.
    public private(set) var frames: [UInt64] = []
    /// `starts[id - 1] ..< starts[id]` indexes a stack's frames in `frames`.
    public private(set) var starts: [UInt32] = [0]

    /// Creates an empty table.
    public init() {}

    /// The number of stacks.
    public var count: Int { starts.count - 1 }

    /// The frames of a stack, innermost first (empty for `StackID.none` or an unknown id).
    public func frames(of id: StackID) -> ArraySlice<UInt64> {
        let i = Int(id.rawValue)
        guard i >= 1, i < starts.count else { return [] }
        return frames[Int(starts[i - 1])..<Int(starts[i])]
    }

    /// Appends a stack; returns its id.
    @discardableResult
    public mutating func append<C: Collection>(_ stackFrames: C) -> StackID where C.Element == UInt64 {
        frames.append(contentsOf: stackFrames)
        starts.append(UInt32(frames.count))
        return StackID(UInt32(count))
    }
}

// MARK: - Byte source: the file, decompressed when needed, as a window of whole bytes

private struct ByteSource {
    let reader: TraceReader
    private var zstd: ZstdDecompressor?
    private var input: UnsafeMutableRawBufferPointer
    private var inputStart = 0, inputEnd = 0
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0, end = 0
    private var eof = false
    /// File bytes read so far.
    private(set) var fileOffset: UInt64
    /// Decompressed bytes consumed before the window's start.
    private(set) var streamOffset: UInt64 = 0
    private(set) var truncationDetail: String?

    static let maxRecordBytes = 64 << 20

    init(reader: TraceReader) throws {
        self.reader = reader
        fileOffset = UInt64(MA_TRACE_HEADER_SIZE)
        input = .allocate(byteCount: 1 << 20, alignment: 16)
        buffer = .allocate(byteCount: 4 << 20, alignment: 16)
        if reader.header.isCompressed {
            guard let z = ZstdDecompressor() else {
                throw TraceFormatError(path: reader.path, offset: 10, message: "the trace is zstd-compressed but libzstd.so.1 cannot be loaded")
            }
            zstd = z
        }
    }

    var available: Int { end - start }

    func withAvailable<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[start..<end]))
    }

    mutating func consume(_ count: Int) {
        start += count
        streamOffset += UInt64(count)
    }

    /// Tops up the window; returns false once the trace has no more bytes.
    mutating func fill() throws -> Bool {
        if eof { return false }
        // Keep the unconsumed tail (a record cut at the window's end) and grow when a single
        // record needs more room than the whole window.
        if start > 0 {
            if end > start { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: end - start) }
            end -= start
            start = 0
        } else if end == buffer.count {
            guard buffer.count < Self.maxRecordBytes else {
                throw TraceFormatError(path: reader.path, offset: streamOffset, inRecordStream: true, message: "a record longer than \(Self.maxRecordBytes) bytes: the trace is corrupt")
            }
            let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 16)
            grown.baseAddress!.copyMemory(from: buffer.baseAddress!, byteCount: end)
            buffer.deallocate()
            buffer = grown
        }
        var produced = false
        while end < buffer.count {
            if inputStart == inputEnd {
                let n = try reader.readFile(into: input, at: fileOffset)
                if n == 0 {
                    eof = true
                    return end > start || produced
                }
                fileOffset += UInt64(n)
                inputStart = 0
                inputEnd = n
            }
            let room = UnsafeMutableRawBufferPointer(rebasing: buffer[end...])
            if let zstd {
                do {
                    let (used, made) = try zstd.decompress(
                        input: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(input)[inputStart..<inputEnd]),
                        output: room)
                    inputStart += used
                    end += made
                    if made > 0 { produced = true }
                    if used == 0 && made == 0 { break }
                } catch let error as ZstdError {
                    let at = fileOffset - UInt64(inputEnd - inputStart)
                    // A corrupt compressed block: keep what came before it and stop there.
                    eof = true
                    truncationDetail = "corrupt compressed data near file offset \(at) (\(error.name)); the events before it were read"
                    return end > start
                }
            } else {
                let n = min(room.count, inputEnd - inputStart)
                room.baseAddress!.copyMemory(from: input.baseAddress! + inputStart, byteCount: n)
                inputStart += n
                end += n
                produced = true
            }
            if end - start >= 64 << 10 { break }
        }
        return true
    }
}

// MARK: - Record decoder

/// The adr field decoder (schema: adr): the last delta-coded address and the FREED and ALLOCATED
/// move-to-front lists, kept exactly as the writer keeps them.
struct AddressDecoder {
    var previous: UInt64 = 0
    var freed: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    var allocated: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    @inline(__always) mutating func decode(_ v: UInt64, released: Bool, bad: inout Bool) -> UInt64 {
        let address: UInt64
        if v & 1 == 1 {
            let index = Int(v >> 1)
            if index == 2 * Int(MA_ADDRESS_CACHE) { return 0 }
            guard index < 2 * Int(MA_ADDRESS_CACHE) else {
                bad = true
                return 0
            }
            address = index < Int(MA_ADDRESS_CACHE)
                ? withUnsafeBytes(of: &freed) { $0.load(fromByteOffset: index * 8, as: UInt64.self) }
                : withUnsafeBytes(of: &allocated) { $0.load(fromByteOffset: (index - Int(MA_ADDRESS_CACHE)) * 8, as: UInt64.self) }
        } else {
            let z = v >> 2
            let delta = Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1)))
            previous = previous &+ UInt64(bitPattern: v & 2 == 0 ? delta &* 16 : delta)
            address = previous
        }
        if released { Self.moveToFront(&freed, address) } else { Self.moveToFront(&allocated, address) }
        return address
    }

    @inline(__always) static func moveToFront(_ list: inout (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64), _ address: UInt64) {
        withUnsafeMutableBytes(of: &list) { raw in
            let entries = raw.bindMemory(to: UInt64.self)
            var i = 0
            while i < entries.count - 1 && entries[i] != address { i += 1 }
            while i > 0 {
                entries[i] = entries[i - 1]
                i -= 1
            }
            entries[0] = address
        }
    }
}

private struct RecordDecoder {
    var addresses = AddressDecoder()
    var previousStack: UInt64 = 0
    var thread = ThreadID(0)
    var timeNs: UInt64 = 0
    var events: UInt64 = 0
    var knownStacks: UInt64 = 0
    var event = TraceEvent()

    /// Decodes whole records from `bytes`; returns how many bytes it consumed. A record cut at the
    /// end is left for the next call (or reported by the caller when the trace ends there).
    mutating func decode<V: TraceVisitor>(
        _ bytes: UnsafeRawBufferPointer, reader: TraceReader, visitor: inout V, atEnd: Bool, sawEnd: inout Bool,
        streamOffset: UInt64
    ) throws -> Int {
        guard var p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0 }
        let base = p
        let end = p + bytes.count
        var cut = false
        var overlong = false

        @inline(__always) func uv() -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while p < end {
                let byte = p.pointee
                p += 1
                result |= UInt64(byte & 0x7f) << shift
                if byte < 0x80 { return result }
                shift += 7
                if shift > 63 {
                    overlong = true
                    return 0
                }
            }
            cut = true
            return 0
        }
        @inline(__always) func sv() -> Int64 {
            let v = uv()
            return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
        }
        @inline(__always) func adr(_ coder: inout AddressDecoder, released: Bool) -> UInt64 {
            coder.decode(uv(), released: released, bad: &overlong)
        }
        @inline(__always) func stk(_ previous: inout UInt64) -> UInt64 {
            previous = previous &+ UInt64(bitPattern: sv())
            return previous
        }
        func str() -> String? {
            let n = uv()
            guard !cut, n <= UInt64(end - p) else {
                cut = true
                return nil
            }
            let s = String(decoding: UnsafeBufferPointer(start: p, count: Int(n)), as: UTF8.self)
            p += Int(n)
            return s
        }
        func corrupt(_ at: UnsafePointer<UInt8>, _ message: String) -> TraceFormatError {
            TraceFormatError(path: reader.path, offset: streamOffset + UInt64(at - base), inRecordStream: true, message: message)
        }

        var committed = p
        while p < end {
            let recordStart = p
            let tag = p.pointee
            p += 1
            var coder = addresses
            var stackID = previousStack
            switch Int32(tag) {
            case MA_REC_MALLOC, MA_REC_CALLOC, MA_REC_VALLOC, MA_REC_PVALLOC:
                event.size = uv()
                event.alignment = 0
                let stack = stk(&stackID)
                event.address = Address(adr(&coder, released: false))
                if cut { break }
                if stack > knownStacks { throw corrupt(recordStart, "stack id \(stack) used before it was defined") }
                event.stack = StackID(UInt32(truncatingIfNeeded: stack))
                event.function = AllocationFunction(rawValue: tag)!
            case MA_REC_POSIX_MEMALIGN, MA_REC_ALIGNED_ALLOC, MA_REC_MEMALIGN:
                event.size = uv()
                event.alignment = uv()
                let stack = stk(&stackID)
                event.address = Address(adr(&coder, released: false))
                if cut { break }
                if stack > knownStacks { throw corrupt(recordStart, "stack id \(stack) used before it was defined") }
                event.stack = StackID(UInt32(truncatingIfNeeded: stack))
                event.function = AllocationFunction(rawValue: tag)!
            case MA_REC_FREE:
                event.address = Address(adr(&coder, released: true))
                event.function = .free
                event.stack = .none
                event.size = 0
            case MA_REC_REALLOC, MA_REC_REALLOCARRAY:
                event.oldAddress = Address(adr(&coder, released: true))
                event.size = uv()
                let stack = stk(&stackID)
                event.address = Address(adr(&coder, released: false))
                if cut { break }
                if stack > knownStacks { throw corrupt(recordStart, "stack id \(stack) used before it was defined") }
                event.stack = StackID(UInt32(truncatingIfNeeded: stack))
                event.alignment = 0
                event.function = AllocationFunction(rawValue: tag)!
            case MA_REC_MMAP:
                event.size = uv()
                event.protection = UInt32(truncatingIfNeeded: uv())
                event.flags = UInt32(truncatingIfNeeded: uv())
                let stack = stk(&stackID)
                event.address = Address(adr(&coder, released: false))
                if cut { break }
                if stack > knownStacks { throw corrupt(recordStart, "stack id \(stack) used before it was defined") }
                event.stack = StackID(UInt32(truncatingIfNeeded: stack))
                event.function = .mmap
            case MA_REC_MUNMAP:
                event.address = Address(adr(&coder, released: true))
                event.size = uv()
                event.stack = .none
                event.function = .munmap
            case MA_REC_MREMAP:
                event.oldAddress = Address(adr(&coder, released: true))
                event.oldSize = uv()
                event.size = uv()
                let stack = stk(&stackID)
                event.address = Address(adr(&coder, released: false))
                if cut { break }
                if stack > knownStacks { throw corrupt(recordStart, "stack id \(stack) used before it was defined") }
                event.stack = StackID(UInt32(truncatingIfNeeded: stack))
                event.function = .mremap
            case MA_REC_STACK:
                let count = uv()
                if cut { break }
                guard count <= 4096 else { throw corrupt(recordStart, "a stack of \(count) frames (at most 4096 expected)") }
                var frames = [UInt64]()
                frames.reserveCapacity(Int(count))
                var ip: UInt64 = 0
                for _ in 0..<count {
                    ip = ip &+ UInt64(bitPattern: sv())
                    frames.append(ip)
                }
                if cut { break }
                reader.stacksAppend(frames)
                knownStacks += 1
                if overlong { throw corrupt(recordStart, "a varint longer than 10 bytes") }
                committed = p
                continue
            case MA_REC_THREAD:
                let tid = uv()
                if cut { break }
                thread = ThreadID(UInt32(truncatingIfNeeded: tid))
                if overlong { throw corrupt(recordStart, "a varint longer than 10 bytes") }
                committed = p
                continue
            case MA_REC_THREAD_NAME:
                let tid = uv()
                guard let name = str() else { break }
                reader.setThreadName(ThreadID(UInt32(truncatingIfNeeded: tid)), name)
                if overlong { throw corrupt(recordStart, "a varint longer than 10 bytes") }
                committed = p
                continue
            case MA_REC_TICK:
                let t = uv()
                let rss = uv()
                if cut { break }
                timeNs = t
                let pageSize = reader.process?.pageSize ?? 4096
                visitor.visitTick(timeNs: t, residentBytes: rss &* pageSize)
                if overlong { throw corrupt(recordStart, "a varint longer than 10 bytes") }
                committed = p
                continue
            case MA_REC_PROCESS:
                let pid = uv(), ppid = uv(), unix = uv()
                _ = uv()  // monotonic start: times in the trace are relative to it already
                let page = uv(), unwinder = uv(), depth = uv(), interval = uv()
                guard let exe = str(), let cmdline = str() else { break }
                reader.setProcess(ProcessRecord(
                    pid: UInt32(truncatingIfNeeded: pid), parentPID: UInt32(truncatingIfNeeded: ppid), startUnixNs: unix,
                    pageSize: page == 0 ? 4096 : page, unwinder: Unwinder(rawValue: UInt8(truncatingIfNeeded: unwinder)) ?? .none,
                    maxDepth: UInt32(truncatingIfNeeded: depth), sampleIntervalNs: interval, executable: exe,
                    arguments: cmdline.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)))
                if overlong { throw corrupt(recordStart, "a varint longer than 10 bytes") }
                committed = p
                continue
            case MA_REC_MODULES:
                let count = uv()
                if cut { break }
                guard count <= 1 << 20 else { throw corrupt(recordStart, "a module map of \(count) modules") }
                var modules: [Module] = []
                for _ in 0..<count {
                    let bias = uv()
                    guard let path = str() else { break }
                    let idLength = uv()
                    guard !cut, idLength <= UInt64(end - p) else {
                        cut = true
                        break
                    }
                    let buildID = Array(UnsafeBufferPointer(start: p, count: Int(idLength)))
                    p += Int(idLength)
                    let segmentCount = uv()
                    guard !cut, segmentCount <= 4096 else {
                        if !cut { throw corrupt(recordStart, "a module with \(segmentCount) segments") }
                        break
                    }
                    var segments: [Module.Segment] = []
                    for _ in 0..<segmentCount {
                        let vaddr = uv(), size = uv(), flags = uv()
                        segments.append(Module.Segment(fileAddress: vaddr, size: size, flags: UInt8(truncatingIfNeeded: flags)))
                    }
                    modules.append(Module(path: path, loadBias: bias, buildID: buildID, segments: segments))
                }
                if cut { break }
                reader.addModuleMap(modules)
                if overlong { throw corrupt(recordStart, "a varint longer than 10 bytes") }
                committed = p
                continue
            case MA_REC_EXEC:
                guard let path = str() else { break }
                reader.setEnd(.exec, exec: path)
                sawEnd = true
                if overlong { throw corrupt(recordStart, "a varint longer than 10 bytes") }
                committed = p
                continue
            case MA_REC_EXIT:
                let t = uv()
                let how = uv()
                if cut { break }
                timeNs = max(timeNs, t)
                switch Int32(truncatingIfNeeded: how) {
                case MA_EXIT_UNDERSCORE: reader.setEnd(.underscoreExit)
                case MA_EXIT_ABORT: reader.setEnd(.abort)
                default: reader.setEnd(.exit)
                }
                sawEnd = true
                if overlong { throw corrupt(recordStart, "a varint longer than 10 bytes") }
                committed = p
                continue
            default:
                throw corrupt(recordStart, "unknown record tag 0x\(String(tag, radix: 16)) (expected one of the MA_REC_* tags)")
            }
            if overlong { throw corrupt(recordStart, "a varint longer than 10 bytes in a record with tag 0x\(String(tag, radix: 16))") }
            if cut {
                p = recordStart
                break
            }
            // An allocator event.
            addresses = coder
            previousStack = stackID
            event.thread = thread
            event.timeNs = timeNs
            events &+= 1
            visitor.visit(event)
            committed = p
        }
        if cut && atEnd {
            // The caller reports the leftover bytes as a cut record.
            return committed - base
        }
        if cut, end - committed >= ByteSource.maxRecordBytes {
            throw corrupt(committed, "a record that never ends: the trace is corrupt")
        }
        return committed - base
    }
}

extension TraceReader {
    fileprivate func stacksAppend(_ frames: [UInt64]) { stacks.append(frames) }
}
