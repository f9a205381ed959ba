import Analysis

/// Renders a `MemoryReport` as one self-contained HTML page: inline CSS and script, no network,
/// no fonts to fetch. Tables, cards and histograms are plain HTML (readable without script); the
/// timeline and the flame graphs are drawn by the inline script from a JSON block. Every string
/// from the trace is escaped for its context. Deterministic: the same model gives the same bytes.
public struct HTMLReport {
    /// Creates a renderer.
    public init() {}

    /// The page.
    public func render(_ report: MemoryReport) -> String {
        var out = ""
        out.reserveCapacity(256 << 10)
        let s = report.summary
        let h = HTMLEscaping.html
        let command = s.arguments.isEmpty ? s.program : s.arguments.joined(separator: " ")  // argv[0] first
        out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        out += "<title>MemAtlas report: \(h(lastComponent(s.program)))</title>\n"
        // First script: errors anywhere later are written into the DOM, where tests (and users) see them.
        out += "<script>window.onerror=function(m,src,l,c){var d=document.documentElement;"
        out += "d.setAttribute('data-errors',(d.getAttribute('data-errors')||'')+m+' (line '+l+':'+c+'); ');};</script>\n"
        out += "<style>\n" + HTMLReportStyle.css + "</style>\n</head>\n<body>\n"
        out += "<header><h1>MemAtlas memory report</h1>\n"
        out += "<p class=\"command\"><code>\(h(command))</code></p>\n"
        out += "<p class=\"meta\">pid \(s.pid) · \(Format.count(s.events)) allocator events · trace <code>\(h(s.trace))</code></p>\n"
        if let t = s.truncation { out += "<p class=\"warning\">Incomplete trace: \(h(t))</p>\n" }
        if s.programHasOwnMalloc { out += "<p class=\"warning\">\(h(SummaryTextRenderer.ownMallocNote))</p>\n" }
        out += "<nav>" + [("summary", "Summary"), ("timeline", "Timeline"), ("flamegraph", "Flame graphs"), ("callsites", "Call sites"),
                         ("leaks", "Leaks"), ("histograms", "Sizes and lifetimes"), ("heapmap", "Heap map"), ("threads", "Threads"),
                         ("modules", "Modules")].map { "<a href=\"#\($0.0)\">\($0.1)</a>" }.joined(separator: " ") + "</nav>\n"
        out += "</header>\n<main>\n"
        out += cards(s)
        out += timeline(report)
        out += flameGraphs(report)
        out += callSites(report)
        out += leaks(report)
        out += histograms(report)
        out += heapMapSection(report)
        out += threads(report)
        out += modules(report)
        out += "</main>\n"
        out += "<script type=\"application/json\" id=\"report-data\">" + data(report) + "</script>\n"
        out += "<script>\n" + HTMLReportScript.source + "</script>\n"
        out += "</body>\n</html>\n"
        return out
    }

    // MARK: Sections

    private func cards(_ s: ReportSummary) -> String {
        let seconds = { (ns: UInt64) in Format.seconds(Double(ns) / 1e9) }
        let cards: [(id: String, label: String, value: UInt64, shown: String, sub: String)] = [
            ("peak-heap", "Peak heap", s.peakHeapBytes, Format.bytes(s.peakHeapBytes), "at \(seconds(s.peakHeapTimeNs))"),
            ("peak-rss", "Peak RSS", s.peakResidentBytes, Format.bytes(s.peakResidentBytes), "at \(seconds(s.peakResidentTimeNs))"),
            ("allocated", "Total allocated", s.allocatedBytes, Format.bytes(s.allocatedBytes), "\(Format.count(s.allocations)) allocations"),
            ("calls", "Allocator calls", s.calls, Format.count(s.calls), "frees and failures included"),
            ("leaked", "Leaked", s.leakedBytes, Format.bytes(s.leakedBytes), Self.counted(s.leakedBlocks, "block") + " live at exit"),
            ("temporary", "Temporary", s.temporaryAllocations, Format.count(s.temporaryAllocations),
             Format.percent(s.temporaryAllocations, of: s.allocations) + " of allocations"),
            ("duration", "Duration", s.durationNs, seconds(s.durationNs), "start to exit"),
        ]
        var out = "<section id=\"summary\"><h2>Summary</h2>\n<div class=\"cards\">\n"
        for c in cards {
            out += "<div class=\"card\" id=\"card-\(c.id)\" data-value=\"\(c.value)\"><div class=\"label\">\(c.label)</div>"
            out += "<div class=\"value\">\(c.shown)</div><div class=\"sub\">\(c.sub)</div></div>\n"
        }
        out += "</div>\n<p class=\"note\">Heap figures are requested bytes (malloc family and realloc results); "
        out += "temporary: freed before the allocating thread allocated again.</p>\n</section>\n"
        return out
    }

