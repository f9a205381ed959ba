#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MemAtlasTraceSchema
import TraceModel

/// Receives a trace's events in stream order while `TraceReader.read` decodes them.
public protocol TraceVisitor {
    /// An allocator call. The reader reuses the value; copy what you keep.
    mutating func visit(_ event: TraceEvent)
    /// A sample tick: the time (ns since start) and the resident set size (bytes) at that moment.
    mutating func visitTick(timeNs: UInt64, residentBytes: UInt64)
    /// An event that `visit` will see a few events from now: a visitor whose tables miss the
    /// cache fetches the entries it will touch (a hint; it must not change anything visible).
    mutating func prefetch(for event: TraceEvent)
}

extension TraceVisitor {
    public mutating func visitTick(timeNs: UInt64, residentBytes: UInt64) {}
    @inline(__always) public mutating func prefetch(for event: TraceEvent) {}
}

/// How many events ahead `Reader.read(into:)` announces events to `TraceVisitor.prefetch(for:)`:
/// about a memory latency's worth of visits.
public let visitorPrefetchDistance = 8

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
    /// True when the record stream is zstd-compressed (one stream, or column blocks).
    public var isCompressed: Bool { flags & UInt16(MA_FLAG_ZSTD | MA_FLAG_COLUMNS) != 0 }
    /// True when the body is column blocks (schema: Column blocks).
    public var hasColumnBlocks: Bool { flags & UInt16(MA_FLAG_COLUMNS) != 0 }
    /// True when the program's malloc was not the recorder's (an allocator linked into the
    /// executable, as rustc's jemalloc): its heap calls were not seen, only its mappings.
    public var programHasOwnMalloc: Bool { flags & UInt16(MA_FLAG_OWN_MALLOC) != 0 }
}

/// A module map in effect from a point of the trace on.
public struct ModuleMap: Sendable {
    /// The number of stacks defined before this map arrived: stacks with a higher id were
    /// captured while it was in effect.
    public var stacksBefore: UInt32
    /// The loaded modules.
    public var modules: [Module]

    /// Creates a module map.
    public init(stacksBefore: UInt32, modules: [Module]) {
        self.stacksBefore = stacksBefore
        self.modules = modules
    }
}

