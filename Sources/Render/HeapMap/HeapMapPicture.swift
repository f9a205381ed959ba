import AllocatorLab

/// Draws a heap as an SVG heap map: its regions one after another, each cut into rows of a fixed
/// number of bytes, with used blocks coloured by size class, free space pale and allocator overhead
/// grey, and the scale stated. Works for any `HeapSnapshot` (a model's heap or the real one).
/// Deterministic output for the same input.
public enum HeapMapPicture {
    /// Width of the block area in pixels.
    static let rowWidth = 1024
    /// Height of one row in pixels.
    static let rowHeight = 12
    /// Left margin for region labels, in pixels.
    static let labelWidth = 190
    /// The most rows drawn; the scale grows to fit.
    static let maximumRows = 96

    /// The size-class colour buckets: upper bound in bytes (inclusive), colour, legend text.
    static let sizeClasses: [(upTo: UInt64, colour: String, label: String)] = [
        (32, "#1f77b4", "<= 32 B"), (128, "#17becf", "<= 128 B"), (512, "#2ca02c", "<= 512 B"),
        (4096, "#bcbd22", "<= 4 KiB"), (65536, "#ff7f0e", "<= 64 KiB"), (1 << 20, "#d62728", "<= 1 MiB"),
        (.max, "#9467bd", "> 1 MiB"),
    ]
    static let freeColour = "#f4f4f4"
    static let overheadColour = "#8c8c8c"

    /// The colour of a used block of `bytes`.
    static func colour(forUsedBlockOf bytes: UInt64) -> String {
        sizeClasses.first { bytes <= $0.upTo }!.colour
    }

    /// The most regions drawn (the rest are counted in a note).
    static let maximumRegions = 160

    /// The bytes one row stands for: a power of two, at least 256, so that all rows fit (or, with
    /// many small regions, so that the largest region takes one row).
    public static func bytesPerRow(for snapshot: HeapSnapshot) -> UInt64 {
        var perRow: UInt64 = 256
        let largest = snapshot.regions.map(\.bytes).max() ?? 0
        while perRow < largest, snapshot.regions.prefix(maximumRegions).reduce(0, { $0 + ($1.bytes + perRow - 1) / perRow }) > UInt64(maximumRows) { perRow *= 2 }
        return perRow
    }

    /// The SVG document for `snapshot`, headed by `title` and `subtitle` lines.
    public static func svg(_ snapshot: HeapSnapshot, title: String, subtitle: String) -> String {
        let perRow = bytesPerRow(for: snapshot)
        let omitted = max(0, snapshot.regions.count - maximumRegions)
        var snapshot = snapshot
        if omitted > 0 { snapshot.regions = Array(snapshot.regions.prefix(maximumRegions)) }
        let rowsPerRegion = snapshot.regions.map { Int(($0.bytes + perRow - 1) / perRow) }
        let totalRows = rowsPerRegion.reduce(0, +)
        let top = 96
        let width = labelWidth + rowWidth + 20
        let height = top + totalRows * rowHeight + snapshot.regions.count * 4 + 36
        let pixelBytes = Double(perRow) / Double(rowWidth)
        var out = ""
        func line(_ s: String) { out += s + "\n" }
        line(#"<svg xmlns="http://www.w3.org/2000/svg" width="\#(width)" height="\#(height)" viewBox="0 0 \#(width) \#(height)" font-family="monospace" font-size="11">"#)
        line("<title>\(escape(title))</title>")
        line(#"<rect x="0" y="0" width="\#(width)" height="\#(height)" fill="white"/>"#)
        line(#"<text x="10" y="18" font-size="14">\#(escape(title))</text>"#)
        line(#"<text x="10" y="36">\#(escape(subtitle))</text>"#)
        line(#"<text x="10" y="54">Scale: one row = \#(Format.bytes(perRow)), one pixel = \#(Format.fixed(pixelBytes, decimals: 1)) bytes; addresses grow left to right, then down. Each region starts a new row.</text>"#)
        var legend: [(String, String)] = sizeClasses.map { ($0.colour, "used " + $0.label) }
        legend.append((freeColour, "free"))
        legend.append((overheadColour, "overhead / dead"))
        for (index, (colour, label)) in legend.enumerated() {
            let x = 10 + index * 125
            line(#"<rect x="\#(x)" y="66" width="12" height="12" fill="\#(colour)" stroke="gray" stroke-width="0.5"/><text x="\#(x + 16)" y="76">\#(escape(label))</text>"#)
        }
        var y = top
        var b = 0
        let blocks = snapshot.blocks
        for (regionIndex, region) in snapshot.regions.enumerated() {
            let rows = rowsPerRegion[regionIndex]
            line(#"<g><title>\#(escape(region.name)): \#(hex(region.start)), \#(Format.bytes(region.bytes))</title>"#)
            line(#"<text x="10" y="\#(y + 10)">\#(escape(String(region.name.prefix(26))))</text>"#)
            for row in 0..<rows {
                let used = min(perRow, region.bytes - UInt64(row) * perRow)
                line(#"<rect x="\#(labelWidth)" y="\#(y + row * rowHeight)" width="\#(pixels(used, perRow))" height="\#(rowHeight - 1)" fill="\#(freeColour)"/>"#)
            }
            let regionEnd = region.start + region.bytes
            while b < blocks.count, blocks[b].start < region.start { b += 1 }
            // Runs of blocks of one colour are drawn as one rectangle, cut at row ends.
            var runStart: UInt64 = 0, runEnd: UInt64 = 0, runColour = ""
            func flush() {
                guard !runColour.isEmpty, runColour != freeColour else { return }
                var from = runStart
                while from < runEnd {
                    let offset = from - region.start
                    let row = Int(offset / perRow)
                    let rowEnd = region.start + UInt64(row + 1) * perRow
                    let to = min(runEnd, rowEnd)
                    let x0 = pixelsDouble(offset % perRow, perRow), x1 = pixelsDouble(offset % perRow + (to - from), perRow)
                    line(#"<rect x="\#(Format.fixed(Double(labelWidth) + x0, decimals: 2))" y="\#(y + row * rowHeight)" width="\#(Format.fixed(max(0.5, x1 - x0), decimals: 2))" height="\#(rowHeight - 1)" fill="\#(runColour)" stroke="white" stroke-width="0.3"/>"#)
                    from = to
                }
            }
            while b < blocks.count, blocks[b].start < regionEnd {
                let block = blocks[b]
                let colour = block.kind == .used ? colour(forUsedBlockOf: block.bytes) : block.kind == .free ? freeColour : overheadColour
                // Blocks wide enough to see are drawn one by one (with a white edge); thinner ones merge.
                if colour == runColour, block.start == runEnd, colour == freeColour || pixelsDouble(block.bytes, perRow) < 1.5 {
                    runEnd = block.start + block.bytes
                } else {
                    flush()
                    runStart = block.start
                    runEnd = block.start + block.bytes
                    runColour = colour
                }
                b += 1
            }
            flush()
            line("</g>")
            y += rows * rowHeight + 4
        }
        if omitted > 0 { line(#"<text x="10" y="\#(y + 12)">\#(omitted) more regions not drawn.</text>"#) }
        line("</svg>")
        return out
    }

    private static func pixels(_ bytes: UInt64, _ perRow: UInt64) -> Int { Int(bytes * UInt64(rowWidth) / perRow) }
    private static func pixelsDouble(_ bytes: UInt64, _ perRow: UInt64) -> Double { Double(bytes) * Double(rowWidth) / Double(perRow) }
    private static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