    private func timeline(_ report: MemoryReport) -> String {
        var out = "<section id=\"timeline\"><h2>Live heap and RSS over time</h2>\n"
        out += "<p class=\"note\">Hover for values; drag across the chart to select a time range, double-click or "
        out += "<button type=\"button\" class=\"whole-run\" id=\"timeline-reset\">Whole run</button> to see the whole run again. "
        out += "A selection zooms the timeline and states the range's highest heap and its heap and RSS change. "
        if let slices = report.timeSlices {
            out += "It also filters the call sites' allocations and allocated bytes and the allocated and allocations flame graphs, "
            out += "to the whole time slices it overlaps (\(slices.count) slices of \(Self.sliceWidth(slices.widthNs)) over the run); "
            out += "the other figures (temporary, peak, leaked), the other flame graphs, leaks, histograms and the heap map cover the whole run.</p>\n"
        } else {
            out += "This report has no figures by time: the tables and flame graphs cover the whole run.</p>\n"
        }
        out += "<div id=\"timeline-chart\" data-points=\"\(report.timeline.count)\"></div>\n"
        out += "<p id=\"timeline-info\" class=\"info\">&nbsp;</p>\n</section>\n"
        return out
    }

    private func flameGraphs(_ report: MemoryReport) -> String {
        var out = "<section id=\"flamegraph\"><h2>Memory flame graphs</h2>\n<div class=\"tabs\" id=\"fg-tabs\">"
        for g in report.flameGraphs {
            let total = g.nodes.first?.weight ?? 0
            out += "<button type=\"button\" data-kind=\"\(g.kind.rawValue)\" data-total=\"\(total)\">\(g.kind.rawValue)</button>"
        }
        out += "</div>\n<p id=\"fg-caption\" class=\"info\">&nbsp;</p>\n"
        out += "<p class=\"note\">Width: the selected figure summed over each frame's callees; click a frame to zoom in, a dimmed caller to zoom out; the root is at the top. "
        out += "Frames narrower than 0.05% of the total are merged into "
        out += "<i>(N smaller frames)</i>. "
        if report.timeSlices != nil {
            out += "A time range selected on the timeline filters the allocated and allocations graphs "
            out += "(<button type=\"button\" class=\"whole-run\">Whole run</button>); the peak, leaked and temporary graphs cover the whole run. "
        }
        out += "<input type=\"search\" id=\"fg-search\" placeholder=\"Search functions\"></p>\n"
        out += "<div id=\"fg\"></div>\n<p id=\"fg-details\" class=\"info\">&nbsp;</p>\n</section>\n"
        return out
    }

    private func callSites(_ report: MemoryReport) -> String {
        let h = HTMLEscaping.html
        var out = "<section id=\"callsites\"><h2>Top call sites</h2>\n"
        out += "<p class=\"note\">\(Format.count(UInt64(report.callSites.count))) of \(Format.count(UInt64(report.callSiteCount))) call sites "
        out += "(the first frame outside the C, C++ and Swift runtimes): the top \(ReportLimits().callSites) by each figure. "
        out += "Click a heading to sort, a site to see its heaviest stack.</p>\n"
        if report.timeSlices != nil {
            out += "<p class=\"info\"><span id=\"callsites-range\">Whole run.</span> "
            out += "<button type=\"button\" class=\"whole-run\" hidden>Whole run</button></p>\n"
        }
        out += "<table class=\"sortable\" id=\"callsites-table\"><thead><tr><th data-type=\"text\">Call site</th>"
        for title in ["Allocations", "Allocated", "Temporary", "Peak", "Peak blocks", "Leaked", "Leaked blocks"] {
            out += "<th data-type=\"num\">\(title)</th>"
        }
        out += "</tr></thead>\n<tbody>\n"
        for (i, site) in report.callSites.enumerated() {
            let f = site.figures
            out += "<tr data-site=\"\(i)\"><td data-v=\"\(h(site.function))\"><details><summary>\(h(site.function)) <span class=\"loc\">\(h(site.location))</span></summary>"
            out += "<ol class=\"stack\">" + site.stack.map { "<li>\(h($0))</li>" }.joined() + "</ol></details></td>"
            for (v, bytes) in [(f.allocations, false), (f.allocatedBytes, true), (f.temporary, false), (f.peakBytes, true),
                               (f.peakBlocks, false), (f.leakedBytes, true), (f.leakedBlocks, false)] {
                out += "<td class=\"n\" data-v=\"\(v)\">\(bytes ? Format.bytes(v) : Format.count(v))</td>"
            }
            out += "</tr>\n"
        }
        if report.callSites.isEmpty { out += "<tr><td colspan=\"8\">No allocations.</td></tr>\n" }
        out += "</tbody></table>\n</section>\n"
        return out
    }