/// How far a read has come, for progress bars.
public struct ReadProgress: Sendable {
    /// File bytes consumed so far.
    public var bytesRead: UInt64
    /// The trace file's size.
    public var fileSize: UInt64
    /// Allocator events decoded so far.
    public var events: UInt64
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
    /// Page-residency snapshots of the anonymous memory, in time order (after `read`).
    public private(set) var residency: [ResidencySnapshot] = []
    /// Called with the trace's first module map as soon as a read decodes it (on the decoding
    /// thread), while the read goes on: what a report will symbolize can start loading then.
    public var firstModuleMapHandler: (([Module]) -> Void)?
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
        // A process that died with records not yet written left them in TRACE.pending (a
        // recording `mematlas record` did not finish, e.g. a daemon killed later): complete the trace.
        if access(path + PendingRecords.suffix, F_OK) == 0 { PendingRecords.salvage(trace: path) }
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
        if header.flags & ~UInt16(MA_FLAG_ZSTD | MA_FLAG_OWN_MALLOC | MA_FLAG_RAW_ADDRESSES | MA_FLAG_COLUMNS) != 0
            || header.flags & UInt16(MA_FLAG_ZSTD) != 0 && header.hasColumnBlocks {
            close(fd)
            throw TraceFormatError(path: path, offset: 10, message: "unknown header flags 0x\(String(header.flags, radix: 16))")
        }
    }

    deinit { close(fd) }

    /// Reads the whole trace, handing every event to `visitor` in stream order (ticks in between).
    /// Inlinable, so that the loop is specialized for the visitor in the caller's module. The
    /// reader's metadata (stacks, module maps) is complete once this returns.
    /// - Parameter progress: called now and then with the number of file bytes consumed so far.
    /// - Throws: `TraceFormatError` at the first corrupt record (events before it were visited).
    @inlinable
    public func read<V: TraceVisitor>(into visitor: inout V, progress: ((ReadProgress) -> Void)? = nil) throws {
        try readBatches(progress: progress) { batch in
            var tick = 0
            let ticks = batch.ticks
            let contexts = batch.contexts
            let count = batch.count
            let slots = batch.slots
            var context = 0
            var thread = ThreadID(0), timeNs: UInt64 = 0
            var nextContext = contexts.isEmpty ? Int.max : contexts[0].eventIndex
            for i in 0..<count {
                if i + visitorPrefetchDistance < count {
                    visitor.prefetch(for: TraceBatch.event(slots[i + visitorPrefetchDistance], thread, timeNs))
                }
                while tick < ticks.count && ticks[tick].eventIndex == i {
                    visitor.visitTick(timeNs: ticks[tick].timeNs, residentBytes: ticks[tick].residentBytes)
                    tick += 1
                }
                if i == nextContext {
                    thread = contexts[context].thread
                    timeNs = contexts[context].timeNs
                    context += 1
                    nextContext = context < contexts.count ? contexts[context].eventIndex : Int.max
                }
                visitor.visit(TraceBatch.event(slots[i], thread, timeNs))
            }
            while tick < ticks.count {
                visitor.visitTick(timeNs: ticks[tick].timeNs, residentBytes: ticks[tick].residentBytes)
                tick += 1
            }
        }
    }

    /// Reads the whole trace as batches of up to `TraceBatch.capacity` events, in stream order.
    ///
    /// With `parallel` (the default) a second thread decompresses and decodes the next batches
    /// while `body` works on the current one; the reader's metadata (stacks, module maps, thread
    /// names) is then complete only once this returns, so `body` must not read it.
    /// - Parameter body: called for each batch, on the calling thread; the batch is reused after it returns.
    public func readBatches(parallel: Bool = true, progress: ((ReadProgress) -> Void)? = nil, _ body: (TraceBatch) throws -> Void) throws {
        guard parallel else {
            try decodeAll(progress: progress) { batch in
                try body(batch)
                batch.reset()
                return batch
            }
            return
        }
        let pipeline = BatchPipeline()
        let producer = Thread { [self] in
            do {
                try decodeAll(progress: progress) { full in try pipeline.handOver(full) }
                pipeline.finish(error: nil)
            } catch {
                pipeline.finish(error: error)
            }
        }
        producer.stackSize = 8 << 20
        producer.start()
        defer { pipeline.waitForProducer() }
        do {
            while let batch = try pipeline.next() {
                try body(batch)
                pipeline.recycle(batch)
            }
        } catch {
            pipeline.cancel()
            throw error
        }
    }

    /// The decode loop: fills batches and hands each full one to `handOver`, which returns the next
    /// batch to fill; the last, partly filled batch is handed over too.
    private func decodeAll(progress: ((ReadProgress) -> Void)?, handOver: (TraceBatch) throws -> TraceBatch) throws {
        stacks = StackTable()
        moduleMaps = []
        residency = []
        threadNames = [:]
        processEnd = .unknown
        execPath = nil
        process = nil
        eventCount = 0
        durationNs = 0
        if header.hasColumnBlocks { return try decodeColumnBlocks(progress: progress, handOver: handOver) }
        var source = try ByteSource(reader: self)
        defer { source.release() }
        var decoder = RecordDecoder()
        decoder.addresses.raw = header.flags & UInt16(MA_FLAG_RAW_ADDRESSES) != 0
        var batch = TraceBatch()
        var sawEnd = false
        while true {
            let more = try source.fill()
            while true {
                let current = batch
                let consumed = try source.withAvailable { bytes in
                    try decoder.decode(bytes, reader: self, batch: current, atEnd: !more, sawEnd: &sawEnd, streamOffset: source.streamOffset)
                }
                source.consume(consumed)
                guard batch.isFull else { break }
                batch = try handOver(batch)
            }
            progress?(ReadProgress(bytesRead: source.fileOffset, fileSize: fileSize, events: decoder.events))
            if !more {
                let leftover = source.available
                eventCount = decoder.events
                durationNs = decoder.timeNs
                completeness = Self.completeness(sawEnd: sawEnd, cutBytes: leftover, stopped: source.truncationDetail)
                if batch.count > 0 || !batch.ticks.isEmpty { _ = try handOver(batch) }
                return
            }
        }
    }

    /// The decode loop of a trace in column blocks (schema: Column blocks): the model decodes
    /// events straight into the batch, and metadata records go through the record decoder.
    private func decodeColumnBlocks(progress: ((ReadProgress) -> Void)?, handOver: (TraceBatch) throws -> TraceBatch) throws {
        nonisolated(unsafe) let file = self
        guard let blocks = ColumnBlockPrefetcher(from: UInt64(MA_TRACE_HEADER_SIZE), fileBytes: fileSize, read: { try file.readFile(into: $0, at: $1) }),
              let model = ma_column_decoder_create()
        else { throw TraceFormatError(path: path, offset: 10, message: "the trace is zstd-compressed but libzstd.so.1 cannot be loaded") }
        defer {
            blocks.stop()
            ma_column_decoder_destroy(model)
        }
        var decoder = RecordDecoder()
        var batch = TraceBatch()
        var sawEnd = false
        var fileOffset = UInt64(MA_TRACE_HEADER_SIZE)
        var cutBytes = 0
        var stopped: String?
        blocks: while true {
            let set: ColumnSet
            switch blocks.next() {
            case .block(let next): set = next
            case .end: break blocks
            case .stop(let why):
                stopped = why
                break blocks
            case .failure(let error): throw error
            }
            defer { blocks.recycle(set) }
            ma_column_decoder_start(model, set.pointers, set.lengths)
            let blockOffset = fileOffset
            func corrupt(_ message: String) -> TraceFormatError {
                TraceFormatError(path: path, offset: blockOffset, message: "in the column block at this offset: \(message)")
            }
            while true {
                var stop = ma_decode_stop()
                batch.setContext(thread: decoder.thread, timeNs: decoder.timeNs)
                let n = batch.appendInPlace(room: TraceBatch.capacity) { ma_column_decode_events(model, $0, $1, &stop) }
                if n < 0 {
                    stopped = "corrupt column block at file offset \(blockOffset): \(String(cString: ma_column_decoder_error(model))); the events before it were read"
                    break blocks
                }
                decoder.events &+= UInt64(n)
                if batch.isFull { batch = try handOver(batch) }
                if stop.kind == Int32(MA_DECODE_METADATA) {
                    var c = Cursor(p: stop.record, end: stop.record + stop.size)
                    try decoder.decodeMetadata(stop.tag, &c, recordStart: stop.record, reader: self, batch: batch, sawEnd: &sawEnd) { _, message in
                        corrupt(message)
                    }
                    if c.cut || c.overlong || c.p != c.end {
                        throw corrupt("a malformed record with tag 0x\(String(stop.tag, radix: 16)) (\(stop.size) bytes)")
                    }
                } else if stop.kind != Int32(MA_DECODE_FULL) {
                    // The block is done (MA_DECODE_END), or its last record is cut (MA_DECODE_CUT).
                    if stop.kind == Int32(MA_DECODE_CUT) { cutBytes = stop.size }
                    break
                }
            }
            fileOffset += UInt64(set.fileBytes)
            progress?(ReadProgress(bytesRead: fileOffset, fileSize: fileSize, events: decoder.events))
        }
        eventCount = decoder.events
        durationNs = decoder.timeNs
        completeness = Self.completeness(sawEnd: sawEnd, cutBytes: cutBytes, stopped: stopped)
        if batch.count > 0 || !batch.ticks.isEmpty { _ = try handOver(batch) }
    }

    /// How whole a read trace is: complete with its exit record (events may follow it), else cut
    /// inside a record (`cutBytes` of it), else stopped where the stream could not be read
    /// (`stopped` says why), else ended without an exit record.
    private static func completeness(sawEnd: Bool, cutBytes: Int, stopped: String?) -> TraceCompleteness {
        if sawEnd { return .complete }
        if cutBytes > 0 {
            return .truncated(reason: "the trace ends inside a record (\(cutBytes) bytes of it): the process was killed or the file was cut")
        }
        if let stopped { return .truncated(reason: stopped) }
        return .truncated(reason: "the trace has no exit record: the process was killed or crashed before it could exit")
    }

    // MARK: Metadata records (called by the decoder)

    fileprivate func setProcess(_ record: ProcessRecord) { process = record }
    fileprivate func addModuleMap(_ modules: [Module]) {
        moduleMaps.append(ModuleMap(stacksBefore: UInt32(stacks.count), modules: modules))
        if moduleMaps.count == 1 { firstModuleMapHandler?(modules) }
    }
    fileprivate func setThreadName(_ thread: ThreadID, _ name: String) { threadNames[thread] = name }
    fileprivate func addResidency(_ snapshot: ResidencySnapshot) { residency.append(snapshot) }
    fileprivate func setEnd(_ end: ProcessEnd, exec: String? = nil) {
        processEnd = end
        if let exec { execPath = exec }
    }

    func readFile(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
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
        if reader.header.isCompressed {
            guard let z = ZstdDecompressor() else {
                throw TraceFormatError(path: reader.path, offset: 10, message: "the trace is zstd-compressed but libzstd.so.1 cannot be loaded")
            }
            zstd = z
        }
        input = .allocate(byteCount: 1 << 20, alignment: 16)
        buffer = .allocate(byteCount: 4 << 20, alignment: 16)
    }

    /// Frees the window and the input buffer (once, when the read is over).
    func release() {
        input.deallocate()
        buffer.deallocate()
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
/// move-to-front lists, kept exactly as the writer keeps them. An address is in at most one list
/// (the writer codes a listed address by its place), so a hit or a delta says all the update needs.
struct AddressDecoder {
    typealias List = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    /// MA_FLAG_RAW_ADDRESSES: every adr is the address as a u64, and the lists are unused.
    var raw = false
    var previous: UInt64 = 0
    var freed: List = (0, 0, 0, 0, 0, 0, 0, 0)
    var allocated: List = (0, 0, 0, 0, 0, 0, 0, 0)

    @inline(__always) mutating func decode(_ v: UInt64, released: Bool, bad: inout Bool) -> UInt64 {
        let cache = Int(MA_ADDRESS_CACHE)
        if v & 1 == 1 {
            let index = Int(v >> 1)
            if index == 2 * cache { return 0 }
            guard index < 2 * cache else {
                bad = true
                return 0
            }
            let inFreed = index < cache
            let i = inFreed ? index : index - cache
            let address = inFreed ? Self.entry(&freed, i) : Self.entry(&allocated, i)
            if inFreed == released {
                if released { Self.promote(&freed, i, address) } else { Self.promote(&allocated, i, address) }
            } else if released {
                Self.remove(&allocated, i)
                Self.promote(&freed, cache - 1, address)
            } else {
                Self.remove(&freed, i)
                Self.promote(&allocated, cache - 1, address)
            }
            return address
        }
        let z = v >> 2
        let delta = Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1)))
        previous = previous &+ UInt64(bitPattern: v & 2 == 0 ? delta &* 16 : delta)
        if released { Self.promote(&freed, cache - 1, previous) } else { Self.promote(&allocated, cache - 1, previous) }
        return previous
    }

    @inline(__always) static func entry(_ list: inout List, _ i: Int) -> UInt64 {
        withUnsafeBytes(of: &list) { $0.load(fromByteOffset: i * 8, as: UInt64.self) }
    }

    /// Moves entry i to the front; the entries before it shift back by one (i = the last index
    /// drops the last entry for a new one). Every entry is rewritten by a select, not shifted in
    /// a loop: the loop compiled to a call to memmove, costlier than the shift itself.
    @inline(__always) static func promote(_ list: inout List, _ i: Int, _ address: UInt64) {
        let o = list
        list = (address, i >= 1 ? o.0 : o.1, i >= 2 ? o.1 : o.2, i >= 3 ? o.2 : o.3,
                i >= 4 ? o.3 : o.4, i >= 5 ? o.4 : o.5, i >= 6 ? o.5 : o.6, i >= 7 ? o.6 : o.7)
    }

    /// Removes entry i; the entries after it shift forward and the last becomes empty.
    @inline(__always) static func remove(_ list: inout List, _ i: Int) {
        let o = list
        list = (i <= 0 ? o.1 : o.0, i <= 1 ? o.2 : o.1, i <= 2 ? o.3 : o.2, i <= 3 ? o.4 : o.3,
                i <= 4 ? o.5 : o.4, i <= 5 ? o.6 : o.5, i <= 6 ? o.7 : o.6, 0)
    }
}

