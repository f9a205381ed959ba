import Foundation

/// A process's address space at one moment: its regions with `smaps` accounting, classified.
public struct AddressSpaceSnapshot: Sendable {
    /// The process id.
    public var pid: Int32
    /// The command name from `/proc/PID/comm`.
    public var command: String
    /// The main executable's path (nil when the link is unreadable).
    public var executablePath: String?
    /// Regions in address order.
    public var regions: [Region]
    /// The sum of every region's `smaps` fields (what `pmap -X` prints as its last line).
    public var totals: RegionUsage

    /// The region containing `address`, if any.
    public func region(containing address: VirtualAddress) -> Region? {
        regions.first { $0.contains(address) }
    }

    /// Virtual and resident bytes grouped by kind, in `RegionKind` order (kinds with no region left out).
    public var totalsByKind: [(kind: RegionKind, regions: Int, usage: RegionUsage)] {
        RegionKind.allCases.compactMap { kind in
            let matching = regions.filter { $0.kind == kind }
            guard !matching.isEmpty else { return nil }
            var usage = RegionUsage()
            for region in matching { usage.add(region.usage) }
            return (kind, matching.count, usage)
        }
    }
}

/// Reads `/proc/PID/smaps` and friends into an `AddressSpaceSnapshot`.
public enum AddressSpaceReader {
    /// Reads the address space of process `pid`.
    /// - Throws: `ProcError.processGone` when the process exits before or during the read,
    ///   `ProcError.permissionDenied` when this user may not inspect it.
    public static func read(pid: Int32) throws -> AddressSpaceSnapshot {
        let smapsPath = "/proc/\(pid)/smaps"
        let text = try ProcFile.readText(smapsPath, pid: pid)
        let command = (try? ProcFile.readText("/proc/\(pid)/comm", pid: pid))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
        let parsed = try MapsParser.parse(text, path: smapsPath)
        // An exiting process has an empty smaps: say it is gone rather than show nothing.
        if parsed.isEmpty {
            if access("/proc/\(pid)", F_OK) != 0 { throw ProcError.processGone(pid: pid) }
            throw ProcError.processGone(pid: pid)
        }
        let regions = RegionClassifier.classify(
            parsed, executablePath: executable?.replacingOccurrences(of: " (deleted)", with: ""),
            threadStackPointers: threadStackPointers(pid: pid))
        var totals = RegionUsage()
        for region in regions { totals.add(region.usage) }
        return AddressSpaceSnapshot(pid: pid, command: command, executablePath: executable, regions: regions, totals: totals)
    }

    /// The stack pointers of the process's threads other than the main one, from `/proc/PID/task/TID/syscall`
    /// (the next-to-last field; only present while the thread is blocked in a system call).
    static func threadStackPointers(pid: Int32) -> [VirtualAddress] {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return [] }
        var pointers: [VirtualAddress] = []
        for task in tasks.sorted() where task != String(pid) {
            guard let text = try? ProcFile.readText("/proc/\(pid)/task/\(task)/syscall", pid: pid) else { continue }
            let fields = text.split(separator: " ")
            guard fields.count >= 9 else { continue }
            let sp = fields[fields.count - 2]
            if sp.hasPrefix("0x"), let value = UInt64(sp.dropFirst(2), radix: 16) {
                pointers.append(VirtualAddress(value))
            }
        }
        return pointers
    }
}
