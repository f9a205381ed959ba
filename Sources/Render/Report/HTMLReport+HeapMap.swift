import Analysis

extension HTMLReport {
    /// The heap map at the peak, drawn by the heap-map renderer (`HeapMapPicture`), with its
    /// fragmentation figures; a labelled placeholder when the report has no heap map.
    func heapMapSection(_ report: MemoryReport) -> String {
        var out = "<section id=\"heapmap\"><h2>Heap map at the peak</h2>\n"
        guard let section = report.heapMap else {
            out += "<div class=\"placeholder\" id=\"heapmap-placeholder\">The heap map is not available for this report "
            out += "(no live heap at the peak, or the report was made without it).</div>\n</section>\n"
            return out
        }
        let map = section.map
        let o = map.overall
        let seconds = Format.seconds(Double(map.timeNs) / 1e9)
        out += "<p class=\"note\" id=\"heapmap-figures\" data-live=\"\(o.liveBytes)\" data-blocks=\"\(o.blocks)\">"
        out += "At \(seconds): \(Format.count(o.blocks)) live blocks, \(Format.bytes(o.liveBytes)) requested, "
        out += "\(Format.bytes(o.overheadBytes)) chunk overhead, \(Format.bytes(o.freeBytes)) free in \(Format.count(o.holes)) holes "
        out += "(largest \(Format.bytes(o.largestHoleBytes))), external fragmentation "
        out += Format.fixed(o.externalFragmentation * 100, decimals: 1) + "%"
        if let share = o.freeResidentShare { out += ", " + Format.fixed(share * 100, decimals: 1) + "% of free bytes resident" }
        out += ". Chunk positions follow glibc malloc's layout, inferred from the addresses.</p>\n"
        var svg = HeapMapPicture.svg(map, colouring: .bySize, title: "Heap at the peak", subtitle: "\(seconds), \(map.regions.count) regions")
        if svg.hasPrefix("<?xml"), let end = svg.firstIndex(of: "\n") { svg = String(svg[svg.index(after: end)...]) }
        out += "<div id=\"heapmap-picture\">" + svg + "</div>\n</section>\n"
        return out
    }
}