/// A sample tick inside a batch: it happened just before the batch's event `eventIndex`.
public struct TraceTick: Sendable {
    /// The index of the first event after the tick (the batch's count when none followed yet).
    public var eventIndex: Int
    /// ns since the process started.
    public var timeNs: UInt64
    /// Resident set size in bytes.
    public var residentBytes: UInt64
}

/// The thread and time of a batch's events from `eventIndex` on (they change only at THREAD and
/// TICK records).
@usableFromInline
struct EventContext {
    @usableFromInline var eventIndex: Int
    @usableFromInline var thread: ThreadID
    @usableFromInline var timeNs: UInt64
}

/// A run of decoded events (and the ticks between them), reused from batch to batch.
///
/// The events are kept as the schema's `ma_event`, which the column decoder writes in place on the
/// decoding thread, and become `TraceEvent`s on the consuming one: filling `TraceEvent`s was a
/// fifth of the decoding thread's time, the thread that bounds a read.
public final class TraceBatch {
    /// Events a batch holds at most.
    public static let capacity = 4096
    @usableFromInline let slots: UnsafeMutablePointer<ma_event>
    /// Valid events. (One thread at a time owns a batch: the pipeline hands it over under a lock,
    /// so the per-event runtime exclusivity checks are skipped.)
    @exclusivity(unchecked) public private(set) var count = 0
    /// Ticks, in order.
    @exclusivity(unchecked) public private(set) var ticks: [TraceTick] = []
    /// The events' threads and times, in order; the first starts at event 0.
    @exclusivity(unchecked) @usableFromInline var contexts: [EventContext] = []

