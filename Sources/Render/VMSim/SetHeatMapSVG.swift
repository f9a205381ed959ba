import MemorySimulators

/// One grid of the per-set heat map: a cache level or the TLB, one cell per set.
public struct SetHeatMapPanel: Sendable, Equatable {
    /// The heading, e.g. `L1 32 KiB, 8-way, 64 B lines: misses per set`.
    public var title: String
    /// Hits in each set, set 0 first.
    public var setHits: [UInt64]
    /// Misses in each set, set 0 first (the cell colour).
    public var setMisses: [UInt64]

    /// A panel titled `title` over per-set hits and misses (same length).
    public init(title: String, setHits: [UInt64], setMisses: [UInt64]) {
        precondition(setHits.count == setMisses.count, "one hit and one miss count per set")
        self.title = title
        self.setHits = setHits
        self.setMisses = setMisses
    }

    /// One panel per cache level.
    public static func panels(for result: CacheSimulationResult) -> [SetHeatMapPanel] {
        result.levels.map { level in
            let configuration = level.configuration
            return SetHeatMapPanel(
                title: "\(configuration.name) \(VMSimFormatting.bytes(UInt64(configuration.sizeBytes))), "
                    + "\(configuration.ways)-way, \(configuration.lineSize) B lines: misses per set",
                setHits: level.setHits, setMisses: level.setMisses)
        }
    }

    /// The TLB's panel.
    public static func panel(for result: TranslationResult) -> SetHeatMapPanel {
        SetHeatMapPanel(
            title: "TLB \(result.configuration.tlbEntries) entries, \(result.configuration.tlbWays)-way, "
                + "\(result.configuration.pageSize.displayName) pages: misses per set",
            setHits: result.setHits, setMisses: result.setMisses)
    }
}

/// Draws per-set miss counts as heat maps: one row-major grid per panel (set 0 top left), white
/// for no misses to dark red for the most; each cell's tooltip gives its counts. Conflict
/// thrashing shows as a few dark cells in a pale grid.
public enum SetHeatMapSVG {
    /// Grid width available to the cells (SVG user units).
    static let gridWidth = 896.0
    private static let margin = 24.0

    /// The SVG document for `panels`, stacked top to bottom.
    public static func render(_ panels: [SetHeatMapPanel]) -> String {
        let format = VMSimFormatting.coordinate
        var body = ""
        var top = margin
        for (index, panel) in panels.enumerated() {
            let sets = panel.setMisses.count
            let columns = max(1, min(64, sets))
            let rows = (sets + columns - 1) / columns
            let cell = max(3, min(28, (gridWidth / Double(columns)).rounded(.down)))
            let maxMisses = panel.setMisses.max() ?? 0
            let totalMisses = panel.setMisses.reduce(0, +)
            body += "<g class=\"panel\" id=\"panel-\(index)\">\n"
            body += "<text x=\"\(format(margin))\" y=\"\(format(top + 14))\" font-size=\"14\" font-weight=\"bold\">"
                + "\(VMSimFormatting.xml(panel.title))</text>\n"
            body += "<text x=\"\(format(margin))\" y=\"\(format(top + 32))\" fill=\"#555555\">"
                + "\(sets) sets, \(totalMisses) misses, at most \(maxMisses) in one set; "
                + "\(columns) sets a row, set 0 top left</text>\n"
            top += 42
            for set in 0..<sets {
                let x = margin + Double(set % columns) * cell, y = top + Double(set / columns) * cell
                let intensity = maxMisses == 0 ? 0 : Double(panel.setMisses[set]) / Double(maxMisses)
                body += "<rect x=\"\(format(x))\" y=\"\(format(y))\" width=\"\(format(cell - 1))\" height=\"\(format(cell - 1))\" "
                    + "fill=\"\(heatColour(intensity))\"><title>set \(set): \(panel.setHits[set]) hits, "
                    + "\(panel.setMisses[set]) misses</title></rect>\n"
            }
            top += Double(rows) * cell + 12
            // Scale: five swatches from 0 to the maximum.
            for step in 0...4 {
                let x = margin + Double(step) * 90
                body += "<rect x=\"\(format(x))\" y=\"\(format(top))\" width=\"14\" height=\"14\" "
                    + "fill=\"\(heatColour(Double(step) / 4))\" stroke=\"#cccccc\"/>\n"
                body += "<text x=\"\(format(x + 20))\" y=\"\(format(top + 11))\">"
                    + "\(Int((Double(maxMisses) * Double(step) / 4).rounded())) misses</text>\n"
            }
            top += 34
            body += "</g>\n"
        }
        let width = gridWidth + 2 * margin
        return """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(format(width))" height="\(format(top))" \
        viewBox="0 0 \(format(width)) \(format(top))" font-family="sans-serif" font-size="12">
        <title>Misses per set</title>
        <rect x="0" y="0" width="\(format(width))" height="\(format(top))" fill="#ffffff"/>

        """ + body + "</svg>\n"
    }

    /// White (0) through orange to dark red (1), as `#rrggbb`.
    static func heatColour(_ intensity: Double) -> String {
        let t = min(max(intensity, 0), 1)
        let stops: [(Double, Double, Double)] = [(255, 255, 255), (253, 174, 97), (165, 0, 38)]
        let (from, to, local) = t < 0.5 ? (stops[0], stops[1], t * 2) : (stops[1], stops[2], (t - 0.5) * 2)
        func channel(_ a: Double, _ b: Double) -> String {
            let value = Int((a + (b - a) * local).rounded())
            let hex = String(value, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }
        return "#" + channel(from.0, to.0) + channel(from.1, to.1) + channel(from.2, to.2)
    }
}
