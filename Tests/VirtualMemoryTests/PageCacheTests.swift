import Foundation
import Testing
import TestSupport
@testable import VirtualMemory

/// Page-cache residency with mincore on a real file on disk (not tmpfs, where eviction is impossible).
@Suite struct PageCacheTests {
    @Test func readRangeIsResidentAndNothingElse() throws {
        let path = ExamplePrograms.buildDirectory.appendingPathComponent("pagecache-\(UUID().uuidString).bin").path
        let pageSize = 4096
        let pages = 256
        var bytes = [UInt8](repeating: 0, count: pages * pageSize)
        for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 31) }
        let handle = try #require(FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: path, contents: nil); return path }()))
        handle.write(Data(bytes))
        try handle.synchronize()  // dirty pages cannot be evicted
        try handle.close()
        defer { try? FileManager.default.removeItem(atPath: path) }

        try PageCache.evict(path)
        let evicted = try PageCache.residency(of: path)
        #expect(evicted.pageCount == pages)
        #expect(evicted.residentCount == 0)

        try PageCache.readWithoutReadahead(path, offset: UInt64(100 * pageSize), length: 20 * pageSize)
        let residency = try PageCache.residency(of: path)
        #expect(residency.residentRanges == [100..<120])
        #expect(residency.residentBytes == UInt64(20 * pageSize))
    }

    @Test func meminfoHasTheSystemTotals() throws {
        let memory = try SystemMemory.read()
        #expect(memory.total > 0)
        #expect(memory.pageCache > 0)
        #expect(memory["Dirty"] == memory.dirty)
    }

    @Test func missingFileIsATypedError() {
        #expect(throws: SystemCallError.self) { try PageCache.residency(of: "/nonexistent/file") }
    }
}