    init() {
        slots = .allocate(capacity: Self.capacity)
        slots.initialize(repeating: ma_event(), count: Self.capacity)
    }

    deinit { slots.deallocate() }

    var isFull: Bool { count == Self.capacity }
    func reset() {
        count = 0
        ticks.removeAll(keepingCapacity: true)
        contexts.removeAll(keepingCapacity: true)
    }

    /// The event at `index` (< `count`).
    public subscript(index: Int) -> TraceEvent {
        precondition(index >= 0 && index < count, "event index out of range")
        var low = 0, high = contexts.count  // the last context at or before index
        while high - low > 1 {
            let mid = (low + high) / 2
            if contexts[mid].eventIndex <= index { low = mid } else { high = mid }
        }
        guard low < contexts.count else { return Self.event(slots[index], ThreadID(0), 0) }
        return Self.event(slots[index], contexts[low].thread, contexts[low].timeNs)
    }

    /// The valid events, in order.
    public var events: [TraceEvent] { (0..<count).map { self[$0] } }

    @inlinable @inline(__always)
    static func event(_ e: ma_event, _ thread: ThreadID, _ timeNs: UInt64) -> TraceEvent {
        // Both decoders store only allocator event tags (the row decoder checks each record's
        // tag, the column decoder takes them from its table of ops).
        TraceEvent(function: AllocationFunction(tag: e.tag) ?? .free, address: Address(e.address), oldAddress: Address(e.old_address),
                   size: e.size, oldSize: e.old_size, alignment: e.alignment, timeNs: timeNs,
                   stack: StackID(UInt32(truncatingIfNeeded: e.stack)), thread: thread, protection: e.protection, flags: e.flags)
    }

