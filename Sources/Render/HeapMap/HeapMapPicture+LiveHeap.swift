import Analysis
import TraceModel

/// How live blocks of a real heap map are coloured.
public struct HeapMapColouring: Sendable {
    /// Legend entries, in colour order: colour and text.
    public let legend: [(colour: String, label: String)]
    let index: @Sendable (HeapMapBlock) -> Int

    /// Colour by the block's requested size, in the size classes of the allocator-lab maps.
    public static let bySize = HeapMapColouring(
        legend: HeapMapPicture.sizeClasses.map { ($0.colour, "used " + $0.label) },
        index: { block in HeapMapPicture.sizeClasses.firstIndex { block.payload <= $0.upTo }! })

    /// The palette for call sites; blocks of sites past its end share the last colour ("other").
    public static let callSitePalette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#7f7f7f",
    ]

    /// Colour by call site: `siteOfStack` gives each stack's site index (sites in legend order,
    /// heaviest first), `siteNames` the sites' names. Unlisted stacks and sites past the palette are "other".
    public static func byCallSite(siteOfStack: [StackID: Int], siteNames: [String]) -> HeapMapColouring {
        let shown = min(siteNames.count, callSitePalette.count - 1)
        var legend = (0..<shown).map { (callSitePalette[$0], siteNames[$0]) }
        legend.append((callSitePalette[callSitePalette.count - 1], "other call sites"))
        let other = shown
        return HeapMapColouring(legend: legend, index: { block in min(siteOfStack[block.stack] ?? other, other) })
    }
}

extension HeapMapPicture {
    /// The most rows an mmap'd block (one block, nothing to see inside) takes; a larger one is
    /// drawn at its own, stated scale.
    static let maximumRowsPerMmappedBlock: UInt64 = 2

    /// The bytes one row of a real heap map stands for: a power of two, at least 256, so that all
    /// regions (each starting a new row; mmap'd blocks at most two rows) fit in `maximumRows` rows.
    public static func bytesPerRow(for map: HeapMap) -> UInt64 {
        var perRow: UInt64 = 256
        let regions = map.regions.prefix(maximumRegions)
        let largest = regions.filter { $0.kind != .mmappedBlock }.map(\.bytes).max() ?? 0
        func rows(_ perRow: UInt64) -> UInt64 {
            regions.reduce(0) { total, region in
                let rows = (region.bytes + perRow - 1) / perRow
                return total + (region.kind == .mmappedBlock ? min(rows, maximumRowsPerMmappedBlock) : rows)
            }
        }
        while perRow < largest, rows(perRow) > UInt64(maximumRows) { perRow *= 2 }
        return perRow
    }

    /// The bytes per row of one region: the map's, or for a large mmap'd block its own.
    static func bytesPerRow(of region: HeapMapRegion, mapPerRow: UInt64) -> UInt64 {
        var perRow = mapPerRow
        if region.kind == .mmappedBlock {
            while (region.bytes + perRow - 1) / perRow > maximumRowsPerMmappedBlock { perRow *= 2 }
        }
        return perRow
    }

    /// The SVG heap map of a real heap at one moment: each region (brk heap, arena heap, mmap'd
    /// block) starts a new row; gaps between regions are cut and marked with their size; live
    /// chunks are drawn at their real address and size. Blocks narrower than a pixel are merged:
    /// a pixel takes the colour holding most of its bytes, its opacity the share of it in use.
    /// Output size is bounded by the pixels, not the blocks. Deterministic for the same input.
    /// With `breakdowns`, a stacked bar chart of the RSS breakdown over the run is drawn under the map.
    public static func svg(
        _ map: HeapMap, colouring: HeapMapColouring, title: String, subtitle: String, bytesPerRow: UInt64? = nil,
        breakdowns: [RSSBreakdown] = []
    ) -> String {
        let frame = liveHeapFrame(map, colouring: colouring, top: 96 + 16 * ((colouring.legend.count + 2 + 5) / 6), bytesPerRow: bytesPerRow)
        let chart = breakdowns.isEmpty ? (body: "", height: 0) : breakdownChart(breakdowns, top: frame.height, width: frame.width)
        var out = header(width: frame.width, height: frame.height + chart.height, title: title, subtitle: subtitle, perRow: frame.perRow, colouring: colouring)
        out += frame.body
        out += chart.body
        out += "</svg>\n"
        return out
    }

