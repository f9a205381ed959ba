/// Fixed, locale-independent formatting of sizes for tables and pictures.
public enum ByteFormat {
    /// `"512 B"`, `"4.0 KiB"`, `"64.0 MiB"`, `"10.0 GiB"` (binary units, one decimal).
    public static func string(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        if bytes < 1024 { return "\(bytes) B" }
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return oneDecimal(value) + " " + units[unit]
    }

    /// `value` with exactly one decimal, rounded half up (deterministic, no locale).
    public static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    /// Kilobytes as `pmap` prints them: the integer number of KiB.
    public static func kilobytes(_ bytes: UInt64) -> String { String(bytes / 1024) }
}