    /// The thread and time of the events appended from now on.
    @inline(__always) func setContext(thread: ThreadID, timeNs: UInt64) {
        if let last = contexts.last {
            if last.thread == thread && last.timeNs == timeNs { return }
            if last.eventIndex == count {
                contexts[contexts.count - 1] = EventContext(eventIndex: count, thread: thread, timeNs: timeNs)
                return
            }
        }
        contexts.append(EventContext(eventIndex: count, thread: thread, timeNs: timeNs))
    }

    /// Appends an event (after `setContext`).
    @inline(__always) func append(_ event: ma_event) {
        slots[count] = event
        count += 1
    }

    /// Room for the next `room` events, which `fill` writes in place and returns how many it wrote
    /// (or a negative number, which appends nothing).
    @inline(__always) func appendInPlace(room: Int, _ fill: (UnsafeMutablePointer<ma_event>, Int) -> Int) -> Int {
        let n = fill(slots + count, min(room, Self.capacity - count))
        if n > 0 { count += n }
        return n
    }

    func appendTick(timeNs: UInt64, residentBytes: UInt64) {
        ticks.append(TraceTick(eventIndex: count, timeNs: timeNs, residentBytes: residentBytes))
    }
}

/// Hands decoded batches from the decoding thread to the consuming one: three batches circulate,
/// so decoding runs at most two batches ahead.
private final class BatchPipeline: @unchecked Sendable {
    private let lock = NSCondition()
    private var full: [TraceBatch] = []
    private var free: [TraceBatch] = [TraceBatch(), TraceBatch()]
    private var done = false
    private var cancelled = false
    private var failure: Error?
    private let producerDone = DispatchSemaphore(value: 0)

    /// Producer: queues a full batch, returns an empty one (waits while the consumer is behind).
    func handOver(_ batch: TraceBatch) throws -> TraceBatch {
        lock.lock()
        defer { lock.unlock() }
        full.append(batch)
        lock.broadcast()
        while free.isEmpty && !cancelled { lock.wait() }
        if cancelled { throw CancellationError() }
        return free.removeLast()
    }

    /// Producer: no more batches.
    func finish(error: Error?) {
        lock.lock()
        done = true
        failure = error
        lock.broadcast()
        lock.unlock()
        producerDone.signal()
    }

    /// Consumer: the next full batch, nil at the end; rethrows the producer's error.
    func next() throws -> TraceBatch? {
        lock.lock()
        defer { lock.unlock() }
        while full.isEmpty && !done { lock.wait() }
        if !full.isEmpty { return full.removeFirst() }
        if let failure, !(failure is CancellationError) { throw failure }
        return nil
    }

    /// Consumer: a batch it is done with.
    func recycle(_ batch: TraceBatch) {
        batch.reset()
        lock.lock()
        free.append(batch)
        lock.broadcast()
        lock.unlock()
    }

    /// Consumer: stop the producer (the consumer failed).
    func cancel() {
        lock.lock()
        cancelled = true
        lock.broadcast()
        lock.unlock()
    }

    func waitForProducer() { producerDone.wait() }
}

/// Reads the schema's field encodings (uv, sv, str) from a byte range. Running past the end sets
/// `cut` (the record continues in the next window); an over-long varint sets `overlong`.
private struct Cursor {
    var p: UnsafePointer<UInt8>
    let end: UnsafePointer<UInt8>
    var cut = false
    var overlong = false

