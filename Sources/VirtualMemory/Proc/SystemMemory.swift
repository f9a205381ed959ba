/// System-wide memory figures from `/proc/meminfo`, in bytes.
public struct SystemMemory: Sendable {
    /// Every `/proc/meminfo` field in file order, in bytes (counts without a unit kept as-is).
    public var fields: [(name: String, value: UInt64)]

    /// The field `name` in bytes (0 when missing).
    public subscript(name: String) -> UInt64 { fields.first { $0.name == name }?.value ?? 0 }

    /// Total usable RAM in bytes.
    public var total: UInt64 { self["MemTotal"] }
    /// RAM available for new work without swapping, in bytes.
    public var available: UInt64 { self["MemAvailable"] }
    /// The page cache in bytes (`Cached`, not counting swap cache; shared memory is included by the kernel).
    public var pageCache: UInt64 { self["Cached"] }
    /// Bytes waiting to be written back to disk.
    public var dirty: UInt64 { self["Dirty"] }
    /// Bytes being written back right now.
    public var writeback: UInt64 { self["Writeback"] }
    /// Swap space in bytes.
    public var swapTotal: UInt64 { self["SwapTotal"] }
    /// Swap space in use, in bytes.
    public var swapUsed: UInt64 { self["SwapTotal"] - min(self["SwapTotal"], self["SwapFree"]) }

    /// Reads `/proc/meminfo`.
    public static func read() throws -> SystemMemory {
        let text = try ProcFile.readText("/proc/meminfo")
        var fields: [(String, UInt64)] = []
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let parts = line[line.index(after: colon)...].split(separator: " ")
            guard let first = parts.first, let value = UInt64(first) else { continue }
            fields.append((String(line[..<colon]), parts.count > 1 && parts[1] == "kB" ? value * 1024 : value))
        }
        return SystemMemory(fields: fields)
    }
}
