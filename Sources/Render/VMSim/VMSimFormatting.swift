import Foundation

/// Fixed number formats and XML escaping shared by the vmsim renderers, so output is byte-stable.
enum VMSimFormatting {
    /// `value` with exactly `decimals` digits after the point (POSIX locale, no grouping).
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", locale: Locale(identifier: "en_US_POSIX"), value.isFinite ? value : 0)
    }

    /// An SVG coordinate: one decimal place, trailing `.0` dropped.
    static func coordinate(_ value: Double) -> String {
        let tenths = (value * 10).rounded()
        let whole = Int(tenths) / 10, fraction = abs(Int(tenths) % 10)
        let sign = tenths < 0 && whole == 0 ? "-" : ""
        return fraction == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction)"
    }

    /// A ratio as a percentage with two decimals, e.g. `87.50%`.
    static func percent(_ ratio: Double) -> String { fixed(ratio * 100, 2) + "%" }

    /// A byte count in the largest binary unit that divides it, e.g. `32 KiB`, `4096 B` when odd.
    static func bytes(_ count: UInt64) -> String {
        for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] where count >= (1 << shift) && count % (1 << shift) == 0 {
            return "\(count >> shift) \(unit)"
        }
        return "\(count) B"
    }

    /// Escapes `&`, `<`, `>` and `"` for SVG text and attributes.
    static func xml(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// A text table: the first row is the header; the first column is left-aligned, others right.
    static func table(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        return rows.map { row in
            row.enumerated().map { index, cell in
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                return index == 0 ? cell + padding : padding + cell
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }
}