    private func leaks(_ report: MemoryReport) -> String {
        let h = HTMLEscaping.html
        let s = report.summary
        var out = "<section id=\"leaks\"><h2>Leaks</h2>\n"
        out += "<p class=\"note\" id=\"leaks-total\" data-bytes=\"\(s.leakedBytes)\" data-blocks=\"\(s.leakedBlocks)\">"
        out += "\(Format.bytes(s.leakedBytes)) in " + Self.counted(s.leakedBlocks, "block") + " still live at exit, from "
        out += Self.counted(UInt64(report.leakCount), "stack")
        if report.leakCount > report.leaks.count { out += " (the \(report.leaks.count) largest shown)" }
        out += ". Whether a block was still reachable is not known here.</p>\n"
        if report.leaks.isEmpty { return out + "<p>No leaks: every block was freed.</p>\n</section>\n" }
        out += "<table class=\"sortable\" id=\"leaks-table\"><thead><tr><th data-type=\"num\">Bytes</th><th data-type=\"num\">Blocks</th>"
        out += "<th data-type=\"text\">Stack (allocating frame first)</th></tr></thead>\n<tbody>\n"
        for (i, leak) in report.leaks.enumerated() {
            out += "<tr><td class=\"n\" data-v=\"\(leak.bytes)\">\(Format.bytes(leak.bytes))</td><td class=\"n\" data-v=\"\(leak.blocks)\">\(Format.count(leak.blocks))</td>"
            out += "<td data-v=\"\(h(leak.stack.first ?? ""))\"><details\(i == 0 ? " open" : "")><summary>\(h(leak.stack.first ?? ""))</summary>"
            out += "<ol class=\"stack\">" + leak.stack.map { "<li>\(h($0))</li>" }.joined() + "</ol></details></td></tr>\n"
        }
        out += "</tbody></table>\n</section>\n"
        return out
    }

    private func histograms(_ report: MemoryReport) -> String {
        var out = "<section id=\"histograms\"><h2>Allocation sizes and lifetimes</h2>\n<div class=\"histograms\">\n"
        out += histogram(report.sizeHistogram, id: "sizes", title: "Requested size", showBytes: true) { Self.sizeLabel($0, $1) }
        out += histogram(report.lifetimeHistogram, id: "lifetime-ns", title: "Lifetime (time)", showBytes: false) { Self.timeLabel($0, $1) }
        out += histogram(report.lifetimeAllocationsHistogram, id: "lifetime-allocations", title: "Lifetime (allocations in between)",
                         showBytes: false) { Self.countLabel($0, $1) }
        out += "</div>\n<p class=\"note\">Lifetimes of freed blocks; " + Self.counted(report.neverFreed, "block") + " never freed " + (report.neverFreed == 1 ? "is" : "are") + " not counted. "
        out += "Time has the resolution of the sample ticks (0: freed before the next tick); allocations in between "
        out += "(by any thread) have full resolution.</p>\n</section>\n"
        return out
    }

