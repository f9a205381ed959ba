import ArgumentParser
import Foundation
import Render
import VirtualMemory

/// `mematlas vm PID | -- PROGRAM`: the address space of a live process as a table and a picture.
struct VMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Show a process's virtual memory: regions, resident pages, and address translation.",
        discussion: """
        Reads /proc/PID/smaps (sizes in KiB, totals as `pmap -X` prints them), walks /proc/PID/pagemap \
        for page states and /proc/kpageflags (as root) for page flags. With `-- PROGRAM ARGS...` the \
        program runs under ptrace and is inspected just before it exits.
        """)

    @Argument(help: "The process id to inspect (or give a program after `--`).")
    var pid: Int32?

    @Option(name: [.short, .customLong("output")], help: "Write the address-space picture (SVG) to this file.")
    var output: String?

    @Option(help: "Translate this virtual address (hex, e.g. 0x7f0000001000) step by step.")
    var translate: String?

    @Option(help: "List the pages (state, frame number, flags) of the region holding this hex address, from it on.")
    var pages: String?

    @Option(help: "With --pages: how many pages to list.")
    var limit = 32

    @Option(help: "Also print a one-line summary every SECONDS while the process runs.")
    var every: Double?

    @Option(help: "With --every on a PID: stop after this many summaries.")
    var count: Int?

    @Flag(help: "Skip the pagemap walk (regions and smaps figures only).")
    var noPages = false

    @Argument(parsing: .postTerminator, help: "The program to run and inspect at exit, with its arguments.")
    var program: [String] = []

    func validate() throws {
        if pid == nil && program.isEmpty { throw ValidationError("give a PID, or a program after `--`") }
        if pid != nil && !program.isEmpty { throw ValidationError("give either a PID or a program, not both") }
        if let every, every <= 0 { throw ValidationError("--every needs a positive number of seconds") }
        if let translate, parseAddress(translate) == nil { throw ValidationError("--translate needs a hex address, got \(translate)") }
        if let pages, parseAddress(pages) == nil { throw ValidationError("--pages needs a hex address, got \(pages)") }
    }

    func run() throws {
        if let pid {
            if let every {
                var printed = 0
                let start = Date()
                while count.map({ printed < $0 }) ?? true {
                    guard let snapshot = try? AddressSpaceReader.read(pid: pid) else { break }
                    print(VMReport.summaryLine(snapshot, seconds: Date().timeIntervalSince(start)))
                    printed += 1
                    if count.map({ printed >= $0 }) ?? false { break }
                    Thread.sleep(forTimeInterval: every)
                }
            }
            try report(pid: pid)
            return
        }
        let child = try TracedProcess(program: program[0], arguments: Array(program.dropFirst()))
        let start = Date()
        var lastTick = Date.distantPast
        var failure: Error?
        let exit = try child.run(
            tickMilliseconds: 20,
            onTick: {
                guard let every, Date().timeIntervalSince(lastTick) >= every else { return }
                lastTick = Date()
                if let snapshot = try? AddressSpaceReader.read(pid: child.pid) {
                    print(VMReport.summaryLine(snapshot, seconds: Date().timeIntervalSince(start)))
                }
            },
            onExitStop: {
                print("\(program[0]) is exiting; its address space just before exit:")
                do { try report(pid: child.pid) } catch { failure = error }
            })
        if !child.didExec {
            throw VirtualMemoryCommandFailure(description: "could not run \(program[0]): not found or not executable (\(exit))")
        }
        print("\(program[0]) \(exit)")
        if let failure { throw failure }
    }

    private func report(pid: Int32) throws {
        let snapshot = try AddressSpaceReader.read(pid: pid)
        var pages: AddressSpacePages?
        var scanSeconds = 0.0
        if !noPages {
            let clock = ContinuousClock()
            let started = clock.now
            pages = try PageScanner.scan(snapshot)
            let elapsed = clock.now - started
            scanSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        print(VMReport.table(snapshot, pages: pages), terminator: "")
        if let pages {
            print(VMReport.pageSummary(pages, scanSeconds: scanSeconds), terminator: "")
        }
        if let translate, let address = parseAddress(translate) {
            print("\nTranslation of \(translate):")
            for line in try AddressTranslation.translate(VirtualAddress(address), pid: pid).steps { print("  " + line) }
        }
        if let pagesAddress = self.pages.flatMap(parseAddress) {
            if let region = snapshot.region(containing: VirtualAddress(pagesAddress)) {
                print("\nPages of \(region.start)-\(region.end) \(region.kind.rawValue) \(region.name) from \(self.pages!):")
                for page in try PageScanner.pageDetails(pid: pid, region: region, from: VirtualAddress(pagesAddress), limit: limit) {
                    print("  " + page.summary)
                }
            } else {
                print("\n\(self.pages!) is not in any region of pid \(pid)")
            }
        }
        if let output {
            let picture = try pages ?? PageScanner.scan(snapshot)
            try AddressSpacePicture.svg(picture).write(toFile: output, atomically: true, encoding: .utf8)
            print("wrote \(output)")
        }
    }
}

