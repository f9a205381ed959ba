import Analysis

/// The terminal report of `mematlas diff`: the totals, then the call sites that grew and shrank most.
public enum DiffText {
    /// The report's text (ends with a newline).
    /// - Parameters:
    ///   - changes: per call site changes, biggest first (`CallSiteDiff.compare`).
    ///   - before, after: the two profiles' totals.
    ///   - top: call sites listed per direction.
    public static func render(
        _ changes: [CallSiteChange], kind: FlameGraphKind, before: StackStatistics, after: StackStatistics, top: Int
    ) -> String {
        func figure(_ v: UInt64) -> String { kind.isBytes ? Format.bytes(v) : Format.count(v) }
        func signed(_ d: Int64) -> String { (d < 0 ? "-" : "+") + figure(d.magnitude) }
        let b = kind.weight(before), a = kind.weight(after)
        let total = Int64(bitPattern: a &- b)
        var out = "\(kind.caption): before \(figure(b)), after \(figure(a)) (\(signed(total))"
        out += b > 0 ? ", \(total < 0 ? "-" : "+")\(Format.percent(total.magnitude, of: b)))\n" : ")\n"
        for (heading, grew) in [("Grew", true), ("Shrank", false)] {
            let rows = changes.filter { grew ? $0.after > $0.before : $0.after < $0.before }
            out += "\n\(heading) (\(rows.count) call site\(rows.count == 1 ? "" : "s")):\n"
            if rows.isEmpty { out += "  (none)\n" }
            for c in rows.prefix(top) {
                let delta = signed(c.delta)
                out += "  " + delta + String(repeating: " ", count: max(0, 12 - delta.count))
                out += "  \(figure(c.before)) -> \(figure(c.after))  \(c.site.description)\n"
            }
            if rows.count > top { out += "  ... and \(rows.count - top) more\n" }
        }
        return out
    }
}
