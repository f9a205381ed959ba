import VirtualMemory

/// Draws the page-cache residency of files as an SVG: one strip per file, blue where its pages sit
/// in the page cache, grey where they do not. Deterministic output for the same input.
public enum PageCachePicture {
    /// Most cells drawn per file (each cell covers a run of pages; filled height = share cached).
    static let cellLimit = 512

    /// The SVG document for `files`.
    public static func svg(_ files: [FileResidency]) -> String {
        let stripWidth = AddressSpacePicture.stripWidth
        let labelWidth = 330
        let rowHeight = 20
        let top = 50
        let width = labelWidth + stripWidth + 20
        let height = top + files.count * rowHeight + 20
        var svg = SVGText()
        svg.line(#"<svg xmlns="http://www.w3.org/2000/svg" width="\#(width)" height="\#(height)" viewBox="0 0 \#(width) \#(height)" font-family="monospace" font-size="11">"#)
        svg.line("<title>Page cache residency</title>")
        svg.line(#"<rect x="0" y="0" width="\#(width)" height="\#(height)" fill="white"/>"#)
        svg.line(#"<text x="10" y="18" font-size="14">Page cache: which pages of each file are in RAM</text>"#)
        svg.line(#"<rect x="10" y="28" width="12" height="12" fill="\#(AddressSpacePicture.Colors.cached)"/><text x="26" y="38">cached</text>"#)
        svg.line(#"<rect x="110" y="28" width="12" height="12" fill="\#(AddressSpacePicture.Colors.notPresent)"/><text x="126" y="38">not cached</text>"#)
        for (row, file) in files.enumerated() {
            let y = top + row * rowHeight
            let name = file.path.split(separator: "/").last.map(String.init) ?? file.path
            let label = "\(String(name.prefix(24))) \(file.residentCount)/\(file.pageCount) pages"
            svg.line(#"<g><title>\#(SVGText.escape("\(file.path): \(ByteFormat.string(file.residentBytes)) of \(ByteFormat.string(file.sizeBytes)) cached"))</title>"#)
            svg.line(#"<text x="10" y="\#(y + 13)">\#(SVGText.escape(label))</text>"#)
            svg.line(#"<rect x="\#(labelWidth)" y="\#(y + 2)" width="\#(stripWidth)" height="\#(rowHeight - 4)" fill="\#(AddressSpacePicture.Colors.notPresent)"/>"#)
            let pages = file.pageCount
            if pages > 0 {
                let perCell = max(1, (pages + cellLimit - 1) / cellLimit)
                let cells = (pages + perCell - 1) / perCell
                let h = rowHeight - 4
                var heights: [Int] = []
                for cell in 0..<cells {
                    let range = (cell * perCell)..<min(pages, (cell + 1) * perCell)
                    let cached = file.residentPages[range].lazy.filter { $0 }.count
                    heights.append(cached == 0 ? 0 : max(1, Int((Double(cached) * Double(h) / Double(range.count)).rounded())))
                }
                var index = 0
                while index < cells {
                    var end = index + 1
                    while end < cells, heights[end] == heights[index] { end += 1 }
                    if heights[index] > 0 {
                        let x0 = labelWidth + index * stripWidth / cells, x1 = labelWidth + end * stripWidth / cells
                        svg.line(#"<rect x="\#(x0)" y="\#(y + 2 + h - heights[index])" width="\#(max(1, x1 - x0))" height="\#(heights[index])" fill="\#(AddressSpacePicture.Colors.cached)"/>"#)
                    }
                    index = end
                }
            }
            svg.line("</g>")
        }
        svg.line("</svg>")
        return svg.text
    }
}
