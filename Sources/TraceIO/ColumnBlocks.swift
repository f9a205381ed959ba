import Foundation
import MemAtlasTraceSchema

#if canImport(Glibc)
import Glibc
#endif

/// Writes a record stream with raw addresses as column blocks (schema: Column blocks): the model
/// coding of `ma_column_encode`, then each column as one zstd frame.
public final class ColumnBlockWriter {
    /// Raw record bytes a block holds by default (about 190,000 events): larger blocks code little
    /// smaller (8 MiB: 0.9%).
    public static let defaultBlockRawBytes = 2 << 20
    private let blockRawBytes: Int
    private let encoder: OpaquePointer
    private let zstd: ZstdFrameCompressor
    private var block: [UInt8] = []

    /// nil when zstd cannot be loaded or memory runs out.
    public init?(blockRawBytes: Int = defaultBlockRawBytes) {
        guard let zstd = ZstdFrameCompressor(), let encoder = ma_column_encoder_create() else { return nil }
        self.zstd = zstd
        self.encoder = encoder
        self.blockRawBytes = blockRawBytes
    }

    deinit { ma_column_encoder_destroy(encoder) }

    /// Codes the whole records at the start of `input`, handing each full block to `write`; returns
    /// the bytes of `input` it used (a record cut at its end is left), nil at a record it cannot read.
    public func append(_ input: UnsafeRawBufferPointer, write: (UnsafeRawBufferPointer) throws -> Void) throws -> Int? {
        guard let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0 }
        var used = 0
        while used < input.count {
            // The records that fit in the block's room.
            let left = input.count - used, room = max(blockRawBytes - pendingRawBytes, 0)
            var consumed = room > 0 ? ma_column_encode(encoder, base + used, min(left, room)) : 0
            guard consumed >= 0 else { return nil }
            if consumed == 0 && room < left {
                if pendingRawBytes > 0 {
                    // The next record does not fit: the block is done.
                    guard try flush(write: write) else { return nil }
                    continue
                }
                // A record larger than a whole block: it goes in with what follows it in the input.
                consumed = ma_column_encode(encoder, base + used, left)
                guard consumed >= 0 else { return nil }
            }
            if consumed == 0 { break }  // a record cut at the end of the input
            used += consumed
            if pendingRawBytes >= blockRawBytes {
                guard try flush(write: write) else { return nil }
            }
        }
        return used
    }

    /// Ends the stream: `cut` (the start of a record cut at the end of the trace, possibly empty)
    /// goes last, as it is, and the last block is written. False on a zstd error.
    public func finish(cut: UnsafeRawBufferPointer, write: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        if cut.count > 0 {
            guard ma_column_encode_cut(encoder, cut.baseAddress?.assumingMemoryBound(to: UInt8.self), cut.count) != 0 else { return false }
        }
        return pendingRawBytes == 0 ? true : try flush(write: write)
    }

    private var pendingRawBytes: Int { ma_column_encoder_raw_bytes(encoder) }

    /// Writes the current block: its header, then each column as a zstd frame.
    private func flush(write: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        var columns = [UnsafePointer<UInt8>?](repeating: nil, count: Int(MA_COLUMNS))
        var sizes = [Int](repeating: 0, count: Int(MA_COLUMNS))
        let rawBytes = ma_column_encoder_block(encoder, &columns, &sizes)
        block.removeAll(keepingCapacity: true)
        block.append(contentsOf: [UInt8](repeating: 0, count: Int(MA_BLOCK_HEADER_SIZE)))
        func put32(_ value: Int, at offset: Int) {
            for i in 0..<4 { block[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
        }
        for i in 0..<Int(MA_COLUMNS) where sizes[i] > 0 {
            guard let frame = zstd.frame(UnsafeRawBufferPointer(start: columns[i], count: sizes[i])) else { return false }
            block.append(contentsOf: frame)
            put32(frame.count, at: 8 + 4 * i)
        }
        put32(block.count - 4, at: 0)
        put32(rawBytes, at: 4)
        try block.withUnsafeBytes { try write($0) }
        ma_column_encoder_next_block(encoder)
        return true
    }
}

/// One block's columns, decompressed, each followed by MA_COLUMN_PADDING readable bytes (the
/// decoder checks its reads against the columns' ends only now and then).
final class ColumnSet {
    private(set) var buffers: [UnsafeMutableRawBufferPointer]
    var pointers: [UnsafePointer<UInt8>?]
    var lengths: [Int]
    /// Bytes of the raw records the block holds, and of the file it took.
    var decodedBytes = 0, fileBytes = 0

    init() {
        buffers = (0..<Int(MA_COLUMNS)).map { _ in .allocate(byteCount: 64 << 10, alignment: 16) }
        for buffer in buffers { buffer.initializeMemory(as: UInt8.self, repeating: 0) }
        pointers = buffers.map { UnsafePointer($0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        lengths = [Int](repeating: 0, count: Int(MA_COLUMNS))
    }

    deinit { for buffer in buffers { buffer.deallocate() } }

    /// Column `i`'s buffer, with room for `size` bytes and the padding.
    func room(_ i: Int, _ size: Int) -> UnsafeMutableRawBufferPointer {
        if buffers[i].count < size + Int(MA_COLUMN_PADDING) {
            buffers[i].deallocate()
            buffers[i] = .allocate(byteCount: size + Int(MA_COLUMN_PADDING), alignment: 16)
            pointers[i] = UnsafePointer(buffers[i].baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return UnsafeMutableRawBufferPointer(rebasing: buffers[i][0..<size])
    }
}

/// Reads column blocks from a trace file and decompresses their columns.
struct ColumnBlockReader {
    /// What the next block gave.
    enum Outcome {
        case block
        /// The file ends where a block would start.
        case end
        /// The blocks stop here: the file is cut inside a block, or the block is corrupt (why).
        case stop(String)
    }

    /// The largest block, compressed or decoded, a reader accepts (the writer's are about 2 MiB).
    static let maxBlockBytes = 256 << 20
    private let zstd: ZstdFrameDecompressor
    private var compressed = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)

    init?() {
        guard let zstd = ZstdFrameDecompressor() else { return nil }
        self.zstd = zstd
    }

    func release() { compressed.deallocate() }

    /// Reads the block at file `offset` into `set` (its columns decompressed); `read` fills a
    /// buffer from a file offset and returns the bytes it got.
    mutating func next(at offset: UInt64, read: (UnsafeMutableRawBufferPointer, UInt64) throws -> Int, into set: ColumnSet) throws -> Outcome {
        let headerSize = Int(MA_BLOCK_HEADER_SIZE)
        let got = try read(UnsafeMutableRawBufferPointer(rebasing: compressed[0..<headerSize]), offset)
        if got == 0 { return .end }
        if got < headerSize { return .stop("the trace ends inside the header of the column block at file offset \(offset) (\(got) of \(headerSize) bytes)") }
        func u32(_ at: Int) -> Int { Int(compressed.load(fromByteOffset: at, as: UInt32.self).littleEndian) }
        let blockBytes = u32(0) + 4, decodedBytes = u32(4)
        let sizes = (0..<Int(MA_COLUMNS)).map { u32(8 + 4 * $0) }
        func corrupt(_ why: String) -> Outcome {
            .stop("corrupt column block at file offset \(offset): \(why); the events before it were read")
        }
        guard blockBytes <= Self.maxBlockBytes, decodedBytes <= Self.maxBlockBytes,
              blockBytes == headerSize + sizes.reduce(0, +)
        else { return corrupt("its header's sizes do not add up (block \(blockBytes) bytes, columns \(sizes))") }
        if compressed.count < blockBytes {
            compressed.deallocate()
            compressed = .allocate(byteCount: blockBytes, alignment: 16)
        }
        let body = UnsafeMutableRawBufferPointer(rebasing: compressed[headerSize..<blockBytes])
        var have = 0
        while have < body.count {
            let n = try read(UnsafeMutableRawBufferPointer(rebasing: body[have...]), offset + UInt64(headerSize + have))
            if n == 0 { break }
            have += n
        }
        if have < body.count {
            return .stop("the trace ends inside the column block at file offset \(offset) (\(headerSize + have) of \(blockBytes) bytes): the recording was cut")
        }
        var start = 0
        for i in 0..<Int(MA_COLUMNS) {
            let frame = UnsafeRawBufferPointer(rebasing: body[start..<(start + sizes[i])])
            start += sizes[i]
            set.lengths[i] = 0
            guard sizes[i] > 0 else { continue }
            let name = String(cString: ma_column_name(Int32(i)))
            guard let size = zstd.contentSize(frame), size <= UInt64(Self.maxBlockBytes) else {
                return corrupt("its \(name) column is not a zstd frame that states its size")
            }
            do {
                set.lengths[i] = try zstd.decompress(frame, into: set.room(i, Int(size)))
            } catch let error as ZstdError {
                return corrupt("its \(name) column: \(error.name)")
            }
        }
        set.decodedBytes = decodedBytes
        set.fileBytes = blockBytes
        return .block
    }
}

/// Runs a `ColumnBlockReader` on a thread of its own, up to two blocks ahead of the decoder:
/// reading and decompressing overlap the model's decoding and what the caller does with the events.
/// A small trace (under `threadedFileBytes`) is read on the caller's thread instead: a thread for
/// each read of a small trace costs more than it saves (and a malloc arena each, in a process that
/// reads many).
final class ColumnBlockPrefetcher: @unchecked Sendable {
    enum Item {
        case block(ColumnSet)
        case end
        case stop(String)
        case failure(Error)
    }

    static let threadedFileBytes: UInt64 = 4 << 20
    private static let depth = 2
    private let lock = NSLock()
    private var items: [Item] = []
    private var spare: [ColumnSet] = []
    private var cancelled = false
    private let ready = DispatchSemaphore(value: 0)
    /// Blocks the thread may read ahead. Made with 0 and signalled `depth` times: libdispatch traps
    /// when a semaphore is freed with a value below the one it was made with, as this one is when
    /// the reader stops before the last block.
    private let room = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// The reader's state: used by the thread, or by the caller when there is none.
    private var blocks: ColumnBlockReader
    private var offset: UInt64
    private let read: @Sendable (UnsafeMutableRawBufferPointer, UInt64) throws -> Int
    private let threaded: Bool

    /// Starts reading the blocks of a file of `fileBytes` from file offset `offset` with `read`;
    /// nil when zstd cannot be loaded.
    init?(from offset: UInt64, fileBytes: UInt64, read: @escaping @Sendable (UnsafeMutableRawBufferPointer, UInt64) throws -> Int) {
        guard let reader = ColumnBlockReader() else { return nil }
        blocks = reader
        self.offset = offset
        self.read = read
        threaded = fileBytes >= Self.threadedFileBytes
        guard threaded else { return }
        for _ in 0..<Self.depth { room.signal() }
        let thread = Thread { [self] in
            defer { finished.signal() }
            while true {
                room.wait()
                lock.lock()
                let stop = cancelled
                let set = spare.popLast() ?? ColumnSet()
                lock.unlock()
                if stop { return }
                let item = readItem(into: set)
                lock.lock()
                items.append(item)
                lock.unlock()
                ready.signal()
                if case .block = item {} else { return }
            }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    deinit { blocks.release() }

    /// Reads the next block into `set`, or says how the blocks ended.
    private func readItem(into set: ColumnSet) -> Item {
        do {
            switch try blocks.next(at: offset, read: read, into: set) {
            case .block:
                offset += UInt64(set.fileBytes)
                return .block(set)
            case .end: return .end
            case .stop(let why): return .stop(why)
            }
        } catch {
            return .failure(error)
        }
    }

    /// The next block (or how the blocks ended). Hand a block back with `recycle` once decoded.
    func next() -> Item {
        guard threaded else { return readItem(into: spare.popLast() ?? ColumnSet()) }
        ready.wait()
        lock.lock()
        defer { lock.unlock() }
        return items.removeFirst()
    }

    func recycle(_ set: ColumnSet) {
        lock.lock()
        spare.append(set)
        lock.unlock()
        if threaded { room.signal() }
    }

    /// Stops the thread (after at most the block it is reading).
    func stop() {
        guard threaded else { return }
        lock.lock()
        cancelled = true
        lock.unlock()
        room.signal()
        finished.wait()
    }
}

/// Whole-stream conversions, for tools and tests.
public enum ColumnBlocks {
    /// A record stream with raw addresses (a whole one: a cut last record goes last as it is) as
    /// column blocks; nil when a record cannot be read or zstd cannot be loaded.
    public static func blocks(of stream: [UInt8]) -> [UInt8]? {
        guard let writer = ColumnBlockWriter() else { return nil }
        var out: [UInt8] = []
        return stream.withUnsafeBytes { input -> [UInt8]? in
            guard let used = try? writer.append(input, write: { out += $0 }),
                  (try? writer.finish(cut: UnsafeRawBufferPointer(rebasing: input[used...]), write: { out += $0 })) == true
            else { return nil }
            return out
        }
    }

    /// The records (raw addresses) that a column-block trace's blocks decode to, up to the first
    /// block that is cut or corrupt.
    public static func records(ofTrace path: String) throws -> [UInt8] {
        let reader = try TraceReader(path: path)
        guard var blocks = ColumnBlockReader(), let decoder = ma_column_decoder_create() else {
            throw TraceFormatError(path: path, offset: 10, message: "libzstd.so.1 cannot be loaded")
        }
        defer {
            blocks.release()
            ma_column_decoder_destroy(decoder)
        }
        let set = ColumnSet()
        var offset = UInt64(MA_TRACE_HEADER_SIZE)
        var records: [UInt8] = []
        while case .block = try blocks.next(at: offset, read: { try reader.readFile(into: $0, at: $1) }, into: set) {
            var output = [UInt8](repeating: 0, count: set.decodedBytes + Int(MA_MAX_EVENT_RECORD))
            let decoded = output.withUnsafeMutableBufferPointer { ma_column_decode(decoder, set.pointers, set.lengths, $0.baseAddress, $0.count) }
            guard decoded >= 0 else { break }
            records += output[0..<decoded]
            offset += UInt64(set.fileBytes)
        }
        return records
    }
}
