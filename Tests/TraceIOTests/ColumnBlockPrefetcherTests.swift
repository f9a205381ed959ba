import Foundation
import MemAtlasTraceSchema
import TestSupport
import Testing
@testable import TraceIO

/// The thread that reads column blocks ahead of the decoder.
@Suite struct ColumnBlockPrefetcherTests {
    /// A column-block trace of `count` free(NULL) events in blocks of 2 KiB of raw records.
    func trace(events count: Int) throws -> String {
        var header = [UInt8](repeating: 0, count: Int(MA_TRACE_HEADER_SIZE))
        header.replaceSubrange(0..<8, with: Array(MA_TRACE_MAGIC.utf8))
        header[8] = UInt8(MA_TRACE_VERSION)
        header[10] = UInt8(MA_FLAG_COLUMNS)
        header[12] = UInt8(MA_TRACE_HEADER_SIZE)
        let records = [UInt8]((0..<count).flatMap { _ in [UInt8(MA_REC_FREE)] + [UInt8](repeating: 0, count: 8) })
        let writer = try #require(ColumnBlockWriter(blockRawBytes: 2048))
        var file = header
        let used = try records.withUnsafeBytes { try writer.append($0) { file += $0 } }
        #expect(used == records.count)
        #expect(try writer.finish(cut: UnsafeRawBufferPointer(start: nil, count: 0)) { file += $0 })
        let path = Tracing.scratchDirectory() + "/frees"
        try Data(file).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A reader that stops after the first block, while the thread has read the next ones, frees
    /// the prefetcher cleanly (libdispatch traps on freeing a semaphore below its first value).
    @Test func stoppingEarlyWhileTheThreadIsAheadIsClean() throws {
        let reader = try TraceReader(path: try trace(events: 10_000))
        for _ in 0..<20 {
            var prefetcher: ColumnBlockPrefetcher? = try #require(ColumnBlockPrefetcher(from: UInt64(MA_TRACE_HEADER_SIZE), fileBytes: .max) {
                try reader.readFile(into: $0, at: $1)
            })
            guard case .block(let set) = prefetcher!.next() else {
                Issue.record("no first block")
                return
            }
            #expect(set.fileBytes > 0)
            usleep(20_000)  // the thread reads its blocks ahead and waits
            prefetcher!.stop()
            prefetcher = nil
        }
    }

    /// Read with the thread and without, the same blocks come, then the end.
    @Test func theThreadAndTheCallerReadTheSameBlocks() throws {
        let path = try trace(events: 10_000)
        let reader = try TraceReader(path: path)
        var sizes: [[Int]] = []
        for fileBytes in [UInt64.max, 0] {
            let prefetcher = try #require(ColumnBlockPrefetcher(from: UInt64(MA_TRACE_HEADER_SIZE), fileBytes: fileBytes) {
                try reader.readFile(into: $0, at: $1)
            })
            var blocks: [Int] = []
            reading: while true {
                switch prefetcher.next() {
                case .block(let set):
                    blocks.append(set.fileBytes)
                    prefetcher.recycle(set)
                case .end: break reading
                case .stop(let why): Issue.record("stopped: \(why)"); break reading
                case .failure(let error): Issue.record("failed: \(error)"); break reading
                }
            }
            prefetcher.stop()
            sizes.append(blocks)
        }
        #expect(sizes[0].count > 20 && sizes[0] == sizes[1], "\(sizes[0].count) and \(sizes[1].count) blocks")
        #expect(UInt64(sizes[0].reduce(0, +)) + UInt64(MA_TRACE_HEADER_SIZE) == reader.fileSize)
    }

    /// Every event of a many-block trace reads, in order.
    @Test func manyBlocksReadWhole() throws {
        let reader = try TraceReader(path: try trace(events: 10_000))
        var frees = 0
        try reader.readBatches { batch in
            for e in batch.events where e.function == .free && e.address == .null { frees += 1 }
        }
        #expect(frees == 10_000)
        #expect(reader.completeness != .complete)  // no exit record
    }
}
