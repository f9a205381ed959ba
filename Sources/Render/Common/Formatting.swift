/// Fixed, locale-independent number formats shared by every renderer, so output is byte-stable.
public enum Format {
    /// Bytes in binary units with one decimal: `512 B`, `1.5 KiB`, `12.0 MiB`, `3.2 GiB`.
    public static func bytes(_ value: UInt64) -> String {
        if value < 1024 { return "\(value) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB"]
        var scaled = Double(value) / 1024
        var unit = 0
        while scaled >= 1024, unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        return fixed(scaled, decimals: 1) + " " + units[unit]
    }

    /// An integer with thousands separators: `1,234,567`.
    public static func count(_ value: UInt64) -> String {
        let digits = String(value)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return out
    }

    /// A count and its noun, singular for one: `1 block`, `2,048 blocks`.
    public static func count(_ value: UInt64, _ noun: String) -> String {
        count(value) + " " + noun + (value == 1 ? "" : "s")
    }

    /// A share of a whole as a percentage with one decimal: `12.5%` (0 of 0 gives `0.0%`).
    public static func percent(_ part: UInt64, of whole: UInt64) -> String {
        whole == 0 ? "0.0%" : fixed(Double(part) * 100 / Double(whole), decimals: 1) + "%"
    }

    /// Seconds with three decimals: `1.234 s`.
    public static func seconds(_ value: Double) -> String { fixed(value, decimals: 3) + " s" }

    /// A number rounded to a fixed count of decimals, without scientific notation.
    public static func fixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return "0" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (abs(value) * scale).rounded()
        let negative = value < 0 && rounded > 0
        let whole = UInt64(rounded / scale)
        var fraction = String(UInt64(rounded) % UInt64(scale))
        while fraction.count < decimals { fraction = "0" + fraction }
        return (negative ? "-" : "") + String(whole) + (decimals > 0 ? "." + fraction : "")
    }
}