    @inline(__always) mutating func uv() -> UInt64 {
        if end - p >= 2 {
            // One and two bytes inline: most fields of most events.
            let first = p[0]
            if first < 0x80 {
                p += 1
                return UInt64(first)
            }
            let second = p[1]
            if second < 0x80 {
                p += 2
                return UInt64(first & 0x7f) | UInt64(second) << 7
            }
        }
        return uvSlow()
    }

    mutating func uvSlow() -> UInt64 {
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

    /// A u64 LE (a raw adr field).
    @inline(__always) mutating func u64() -> UInt64 {
        guard end - p >= 8 else {
            cut = true
            return 0
        }
        let v = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)
        p += 8
        return UInt64(littleEndian: v)
    }

    /// An adr field, raw or coded as `coder` says.
    @inline(__always) mutating func adr(_ coder: inout AddressDecoder, released: Bool) -> Address {
        Address(coder.raw ? u64() : coder.decode(uv(), released: released, bad: &overlong))
    }

    @inline(__always) mutating func sv() -> Int64 {
        let v = uv()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    mutating func bytes() -> UnsafeBufferPointer<UInt8>? {
        let n = uv()
        guard !cut, n <= UInt64(end - p) else {
            cut = true
            return nil
        }
        let result = UnsafeBufferPointer(start: p, count: Int(n))
        p += Int(n)
        return result
    }

    mutating func str() -> String? { bytes().map { String(decoding: $0, as: UTF8.self) } }

    /// Whether `count` elements of at least `bytesEach` bytes can still follow in this window; when
    /// not, marks the record cut (it is decoded again once the window holds more of it). Checked
    /// before every count-driven loop, so that a corrupt count costs neither time nor memory
    /// beyond the bytes really there.
    mutating func has(_ count: UInt64, bytesEach: UInt64) -> Bool {
        let (needed, overflow) = count.multipliedReportingOverflow(by: bytesEach)
        if overflow || needed > UInt64(end - p) {
            cut = true
            return false
        }
        return true
    }
}

private struct RecordDecoder {
    var addresses = AddressDecoder()
    var previousStack: UInt64 = 0
    var thread = ThreadID(0)
    var timeNs: UInt64 = 0
    var events: UInt64 = 0
    var knownStacks: UInt64 = 0
    var event = ma_event()

    /// Decodes whole records from `bytes` into `batch` until the batch is full or the bytes end;
    /// returns how many bytes it consumed. A record cut at the end is left for the next call (or
    /// reported by the caller when the trace ends there).
    mutating func decode(
        _ bytes: UnsafeRawBufferPointer, reader: TraceReader, batch: TraceBatch, atEnd: Bool, sawEnd: inout Bool,
        streamOffset: UInt64
    ) throws -> Int {
        guard let start = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0 }
        var c = Cursor(p: start, end: start + bytes.count)
        func corrupt(_ at: UnsafePointer<UInt8>, _ message: String) -> TraceFormatError {
            TraceFormatError(path: reader.path, offset: streamOffset + UInt64(at - start), inRecordStream: true, message: message)
        }
        var committed = c.p
        var coder = addresses
        var event = self.event
        defer {
            addresses = coder
            self.event = event
        }
        while c.p < c.end && !batch.isFull {
            let recordStart = c.p
            let tag = c.p.pointee
            c.p += 1
            var stackID = previousStack
            var isEvent = true
            if c.end - c.p >= 64 {
                // Fast path: an event record is at most 51 bytes, so it cannot be cut here and
                // the address lists are decoded in place.
                isEvent = Self.decodeEvent(tag, &c, &event, &coder, &stackID)
            } else {
                var copy = coder
                isEvent = Self.decodeEvent(tag, &c, &event, &copy, &stackID)
                if isEvent && !c.cut { coder = copy }
            }
            if !isEvent {
                try decodeMetadata(tag, &c, recordStart: recordStart, reader: reader, batch: batch, sawEnd: &sawEnd, corrupt: corrupt)
            }
            if c.overlong { throw corrupt(recordStart, "a malformed field (varint longer than 10 bytes, or an address list index out of range) in a record with tag 0x\(String(tag, radix: 16))") }
            if c.cut {
                c.p = recordStart
                break
            }
            if isEvent {
                switch Int32(tag) {
                case MA_REC_FREE, MA_REC_MUNMAP: event.stack = 0
                default:
                    if stackID > knownStacks { throw corrupt(recordStart, "stack id \(stackID) used before it was defined") }
                    event.stack = stackID
                    previousStack = stackID
                }
                event.tag = tag
                events &+= 1
                batch.setContext(thread: thread, timeNs: timeNs)
                batch.append(event)
            }
            committed = c.p
        }
        if c.cut, !atEnd, c.end - committed >= ByteSource.maxRecordBytes {
            throw corrupt(committed, "a record that never ends: the trace is corrupt")
        }
        return committed - start
    }

