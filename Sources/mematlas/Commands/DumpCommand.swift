import ArgumentParser
import Foundation
import TraceIO
import TraceModel

/// `mematlas dump`: prints a trace's events one per line, for debugging and for scripts.
struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print a trace's allocator events, one per line (time ns, thread, function, fields)."
    )

    @Argument(help: "A trace written by `mematlas record`.")
    var trace: String

    @Option(help: "Stop after this many events.")
    var limit: UInt64 = .max

    @Flag(help: "Print the metadata (process, modules, threads, residency snapshots) after the events.")
    var metadata = false

    struct Printer: TraceVisitor {
        var limit: UInt64
        var printed: UInt64 = 0
        var out = ""

        mutating func visit(_ e: TraceEvent) {
            guard printed < limit else { return }
            printed += 1
            var line = "\(e.timeNs) \(e.thread.rawValue) \(e.function.name)"
            switch e.function {
            case .free: line += " \(e.address)"
            case .munmap: line += " \(e.address) \(e.size)"
            case .realloc, .reallocarray: line += " \(e.oldAddress) \(e.size) -> \(e.address) stack \(e.stack.rawValue)"
            case .mremap: line += " \(e.oldAddress) \(e.oldSize) -> \(e.address) \(e.size) stack \(e.stack.rawValue)"
            default: line += " \(e.size)\(e.alignment > 0 ? " align \(e.alignment)" : "") -> \(e.address) stack \(e.stack.rawValue)"
            }
            out += line + "\n"
            if out.utf8.count > 1 << 16 {
                FileHandle.standardOutput.write(Data(out.utf8))
                out = ""
            }
        }
    }

    func run() throws {
        let reader = try TraceReader(path: trace)
        var printer = Printer(limit: limit)
        try reader.read(into: &printer)
        var out = printer.out
        if metadata {
            if let p = reader.process { out += "process \(p.pid) (parent \(p.parentPID)) \(p.executable) unwinder \(p.unwinder.name)\n" }
            out += "end \(reader.processEnd.rawValue), \(reader.eventCount) events, \(reader.stacks.count) stacks, \(reader.durationNs) ns\n"
            for (i, map) in reader.moduleMaps.enumerated() {
                out += "module map \(i) (after \(map.stacksBefore) stacks): \(map.modules.count) modules\n"
                for m in map.modules { out += "  0x\(String(m.loadBias, radix: 16)) \(m.path) \(m.buildIDHex)\n" }
            }
            for (tid, name) in reader.threadNames.sorted(by: { $0.key < $1.key }) { out += "thread \(tid.rawValue) \(name)\n" }
            for snapshot in reader.residency {
                out += "residency at \(snapshot.timeNs) ns: \(snapshot.regions.count) regions, \(snapshot.residentBytes) bytes resident\n"
                for r in snapshot.regions {
                    out += "  0x\(String(r.start, radix: 16)) \(r.length) bytes \(r.kind == .brkHeap ? "[heap]" : "anon") resident \(r.residentBytes)\n"
                }
            }
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}