    /// The colours and names of the RSS breakdown's terms, bottom to top.
    static let breakdownTerms: [(colour: String, label: String)] = [
        ("#1f77b4", "live data"), ("#8c8c8c", "allocator overhead"), ("#f28e2b", "freed heap, still resident"),
        ("#59a14f", "program's own mmaps"), ("#d9d9d9", "other (stacks, code, files)"),
    ]

    /// A stacked bar per measured breakdown: how RSS splits over time.
    static func breakdownChart(_ breakdowns: [RSSBreakdown], top: Int, width: Int) -> (body: String, height: Int) {
        let chartHeight = 160
        var out = ""
        func line(_ s: String) { out += s + "\n" }
        let maxRSS = max(1, breakdowns.map(\.residentBytes).max() ?? 1)
        let how = breakdowns.allSatisfy(\.isMeasured) ? "split at each page-residency snapshot"
            : "no residency snapshots: freed-but-resident heap not measured, counted in other"
        line(#"<text x="10" y="\#(top + 14)" font-size="12">RSS over the run, \#(how) (bar height = RSS; tallest \#(Format.bytes(maxRSS)))</text>"#)
        for (i, term) in breakdownTerms.enumerated() {
            let x = 10 + i * 240
            line(#"<rect x="\#(x)" y="\#(top + 22)" width="12" height="12" fill="\#(term.colour)"/><text x="\#(x + 16)" y="\#(top + 32)">\#(escapeText(term.label))</text>"#)
        }
        let base = top + 44 + chartHeight
        let barWidth = max(1.0, min(24.0, Double(rowWidth) / Double(breakdowns.count)))
        for (i, b) in breakdowns.enumerated() {
            let values: [UInt64] = [b.liveResidentBytes ?? b.liveBytes, b.overheadResidentBytes ?? b.overheadBytes, b.freeResidentBytes ?? 0,
                                    b.mappedResidentBytes ?? 0, UInt64(max(0, b.otherBytes))]
            var y = Double(base)
            let x = Double(labelWidth) + Double(i) * barWidth
            var tip = "\(Format.seconds(Double(b.timeNs) / 1e9)): RSS \(Format.bytes(b.residentBytes))"
            for (k, v) in values.enumerated() { tip += ", \(breakdownTerms[k].label) \(Format.bytes(v))" }
            line("<g><title>\(escapeText(tip))</title>")
            for (k, v) in values.enumerated() where v > 0 {
                let h = Double(v) / Double(maxRSS) * Double(chartHeight)
                y -= h
                line(#"<rect x="\#(Format.fixed(x, decimals: 2))" y="\#(Format.fixed(y, decimals: 2))" width="\#(Format.fixed(max(0.5, barWidth - 1), decimals: 2))" height="\#(Format.fixed(h, decimals: 2))" fill="\#(breakdownTerms[k].colour)"/>"#)
            }
            line("</g>")
        }
        if let first = breakdowns.first, let last = breakdowns.last {
            line(#"<text x="\#(labelWidth)" y="\#(base + 14)">\#(Format.seconds(Double(first.timeNs) / 1e9))</text><text x="\#(labelWidth + Int(barWidth * Double(breakdowns.count)))" y="\#(base + 14)" text-anchor="end">\#(Format.seconds(Double(last.timeNs) / 1e9))</text>"#)
        }
        return (out, chartHeight + 44 + 24)
    }

    /// One SVG that plays `maps` in turn (one frame a second, looping), for `--animate`; all frames
    /// share one scale so holes can be watched opening and closing.
    public static func animatedSVG(_ maps: [(map: HeapMap, caption: String)], colouring: HeapMapColouring, title: String) -> String {
        let perRow = maps.map { bytesPerRow(for: $0.map) }.max() ?? 256
        let top = 96 + 16 * ((colouring.legend.count + 2 + 5) / 6)
        let frames = maps.map { liveHeapFrame($0.map, colouring: colouring, top: top, bytesPerRow: perRow) }
        let width = frames.first?.width ?? labelWidth + rowWidth + 20
        let height = frames.map(\.height).max() ?? top + 40
        var out = header(width: width, height: height, title: title, subtitle: "\(maps.count) frames, one a second, looping", perRow: perRow, colouring: colouring)
        let n = max(maps.count, 1)
        for (i, frame) in frames.enumerated() {
            let from = Format.fixed(Double(i) / Double(n), decimals: 4), to = Format.fixed(Double(i + 1) / Double(n), decimals: 4)
            out += #"<g visibility="hidden"><animate attributeName="visibility" values="hidden;visible;hidden" keyTimes="0;\#(from);\#(to)" dur="\#(n)s" calcMode="discrete" repeatCount="indefinite"/>"# + "\n"
            out += #"<rect x="0" y="40" width="\#(width)" height="16" fill="white"/><text x="10" y="52">\#(escapeText(maps[i].caption))</text>"# + "\n"
            out += frame.body
            out += "</g>\n"
        }
        out += "</svg>\n"
        return out
    }

    private static func header(width: Int, height: Int, title: String, subtitle: String, perRow: UInt64, colouring: HeapMapColouring) -> String {
        var out = ""
        func line(_ s: String) { out += s + "\n" }
        let pixelBytes = Double(perRow) / Double(rowWidth)
        line(#"<svg xmlns="http://www.w3.org/2000/svg" width="\#(width)" height="\#(height)" viewBox="0 0 \#(width) \#(height)" font-family="monospace" font-size="11">"#)
        line("<title>\(escapeText(title))</title>")
        line(#"<rect x="0" y="0" width="\#(width)" height="\#(height)" fill="white"/>"#)
        line(#"<text x="10" y="18" font-size="14">\#(escapeText(title))</text>"#)
        line(#"<text x="10" y="36">\#(escapeText(subtitle))</text>"#)
        line(#"<text x="10" y="70">Scale: one row = \#(Format.bytes(perRow)), one pixel = \#(Format.fixed(pixelBytes, decimals: pixelBytes < 1 ? 2 : 1)) bytes. Blocks at their real address and chunk size (header included); pale: free. Paler colour: pixel partly in use.</text>"#)
        var legend = colouring.legend
        legend.append((freeColour, "free (hole)"))
        for (index, entry) in legend.enumerated() {
            let x = 10 + (index % 6) * 225, y = 82 + (index / 6) * 16
            line(#"<rect x="\#(x)" y="\#(y)" width="12" height="12" fill="\#(entry.colour)" stroke="gray" stroke-width="0.5"/><text x="\#(x + 16)" y="\#(y + 10)">\#(escapeText(String(entry.label.prefix(30))))</text>"#)
        }
        return out
    }

    private static func liveHeapFrame(_ map: HeapMap, colouring: HeapMapColouring, top: Int, bytesPerRow fixed: UInt64?) -> (body: String, width: Int, height: Int, perRow: UInt64) {
        let mapPerRow = fixed ?? bytesPerRow(for: map)
        let regions = Array(map.regions.prefix(maximumRegions))
        let omitted = map.regions.count - regions.count
        let width = labelWidth + rowWidth + 20
        let colours = colouring.legend.map(\.colour)
        var out = ""
        out.reserveCapacity(1 << 16)
        func line(_ s: String) { out += s + "\n" }
        var y = top
        // Per-row accumulators: bytes per pixel and colour.
        var used = [Double](repeating: 0, count: rowWidth)
        var byColour = [Double](repeating: 0, count: rowWidth * colours.count)
        for region in regions {
            if region.gapBefore > 0 {
                line(#"<line x1="\#(labelWidth)" y1="\#(y + 4)" x2="\#(labelWidth + rowWidth)" y2="\#(y + 4)" stroke="gray" stroke-dasharray="6,4"/><text x="\#(labelWidth + 4)" y="\#(y + 14)" fill="dimgray">≈ cut: \#(Format.bytes(region.gapBefore)) of address space not holding heap blocks</text>"#)
                y += 20
            }
            let perRow = bytesPerRow(of: region, mapPerRow: mapPerRow)
            let pixelBytes = Double(perRow) / Double(rowWidth)
            let rows = Int((region.bytes + perRow - 1) / perRow)
            let f = region.figures
            line(#"<g><title>\#(escapeText(region.name)): \#(Format.bytes(region.bytes)), \#(Format.count(f.blocks)) live blocks, \#(Format.bytes(f.liveBytes)) live, \#(Format.count(f.holes)) holes, \#(Format.bytes(f.freeBytes)) free</title>"#)
            line(#"<text x="10" y="\#(y + 10)">\#(escapeText(region.kind.rawValue))</text><text x="10" y="\#(y + 22)" fill="dimgray">0x\#(String(region.start, radix: 16))</text><text x="10" y="\#(y + 34)" fill="dimgray">\#(Format.bytes(region.bytes))</text>"#)
            if perRow != mapPerRow {
                line(#"<text x="10" y="\#(y + 46)" fill="firebrick">own scale: 1 px = \#(Format.bytes(perRow / UInt64(rowWidth)))</text>"#)
            }
            for row in 0..<rows {
                let bytes = min(perRow, region.bytes - UInt64(row) * perRow)
                line(#"<rect x="\#(labelWidth)" y="\#(y + row * rowHeight)" width="\#(Format.fixed(Double(bytes) / pixelBytes, decimals: 2))" height="\#(rowHeight - 1)" fill="\#(freeColour)"/>"#)
            }
            var currentRow = -1
            var touchedLow = rowWidth, touchedHigh = -1
            var paths: [Int: String] = [:]
            func flushRow() {
                guard currentRow >= 0, touchedHigh >= 0 else { return }
                var runStart = -1, runKey = -1
                func emit(_ end: Int) {
                    guard runStart >= 0, runKey >= 0 else { return }
                    // One path per colour and opacity: a run costs ~20 bytes instead of a <rect>'s ~90.
                    paths[runKey, default: ""] += "M\(labelWidth + runStart) \(y + currentRow * rowHeight)h\(end - runStart)v\(rowHeight - 1)h-\(end - runStart)z"
                }
                for p in touchedLow...touchedHigh {
                    var key = -1
                    if used[p] > 0 {
                        var best = 0
                        for c in 1..<colours.count where byColour[p * colours.count + c] > byColour[p * colours.count + best] { best = c }
                        let level = min(3, max(0, Int((used[p] / pixelBytes * 4).rounded(.up)) - 1))
                        key = best * 4 + level
                    }
                    if key != runKey {
                        emit(p)
                        runStart = p
                        runKey = key
                    }
                    used[p] = 0
                    for c in 0..<colours.count { byColour[p * colours.count + c] = 0 }
                }
                emit(touchedHigh + 1)
                touchedLow = rowWidth
                touchedHigh = -1
            }
            for b in map.blocks[region.blockRange] {
                let colour = colouring.index(b)
                var from = b.start - region.start
                let end = from + b.bytes
                while from < end {
                    let row = Int(from / perRow)
                    if row != currentRow {
                        flushRow()
                        currentRow = row
                    }
                    let rowEnd = UInt64(row + 1) * perRow
                    let to = min(end, rowEnd)
                    let x0 = Double(from - UInt64(row) * perRow) / pixelBytes, x1 = Double(to - UInt64(row) * perRow) / pixelBytes
                    let p0 = min(rowWidth - 1, Int(x0)), p1 = min(rowWidth - 1, max(p0, Int((x1).rounded(.up)) - 1))
                    for p in p0...p1 {
                        let overlap = (min(x1, Double(p + 1)) - max(x0, Double(p))) * pixelBytes
                        guard overlap > 0 else { continue }
                        used[p] += overlap
                        byColour[p * colours.count + colour] += overlap
                    }
                    touchedLow = min(touchedLow, p0)
                    touchedHigh = max(touchedHigh, p1)
                    from = to
                }
            }
            flushRow()
            for key in paths.keys.sorted() {
                let opacity = Double(key % 4 + 1) / 4
                line(#"<path d="\#(paths[key]!)" fill="\#(colours[key / 4])"\#(opacity < 1 ? " fill-opacity=\"\(Format.fixed(opacity, decimals: 2))\"" : "")/>"#)
            }
            line("</g>")
            y += max(rows * rowHeight, perRow != mapPerRow ? 48 : 36) + 6
        }
        if omitted > 0 {
            line(#"<text x="10" y="\#(y + 12)">\#(omitted) more regions not drawn.</text>"#)
            y += 16
        }
        return (out, width, y + 20, mapPerRow)
    }

    static func escapeText(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