    /// Decodes the fields of an allocator event record into `event`; false for other records.
    @inline(__always)
    private static func decodeEvent(
        _ tag: UInt8, _ c: inout Cursor, _ event: inout ma_event, _ coder: inout AddressDecoder, _ stackID: inout UInt64
    ) -> Bool {
        switch Int32(tag) {
        case MA_REC_MALLOC, MA_REC_CALLOC, MA_REC_VALLOC, MA_REC_PVALLOC:
            event.size = c.uv()
            event.alignment = 0
            stackID = stackID &+ UInt64(bitPattern: c.sv())
            event.address = c.adr(&coder, released: false).rawValue
        case MA_REC_POSIX_MEMALIGN, MA_REC_ALIGNED_ALLOC, MA_REC_MEMALIGN:
            event.size = c.uv()
            event.alignment = c.uv()
            stackID = stackID &+ UInt64(bitPattern: c.sv())
            event.address = c.adr(&coder, released: false).rawValue
        case MA_REC_FREE:
            event.address = c.adr(&coder, released: true).rawValue
            event.size = 0
        case MA_REC_REALLOC, MA_REC_REALLOCARRAY:
            event.old_address = c.adr(&coder, released: true).rawValue
            event.size = c.uv()
            stackID = stackID &+ UInt64(bitPattern: c.sv())
            event.address = c.adr(&coder, released: false).rawValue
            event.alignment = 0
        case MA_REC_MMAP:
            event.size = c.uv()
            event.protection = UInt32(truncatingIfNeeded: c.uv())
            event.flags = UInt32(truncatingIfNeeded: c.uv())
            stackID = stackID &+ UInt64(bitPattern: c.sv())
            event.address = c.adr(&coder, released: false).rawValue
        case MA_REC_MUNMAP:
            event.address = c.adr(&coder, released: true).rawValue
            event.size = c.uv()
        case MA_REC_MREMAP:
            event.old_address = c.adr(&coder, released: true).rawValue
            event.old_size = c.uv()
            event.size = c.uv()
            stackID = stackID &+ UInt64(bitPattern: c.sv())
            event.address = c.adr(&coder, released: false).rawValue
        default:
            return false
        }
        return true
    }

