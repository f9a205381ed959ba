import Analysis
import Foundation
import TraceIO
import TraceModel

/// Counts, apart from the report's code, the successful allocations (malloc family and realloc
/// results) and their bytes per stack whose time is in `[fromNs, toNs)`.
struct WindowCounts: TraceVisitor {
    var fromNs: UInt64
    var toNs: UInt64
    var perStack: [StackID: (allocations: UInt64, bytes: UInt64)] = [:]

    init(fromNs: UInt64, toNs: UInt64) {
        self.fromNs = fromNs
        self.toNs = toNs
    }

    mutating func visit(_ event: TraceEvent) {
        switch event.function {
        case .free, .mmap, .munmap, .mremap: return
        default: guard event.address.rawValue != 0 else { return }
        }
        guard event.timeNs >= fromNs, event.timeNs < toNs else { return }
        var f = perStack[event.stack] ?? (0, 0)
        f.allocations += 1
        f.bytes += event.size
        perStack[event.stack] = f
    }

    /// The counts summed per call site of a program without runtime-library callers (C code that
    /// calls malloc itself): the first frame in the program's own file, labelled
    /// `function location` as the page's call-site table shows it.
    static func perSite(_ counts: [StackID: (allocations: UInt64, bytes: UInt64)], reader: TraceReader, program: String)
        -> [String: (allocations: UInt64, bytes: UInt64)]
    {
        let symbolizer = Symbolizer(moduleMaps: reader.moduleMaps)
        let name = (program as NSString).lastPathComponent
        var siteOf: [StackID: UInt64] = [:]
        for stack in counts.keys {
            let frames = reader.stacks.frames(of: stack)
            siteOf[stack] = frames.first { ip in
                symbolizer.locate(ip &- 1, stack: stack).map { ($0.module as NSString).lastPathComponent == name } ?? false
            }
        }
        let symbols = symbolizer.symbolize(Array(Set(siteOf.values)))
        var sites: [String: (allocations: UInt64, bytes: UInt64)] = [:]
        for (stack, f) in counts {
            var label = "(no site in \(name))"
            if let site = siteOf[stack], let frame = symbols[site]?.first {
                label = frame.function + " " + FlameGraph.Location(file: frame.file, line: frame.line, module: frame.module).shortDescription
            }
            var total = sites[label] ?? (0, 0)
            total.allocations += f.allocations
            total.bytes += f.bytes
            sites[label] = total
        }
        return sites
    }
}