/// Parses `0x7f...` or plain hex.
func parseAddress(_ text: String) -> UInt64? {
    let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? String(text.dropFirst(2)) : text
    return UInt64(digits, radix: 16)
}

/// Text rendering of `vm` results (kept here: it is terminal layout only).
enum VMReport {
    static let columns: [(title: String, field: String)] = [
        ("Size", "Size"), ("Rss", "Rss"), ("Pss", "Pss"), ("Shr_Clean", "Shared_Clean"), ("Shr_Dirty", "Shared_Dirty"),
        ("Prv_Clean", "Private_Clean"), ("Prv_Dirty", "Private_Dirty"), ("Swap", "Swap"), ("AnonHuge", "AnonHugePages"),
    ]

    static func pad(_ s: String, _ width: Int, right: Bool = true) -> String {
        if s.count >= width { return s }
        let fill = String(repeating: " ", count: width - s.count)
        return right ? fill + s : s + fill
    }

    /// The region table, sizes in KiB, with a totals line matching `pmap -X`.
    static func table(_ snapshot: AddressSpaceSnapshot, pages: AddressSpacePages?) -> String {
        var out = "pid \(snapshot.pid) (\(snapshot.command)): \(snapshot.regions.count) regions, sizes in KiB\n"
        var header = pad("Address", 16) + " Perm " + pad("Kind", 15, right: false)
        for column in columns { header += " " + pad(column.title, 9) }
        if pages != nil { header += " " + pad("Present", 8) + " " + pad("Swapped", 7) + " " + pad("NotPres", 8) }
        out += header + " Mapping\n"
        for (index, region) in snapshot.regions.enumerated() {
            var line = pad(String(region.start.rawValue, radix: 16), 16) + " \(region.permissions) " + pad(region.kind.rawValue, 15, right: false)
            for column in columns { line += " " + pad(String(region.usage[column.field]), 9) }
            if let census = pages?.regions[index].census {
                line += " " + pad(String(census.present), 8) + " " + pad(String(census.swapped), 7) + " " + pad(String(census.notPresent), 8)
            }
            out += line + " " + region.name + "\n"
        }
        var total = pad("total KiB", 16) + "      " + pad("", 15)
        for column in columns { total += " " + pad(String(snapshot.totals[column.field]), 9) }
        if let pages {
            let census = pages.total
            total += " " + pad(String(census.present), 8) + " " + pad(String(census.swapped), 7) + " " + pad(String(census.notPresent), 8)
        }
        out += total + "\n\nBy kind:\n"
        for entry in snapshot.totalsByKind {
            out += "  " + pad(entry.kind.rawValue, 15, right: false) + pad(String(entry.regions), 4) + " regions  "
                + "virtual " + pad(ByteFormat.string(entry.usage.size), 10) + "  rss " + pad(ByteFormat.string(entry.usage.rss), 10)
                + "  pss " + pad(ByteFormat.string(entry.usage.pss), 10) + "  swap " + pad(ByteFormat.string(entry.usage.swap), 10) + "\n"
        }
        return out
    }

    /// How much of the virtual memory is backed, from the pagemap walk.
    static func pageSummary(_ pages: AddressSpacePages, scanSeconds: Double) -> String {
        let c = pages.total
        let share = c.total == 0 ? 0 : Double(c.present) * 100 / Double(c.total)
        var out = "\nPages (\(pages.pageSize) bytes each): \(c.total) virtual, \(c.present) present (\(ByteFormat.oneDecimal(share))%), "
            + "\(c.swapped) swapped, \(c.notPresent) not present\n"
        out += "  present pages: \(c.anonymous) anonymous, \(c.fileBacked) file-backed, \(c.shared) shared with other processes"
        if pages.hasKernelPageFlags {
            out += ", \(c.huge) in huge pages, \(c.active) on the active LRU, \(c.referenced) referenced, \(c.zeroPage) zero page"
        } else {
            out += " (page flags need root: /proc/kpageflags)"
        }
        let skipped = pages.regions.filter(\.skippedAsUntouched).count
        out += "\n  pagemap walked in \(ByteFormat.oneDecimal(scanSeconds * 1000)) ms (\(skipped) regions skipped: smaps shows nothing resident or swapped)\n"
        return out
    }

    /// One line: time, virtual size, RSS, PSS, swap.
    static func summaryLine(_ snapshot: AddressSpaceSnapshot, seconds: Double) -> String {
        let t = snapshot.totals
        return "t=\(ByteFormat.oneDecimal(seconds))s pid \(snapshot.pid): virtual \(ByteFormat.string(t.size)), rss \(ByteFormat.string(t.rss)), "
            + "pss \(ByteFormat.string(t.pss)), private dirty \(ByteFormat.string(t.privateDirty)), swap \(ByteFormat.string(t.swap))"
    }
}

/// A failure of a virtual-memory command, printed as one line (no usage text: the arguments were fine).
struct VirtualMemoryCommandFailure: Error, CustomStringConvertible {
    /// The message.
    var description: String
}
