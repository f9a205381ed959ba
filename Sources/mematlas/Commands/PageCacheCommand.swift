import ArgumentParser
import Foundation
import Render
import VirtualMemory

/// `mematlas pagecache FILE...`: which pages of files sit in the page cache.
struct PageCacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pagecache",
        abstract: "Show how much of each file is in the page cache (mmap + mincore), and system totals.")

    @Argument(help: "Files to inspect.")
    var files: [String]

    @Option(name: [.short, .customLong("output")], help: "Write a strip picture per file (SVG) to this file.")
    var output: String?

    @Flag(help: "First ask the kernel to drop the files' clean cached pages (POSIX_FADV_DONTNEED).")
    var evict = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one file") }
    }

    func run() throws {
        if evict { for file in files { try PageCache.evict(file) } }
        var results: [FileResidency] = []
        print(VMReport.pad("Cached", 10) + " " + VMReport.pad("Pages", 16) + " " + VMReport.pad("%", 6) + "  File  (cached page ranges)")
        var failures = 0
        for file in files {
            let residency: FileResidency
            do {
                residency = try PageCache.residency(of: file)
            } catch {
                print(VMReport.pad("-", 10) + " " + VMReport.pad("-", 16) + " " + VMReport.pad("-", 6) + "  \(file)  (error: \(error))")
                failures += 1
                continue
            }
            results.append(residency)
            let percent = residency.pageCount == 0 ? 0 : Double(residency.residentCount) * 100 / Double(residency.pageCount)
            let ranges = residency.residentRanges
            var rangeText = ranges.prefix(8).map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound - 1)" }.joined(separator: ",")
            if ranges.count > 8 { rangeText += ",... (\(ranges.count) ranges)" }
            print(VMReport.pad(ByteFormat.string(residency.residentBytes), 10) + " "
                  + VMReport.pad("\(residency.residentCount)/\(residency.pageCount)", 16) + " "
                  + VMReport.pad(ByteFormat.oneDecimal(percent), 6) + "  \(file)" + (rangeText.isEmpty ? "" : "  (\(rangeText))"))
        }
        let memory = try SystemMemory.read()
        print("\nSystem (/proc/meminfo):")
        print("  page cache \(ByteFormat.string(memory.pageCache)), dirty \(ByteFormat.string(memory.dirty)), writeback \(ByteFormat.string(memory.writeback))")
        print("  RAM \(ByteFormat.string(memory.total)), available \(ByteFormat.string(memory.available)); swap \(ByteFormat.string(memory.swapUsed)) used of \(ByteFormat.string(memory.swapTotal))")
        if let output {
            try PageCachePicture.svg(results).write(toFile: output, atomically: true, encoding: .utf8)
            print("wrote \(output)")
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