    private func histogram(_ hist: Histogram, id: String, title: String, showBytes: Bool, label: (UInt64, UInt64) -> String) -> String {
        var out = "<div class=\"histogram\" id=\"hist-\(id)\" data-total=\"\(hist.total)\"><h3>\(title)</h3>\n"
        let used = hist.buckets.indices.filter { hist.buckets[$0].count > 0 }
        guard let first = used.first, let last = used.last else { return out + "<p>Nothing to count.</p></div>\n" }
        let most = hist.buckets.map(\.count).max() ?? 1
        out += "<table class=\"bars\">"
        for i in first...last {
            let b = hist.buckets[i]
            let lower = i == 0 ? 0 : hist.buckets[i - 1].upTo &+ 1
            let width = Format.fixed(Double(b.count) * 100 / Double(most), decimals: 1)
            out += "<tr data-count=\"\(b.count)\"><th>\(HTMLEscaping.html(label(lower, b.upTo)))</th>"
            out += "<td class=\"bar\"><span style=\"width:\(width)%\"></span></td><td>\(Format.count(b.count))</td>"
            out += "<td class=\"share\">\(Format.percent(b.count, of: hist.total))</td>"
            if showBytes { out += "<td>\(Format.bytes(b.bytes))</td>" }
            out += "</tr>"
        }
        out += "</table></div>\n"
        return out
    }

    static func sizeLabel(_ lower: UInt64, _ upper: UInt64) -> String {
        if upper == .max { return "> " + Format.bytes(lower - 1) }
        if lower >= upper { return Format.bytes(upper) }
        return Format.bytes(lower) + " – " + Format.bytes(upper)
    }

    static func countLabel(_ lower: UInt64, _ upper: UInt64) -> String {
        if upper == .max { return "> " + Format.count(lower - 1) }
        if lower >= upper { return Format.count(upper) }
        return Format.count(lower) + " – " + Format.count(upper)
    }

    static func timeLabel(_ lower: UInt64, _ upper: UInt64) -> String {
        if upper == 0 { return "within a tick" }
        if upper == .max { return "> " + duration(lower - 1) }
        return "≤ " + duration(upper)
    }

    /// A slice width in ns as `16 ms` or `1,024 ms` (widths are whole milliseconds), else in seconds.
    static func sliceWidth(_ ns: UInt64) -> String {
        ns % 1_000_000 == 0 && ns < 100_000_000_000 ? Format.count(ns / 1_000_000) + " ms" : Format.seconds(Double(ns) / 1e9)
    }

    /// A duration in ns as `1 µs`, `10 ms`, `2 s` (exact for powers of ten).
    static func duration(_ ns: UInt64) -> String {
        if ns >= 1_000_000_000 { return Format.count(ns / 1_000_000_000) + " s" }
        if ns >= 1_000_000 { return "\(ns / 1_000_000) ms" }
        if ns >= 1_000 { return "\(ns / 1_000) µs" }
        return "\(ns) ns"
    }

    private func threads(_ report: MemoryReport) -> String {
        let h = HTMLEscaping.html
        var out = "<section id=\"threads\"><h2>Threads</h2>\n"
        out += "<table class=\"sortable\" id=\"threads-table\"><thead><tr><th data-type=\"num\">Thread id</th><th data-type=\"text\">Name</th>"
        out += "<th data-type=\"num\">Allocator calls</th></tr></thead>\n<tbody>\n"
        for t in report.threads {
            out += "<tr><td class=\"n\" data-v=\"\(t.id)\">\(t.id)</td><td data-v=\"\(h(t.name))\">\(h(t.name))</td>"
            out += "<td class=\"n\" data-v=\"\(t.calls)\">\(Format.count(t.calls))</td></tr>\n"
        }
        if report.threads.isEmpty { out += "<tr><td colspan=\"3\">No allocator calls.</td></tr>\n" }
        out += "</tbody></table>\n</section>\n"
        return out
    }

    private func modules(_ report: MemoryReport) -> String {
        let h = HTMLEscaping.html
        var out = "<section id=\"modules\"><h2>Modules</h2>\n"
        out += "<table class=\"sortable\" id=\"modules-table\"><thead><tr><th data-type=\"text\">Path</th><th data-type=\"text\">Build id</th>"
        out += "<th data-type=\"text\">Load bias</th></tr></thead>\n<tbody>\n"
        for m in report.modules {
            let bias = "0x" + String(m.loadBias, radix: 16)
            out += "<tr><td data-v=\"\(h(m.path))\"><code>\(h(m.path))</code></td><td data-v=\"\(m.buildID)\"><code>\(m.buildID.isEmpty ? "—" : m.buildID)</code></td>"
            out += "<td data-v=\"\(bias)\"><code>\(bias)</code></td></tr>\n"
        }
        if report.modules.isEmpty { out += "<tr><td colspan=\"3\">No module map in the trace.</td></tr>\n" }
        out += "</tbody></table>\n</section>\n"
        return out
    }