    /// The records that are not allocator events: stacks, threads, ticks, modules, process, end.
    fileprivate mutating func decodeMetadata(
        _ tag: UInt8, _ c: inout Cursor, recordStart: UnsafePointer<UInt8>, reader: TraceReader, batch: TraceBatch,
        sawEnd: inout Bool, corrupt: (UnsafePointer<UInt8>, String) -> TraceFormatError
    ) throws {
        switch Int32(tag) {
        case MA_REC_STACK:
            let count = c.uv()
            if c.cut { return }
            guard count <= 4096 else { throw corrupt(recordStart, "a stack of \(count) frames (at most 4096 expected)") }
            guard c.has(count, bytesEach: 1) else { return }
            var frames = [UInt64]()
            frames.reserveCapacity(Int(count))
            var ip: UInt64 = 0
            for _ in 0..<count {
                ip = ip &+ UInt64(bitPattern: c.sv())
                frames.append(ip)
            }
            if c.cut || c.overlong { return }
            reader.stacksAppend(frames)
            knownStacks += 1
        case MA_REC_THREAD:
            let tid = c.uv()
            if !c.cut { thread = ThreadID(UInt32(truncatingIfNeeded: tid)) }
        case MA_REC_THREAD_NAME:
            let tid = c.uv()
            guard let name = c.str() else { return }
            reader.setThreadName(ThreadID(UInt32(truncatingIfNeeded: tid)), name)
        case MA_REC_TICK:
            let t = c.uv()
            let rss = c.uv()
            if c.cut { return }
            timeNs = t
            batch.appendTick(timeNs: t, residentBytes: rss &* (reader.process?.pageSize ?? 4096))
        case MA_REC_PROCESS:
            let pid = c.uv(), ppid = c.uv(), unix = c.uv()
            _ = c.uv()  // monotonic start: times in the trace are relative to it already
            let page = c.uv(), unwinder = c.uv(), depth = c.uv(), interval = c.uv()
            guard let exe = c.str(), let cmdline = c.str() else { return }
            // Residency figures multiply page counts by it: only a real page size is taken.
            guard page == 0 || (page.nonzeroBitCount == 1 && (512...(1 << 30)).contains(page)) else {
                throw corrupt(recordStart, "a page size of \(page) bytes (a power of two up to 1 GiB expected)")
            }
            reader.setProcess(ProcessRecord(
                pid: UInt32(truncatingIfNeeded: pid), parentPID: UInt32(truncatingIfNeeded: ppid), startUnixNs: unix,
                pageSize: page == 0 ? 4096 : page, unwinder: Unwinder(rawValue: UInt8(truncatingIfNeeded: unwinder)) ?? .none,
                maxDepth: UInt32(truncatingIfNeeded: depth), sampleIntervalNs: interval, executable: exe,
                arguments: cmdline.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)))
        case MA_REC_MODULES:
            let count = c.uv()
            if c.cut { return }
            guard count <= 1 << 20 else { throw corrupt(recordStart, "a module map of \(count) modules") }
            guard c.has(count, bytesEach: 4) else { return }  // bias, path, build id, segment count
            var modules: [Module] = []
            for _ in 0..<count {
                let bias = c.uv()
                guard let path = c.str(), let buildID = c.bytes() else { return }
                let segmentCount = c.uv()
                if c.cut { return }
                guard segmentCount <= 4096 else { throw corrupt(recordStart, "a module with \(segmentCount) segments") }
                guard c.has(segmentCount, bytesEach: 3) else { return }
                var segments: [Module.Segment] = []
                for _ in 0..<segmentCount {
                    let vaddr = c.uv(), size = c.uv(), flags = c.uv()
                    segments.append(Module.Segment(fileAddress: vaddr, size: size, flags: UInt8(truncatingIfNeeded: flags)))
                }
                modules.append(Module(path: path, loadBias: bias, buildID: Array(buildID), segments: segments))
            }
            if c.cut || c.overlong { return }
            reader.addModuleMap(modules)
        case MA_REC_RESIDENCY:
            let t = c.uv()
            let count = c.uv()
            if c.cut { return }
            guard count <= 1 << 20 else { throw corrupt(recordStart, "a residency snapshot of \(count) regions") }
            guard c.has(count, bytesEach: 4) else { return }  // start, length, kind, run count
            let pageSize = reader.process?.pageSize ?? 4096
            var regions: [ResidentRegion] = []
            var previousEnd: UInt64 = 0
            for _ in 0..<count {
                let start = c.uv(), length = c.uv(), kind = c.uv(), runCount = c.uv()
                if c.cut { return }
                guard runCount <= 1 << 26, let regionKind = ResidentRegion.Kind(rawValue: UInt8(truncatingIfNeeded: kind)) else {
                    throw corrupt(recordStart, "a malformed residency region (kind \(kind), \(runCount) runs)")
                }
                guard c.has(runCount, bytesEach: 1) else { return }
                var runs: [UInt32] = []
                runs.reserveCapacity(Int(runCount))
                for _ in 0..<runCount { runs.append(UInt32(truncatingIfNeeded: c.uv())) }
                if c.cut { return }
                // The runs cover the region exactly, and regions come in address order without
                // overlapping (as in /proc/self/maps): every resident-bytes sum then fits 64 bits.
                var pages: UInt64 = 0, overflow = false
                for run in runs {
                    let (sum, o) = pages.addingReportingOverflow(UInt64(run))
                    pages = sum
                    overflow = overflow || o
                }
                let (bytes, o1) = pages.multipliedReportingOverflow(by: pageSize)
                let (end, o2) = start.addingReportingOverflow(length)
                guard !overflow, !o1, !o2, bytes == length, start >= previousEnd else {
                    throw corrupt(recordStart, "a residency region at 0x\(String(start, radix: 16)) of \(length) bytes whose runs count \(pages) pages of \(pageSize) bytes, or that overlaps the one before it")
                }
                previousEnd = end
                regions.append(ResidentRegion(start: start, length: length, kind: regionKind, pageSize: pageSize, runs: runs))
            }
            if c.cut || c.overlong { return }
            reader.addResidency(ResidencySnapshot(timeNs: t, regions: regions))
        case MA_REC_EXEC:
            guard let path = c.str() else { return }
            reader.setEnd(.exec, exec: path)
            sawEnd = true
        case MA_REC_EXIT:
            let t = c.uv()
            let how = c.uv()
            if c.cut { return }
            timeNs = max(timeNs, t)
            switch Int32(truncatingIfNeeded: how) {
            case MA_EXIT_UNDERSCORE: reader.setEnd(.underscoreExit)
            case MA_EXIT_ABORT: reader.setEnd(.abort)
            default: reader.setEnd(.exit)
            }
            sawEnd = true
        default:
            throw corrupt(recordStart, "unknown record tag 0x\(String(tag, radix: 16)) (expected one of the MA_REC_* tags)")
        }
    }
}

extension TraceReader {
    fileprivate func stacksAppend(_ frames: [UInt64]) { stacks.append(frames) }
}
