import VirtualMemory

/// Draws a process's address space as an SVG: one row per region, each a strip of its pages,
/// filled from the bottom in proportion to the pages present (green) and swapped (orange), with
/// pages never backed left grey. Deterministic output for the same input.
public enum AddressSpacePicture {
    /// Strip width in pixels.
    static let stripWidth = 640
    /// Row height in pixels.
    static let rowHeight = 18
    /// Width of the label column in pixels.
    static let labelWidth = 430

    /// The SVG document for `pages`.
    public static func svg(_ pages: AddressSpacePages) -> String {
        let snapshot = pages.snapshot
        let total = pages.total
        let virtualBytes = snapshot.regions.reduce(0) { $0 + $1.sizeBytes }
        let residentBytes = total.present * pages.pageSize
        let width = labelWidth + stripWidth + 20
        let top = 70
        let height = top + pages.regions.count * rowHeight + 20
        var svg = SVGText()
        svg.line(#"<svg xmlns="http://www.w3.org/2000/svg" width="\#(width)" height="\#(height)" viewBox="0 0 \#(width) \#(height)" font-family="monospace" font-size="11">"#)
        svg.line(#"<title>Address space of \#(SVGText.escape(snapshot.command)) (pid \#(snapshot.pid))</title>"#)
        svg.line(#"<rect x="0" y="0" width="\#(width)" height="\#(height)" fill="white"/>"#)
        let percent = virtualBytes == 0 ? 0 : Double(residentBytes) * 100 / Double(virtualBytes)
        svg.line(#"<text x="10" y="18" font-size="14">\#(SVGText.escape(snapshot.command)) (pid \#(snapshot.pid)): \#(ByteFormat.string(virtualBytes)) virtual, \#(ByteFormat.string(residentBytes)) in RAM (\#(ByteFormat.oneDecimal(percent))%), \#(ByteFormat.string(total.swapped * pages.pageSize)) swapped</text>"#)
        svg.line(#"<text x="10" y="36">Each row is one region; its strip runs from low to high addresses. Filled height = share of pages in RAM.</text>"#)
        let legend: [(String, String)] = [(Colors.present, "present (in RAM)"), (Colors.swapped, "swapped"), (Colors.notPresent, "not present (never touched)")]
        for (index, (colour, label)) in legend.enumerated() {
            let x = 10 + index * 220
            svg.line(#"<rect x="\#(x)" y="46" width="12" height="12" fill="\#(colour)"/><text x="\#(x + 16)" y="56">\#(label)</text>"#)
        }
        for (row, regionPages) in pages.regions.enumerated() {
            let region = regionPages.region
            let y = top + row * rowHeight
            let name = region.name.split(separator: "/").last.map(String.init) ?? ""
            let label = "\(hex(region.start.rawValue)) \(region.permissions) \(pad(ByteFormat.string(region.sizeBytes), 10)) \(pad(region.kind.rawValue, 14)) \(name)"
            svg.line(#"<g><title>\#(SVGText.escape(regionTitle(regionPages)))</title>"#)
            svg.line(#"<text x="10" y="\#(y + 12)">\#(SVGText.escape(String(label.prefix(64))))</text>"#)
            drawStrip(regionPages, x: labelWidth, y: y + 2, height: rowHeight - 4, into: &svg)
            svg.line("</g>")
        }
        svg.line("</svg>")
        return svg.text
    }

    private static func drawStrip(_ pages: RegionPages, x: Int, y: Int, height: Int, into svg: inout SVGText) {
        svg.line(#"<rect x="\#(x)" y="\#(y)" width="\#(stripWidth)" height="\#(height)" fill="\#(Colors.notPresent)"/>"#)
        let cells = pages.strip
        guard !cells.isEmpty else { return }
        // Quantise each cell to pixel heights, then merge runs of equal cells into one rectangle.
        func heights(_ cell: PageStripCell) -> (present: Int, swapped: Int) {
            guard cell.total > 0 else { return (0, 0) }
            let present = cell.present == 0 ? 0 : max(1, Int((Double(cell.present) * Double(height) / Double(cell.total)).rounded()))
            let swapped = cell.swapped == 0 ? 0 : max(1, Int((Double(cell.swapped) * Double(height) / Double(cell.total)).rounded()))
            return (min(present, height), min(swapped, height - min(present, height)))
        }
        var index = 0
        while index < cells.count {
            let h = heights(cells[index])
            var end = index + 1
            while end < cells.count, heights(cells[end]) == h { end += 1 }
            let x0 = x + index * stripWidth / cells.count
            let x1 = x + end * stripWidth / cells.count
            if h.present > 0 {
                svg.line(#"<rect x="\#(x0)" y="\#(y + height - h.present)" width="\#(max(1, x1 - x0))" height="\#(h.present)" fill="\#(Colors.present)"/>"#)
            }
            if h.swapped > 0 {
                svg.line(#"<rect x="\#(x0)" y="\#(y + height - h.present - h.swapped)" width="\#(max(1, x1 - x0))" height="\#(h.swapped)" fill="\#(Colors.swapped)"/>"#)
            }
            index = end
        }
    }

    private static func regionTitle(_ pages: RegionPages) -> String {
        let r = pages.region
        let c = pages.census
        return "\(hex(r.start.rawValue))-\(hex(r.end.rawValue)) \(r.permissions) \(r.kind.rawValue) \(r.name)\n"
            + "\(c.total) pages: \(c.present) present, \(c.swapped) swapped, \(c.notPresent) not present; "
            + "RSS \(ByteFormat.string(r.usage.rss)), PSS \(ByteFormat.string(r.usage.pss)); \(pages.pagesPerCell) pages per cell"
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    enum Colors {
        static let present = "#2f9e44"
        static let swapped = "#f76707"
        static let notPresent = "#e9ecef"
        static let cached = "#1c7ed6"
    }
}

/// Accumulates SVG lines.
struct SVGText {
    var text = ""
    mutating func line(_ s: String) { text += s; text += "\n" }

    /// Escapes `&`, `<`, `>` and `"` for SVG text and attributes.
    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }
}