    // MARK: Data for the script

    /// The JSON the script reads: timeline arrays, peak markers and the flame graphs (one shared
    /// name table, nodes as flat integer arrays of `parent, name, location, weight, bytes, count`).
    /// With time slices: `slices` (width and count), `sites` (per call site, in table order, flat
    /// `slice, allocations, bytes` triples) and per sliced flame graph `sliced` (`nodes` as flat
    /// `parent, source` pairs; `values` per node: a count, then `slice, value` pairs). Slice
    /// indices are delta-coded (each the difference from the previous one of its list).
    func data(_ report: MemoryReport) -> String {
        let j = HTMLEscaping.jsonString
        let s = report.summary
        var out = "{\"durationNs\":\(s.durationNs),\"peakHeap\":{\"t\":\(s.peakHeapTimeNs),\"v\":\(s.peakHeapBytes)},"
        out += "\"peakRSS\":{\"t\":\(s.peakResidentTimeNs),\"v\":\(s.peakResidentBytes)},\n"
        out += "\"timeline\":{\"t\":[" + report.timeline.map { String($0.timeNs) }.joined(separator: ",") + "],"
        out += "\"heap\":[" + report.timeline.map { String($0.heapBytes) }.joined(separator: ",") + "],"
        out += "\"rss\":[" + report.timeline.map { String($0.residentBytes) }.joined(separator: ",") + "]},\n"
        if let slices = report.timeSlices {
            out += "\"slices\":{\"widthNs\":\(slices.widthNs),\"count\":\(slices.count)},\n\"sites\":["
            out += report.callSites.map { site in
                var previous = 0
                var numbers: [String] = []
                numbers.reserveCapacity(site.slices.count * 3)
                for f in site.slices {
                    numbers.append(String(f.slice - previous)); numbers.append(String(f.allocations)); numbers.append(String(f.bytes))
                    previous = f.slice
                }
                return "[" + numbers.joined(separator: ",") + "]"
            }.joined(separator: ",\n")
            out += "],\n"
        }
        out += "\"names\":[" + report.frameNames.map(j).joined(separator: ",") + "],\n"
        out += "\"locations\":[" + report.frameLocations.map(j).joined(separator: ",") + "],\n"
        out += "\"graphs\":{"
        out += report.flameGraphs.map { g in
            var nodes: [String] = []
            nodes.reserveCapacity(g.nodes.count * 6)
            for n in g.nodes {
                nodes.append(String(n.parent)); nodes.append(String(n.name)); nodes.append(String(n.location))
                nodes.append(String(n.weight)); nodes.append(String(n.bytes)); nodes.append(String(n.count))
            }
            var graph = "\n\(j(g.kind.rawValue)):{\"caption\":\(j(g.kind.caption)),\"bytes\":\(g.kind.isBytes),"
            graph += "\"full\":\(g.fullNodeCount),\"nodes\":[" + nodes.joined(separator: ",") + "]"
            if let s = g.sliced { graph += ",\n\"sliced\":" + sliced(s) }
            return graph + "}"
        }.joined(separator: ",")
        out += "}}"
        return out
    }

    /// A sliced flame graph's JSON: `merged`, `nodes` (`parent, source` pairs) and `values`.
    private func sliced(_ g: ReportSlicedFlameGraph) -> String {
        var nodes: [String] = []
        nodes.reserveCapacity(g.nodes.count * 2)
        var values: [String] = []
        for n in g.nodes {
            nodes.append(String(n.parent)); nodes.append(String(n.source))
            values.append(String(n.values.count))
            var previous = 0
            for v in n.values {
                values.append(String(v.slice - previous)); values.append(String(v.value))
                previous = v.slice
            }
        }
        return "{\"merged\":\(g.mergedNodes),\"nodes\":[" + nodes.joined(separator: ",") + "],\n\"values\":[" + values.joined(separator: ",") + "]}"
    }

    /// `1 block`, `2 blocks`, `1,234 blocks`.
    static func counted(_ n: UInt64, _ noun: String) -> String {
        Format.count(n) + " " + noun + (n == 1 ? "" : "s")
    }

    private func lastComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
