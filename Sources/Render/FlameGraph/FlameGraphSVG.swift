import Analysis

/// Draws a `FlameGraph` as one self-contained interactive SVG: click a frame to zoom, `Search`
/// (or Ctrl-F) highlights matching frames and states their share, hovering shows the function,
/// file:line, bytes, count and percent. Colours come from a hash of the function's name, so a
/// function has the same colour in every graph; differential graphs are red where a frame grew and
/// blue where it shrank. Byte-stable: the same graph always gives the same bytes.
///
/// Frames narrower than a minimum width are merged into one `(N smaller frames)` frame per parent
/// (and dropped when even that is too narrow); the minimum doubles until at most `maximumFrames`
/// frames are drawn, so that a trace with millions of stacks still gives a small, fast file.
public struct FlameGraphSVG {
    /// The picture's width, in pixels.
    public var width: Double = 1200
    /// One frame's height, in pixels.
    public var frameHeight: Double = 16
    /// Frames narrower than this (in pixels) are merged.
    public var minimumFrameWidth: Double = 0.5
    /// The most frames drawn.
    public var maximumFrames: Int = 12_000
    /// A line under the title (nil: the total).
    public var subtitle: String?

    static let fontSize = 12.0
    /// Width of a character of the 12 px monospace font, in pixels (used to cut labels).
    static let characterWidth = 7.2
    static let padding = 10.0
    static let topMargin = 56.0
    static let bottomMargin = 30.0

    /// Creates a renderer with the default geometry.
    public init() {}

    /// A frame that will be drawn.
    struct Drawn {
        var node: Int  // -1 for a merged frame
        var depth: Int
        var x: Double
        var width: Double
        var weight: UInt64
        var mergedCount: Int = 0
        var mergedBefore: UInt64 = 0
        var mergedAfter: UInt64 = 0
        var mergedBytes: UInt64 = 0
        var mergedCount2: UInt64 = 0
    }

    /// The SVG document.
    public func render(_ graph: FlameGraph) -> String {
        let plotWidth = width - 2 * Self.padding
        var minimum = minimumFrameWidth
        while layout(graph, plotWidth: plotWidth, minimum: minimum, collect: false).count > maximumFrames { minimum *= 2 }
        let frames = layout(graph, plotWidth: plotWidth, minimum: minimum, collect: true).frames
        let maxDepth = frames.map(\.depth).max() ?? 0
        let height = Self.topMargin + Double(maxDepth + 1) * frameHeight + Self.bottomMargin
        let f = { (v: Double) in Format.fixed(v, decimals: 1) }
        let total = graph.root.weight

        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
        out += "<svg version=\"1.1\" id=\"flamegraph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" "
        out += "viewBox=\"0 0 \(f(width)) \(f(height))\" data-total=\"\(total)\" data-fh=\"\(f(frameHeight))\" "
        out += "data-pad=\"\(f(Self.padding))\" data-cw=\"\(f(Self.characterWidth))\" data-inverted=\"\(graph.inverted ? 1 : 0)\">\n"
        out += "<style>\n" + Self.style + "</style>\n"
        out += "<rect x=\"0\" y=\"0\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"#fbfaf6\"/>\n"
        var title = graph.isDifferential ? "Differential flame graph: " : (graph.inverted ? "Icicle graph: " : "Flame graph: ")
        title += graph.kind.caption
        if !graph.title.isEmpty { title += " — " + graph.title }
        out += "<text id=\"title\" x=\"\(f(width / 2))\" y=\"22\" text-anchor=\"middle\">\(Self.xml(title))</text>\n"
        let sub = subtitle ?? (graph.isDifferential
            ? "before \(figure(graph.root.before, graph.kind)), after \(figure(graph.root.after, graph.kind)); red grew, blue shrank"
            : "total \(figure(total, graph.kind))" + (minimum > minimumFrameWidth || frames.contains { $0.node < 0 }
                ? "; frames narrower than \(f(minimum)) px merged" : ""))
        out += "<text id=\"subtitle\" x=\"\(f(width / 2))\" y=\"40\" text-anchor=\"middle\">\(Self.xml(sub))</text>\n"
        out += "<text id=\"unzoom\" class=\"button hide\" x=\"\(f(Self.padding))\" y=\"22\">Reset Zoom</text>\n"
        out += "<text id=\"search\" class=\"button\" x=\"\(f(width - Self.padding))\" y=\"22\" text-anchor=\"end\">Search</text>\n"
        out += "<text id=\"details\" x=\"\(f(Self.padding))\" y=\"\(f(height - 10))\"> </text>\n"
        out += "<text id=\"matched\" x=\"\(f(width - Self.padding))\" y=\"\(f(height - 10))\" text-anchor=\"end\"> </text>\n"

        let maxDelta = graph.isDifferential
            ? graph.nodes.dropFirst().map { $0.after > $0.before ? $0.after - $0.before : $0.before - $0.after }.max() ?? 0 : 0
        out += "<g id=\"frames\">\n"
        for frame in frames {
            let y = graph.inverted
                ? Self.topMargin + Double(frame.depth) * frameHeight
                : height - Self.bottomMargin - Double(frame.depth + 1) * frameHeight
            let name: String, details: String, fill: String
            if frame.node >= 0 {
                let node = graph.nodes[frame.node]
                name = graph.names[Int(node.name)]
                let location = graph.location(of: node)?.shortDescription
                details = (location.map { $0 + "\n" } ?? "") + describe(weight: node.weight, bytes: node.bytes, count: node.count,
                                                                        before: node.before, after: node.after, graph: graph)
                fill = graph.isDifferential ? Self.diffColour(before: node.before, after: node.after, maxDelta: maxDelta)
                    : frame.node == 0 ? "rgb(240,180,100)" : Self.colour(name)
            } else {
                name = "(\(frame.mergedCount) smaller frames)"
                details = describe(weight: frame.weight, bytes: frame.mergedBytes, count: frame.mergedCount2,
                                   before: frame.mergedBefore, after: frame.mergedAfter, graph: graph)
                fill = graph.isDifferential ? Self.diffColour(before: frame.mergedBefore, after: frame.mergedAfter, maxDelta: maxDelta)
                    : "rgb(190,190,190)"
            }
            out += "<g data-v=\"\(frame.weight)\" data-d=\"\(frame.depth)\"><title>\(Self.xml(name + "\n" + details))</title>"
            out += "<rect x=\"\(f(frame.x))\" y=\"\(f(y))\" width=\"\(f(frame.width))\" height=\"\(f(frameHeight - 1))\" fill=\"\(fill)\"/>"
            let label = Self.label(name, width: frame.width)
            if !label.isEmpty {
                out += "<text x=\"\(f(frame.x + 3))\" y=\"\(f(y + frameHeight - 4.5))\">\(Self.xml(label))</text>"
            }
            out += "</g>\n"
        }
        out += "</g>\n"
        out += "<script type=\"text/ecmascript\"><![CDATA[\n" + FlameGraphScript.source + "]]></script>\n"
        out += "</svg>\n"
        return out
    }

    /// The frames to draw with the given minimum width (or only their count).
    func layout(_ graph: FlameGraph, plotWidth: Double, minimum: Double, collect: Bool) -> (count: Int, frames: [Drawn]) {
        var frames: [Drawn] = []
        var count = 1
        let total = graph.root.weight
        let scale = total == 0 ? 0 : plotWidth / Double(total)
        if collect { frames.append(Drawn(node: 0, depth: 0, x: Self.padding, width: plotWidth, weight: total)) }
        var pending: [(node: Int, x: Double)] = [(0, Self.padding)]
        while let (i, x) = pending.popLast() {
            let node = graph.nodes[i]
            var cx = x
            var merged = Drawn(node: -1, depth: Int(node.depth) + 1, x: 0, width: 0, weight: 0)
            for c in node.children {
                let child = graph.nodes[c]
                let w = Double(child.weight) * scale
                if w >= minimum {
                    count += 1
                    if collect { frames.append(Drawn(node: c, depth: Int(child.depth), x: cx, width: w, weight: child.weight)) }
                    if child.childCount > 0 { pending.append((c, cx)) }
                    cx += w
                } else {
                    merged.mergedCount += 1
                    merged.weight &+= child.weight
                    merged.mergedBefore &+= child.before
                    merged.mergedAfter &+= child.after
                    merged.mergedBytes &+= child.bytes
                    merged.mergedCount2 &+= child.count
                }
            }
            if merged.mergedCount > 0 {
                merged.x = cx
                merged.width = Double(merged.weight) * scale
                if merged.width >= minimum {
                    count += 1
                    if collect { frames.append(merged) }
                }
            }
        }
        if collect {
            // Sorted by depth, then x: the same order for the same graph.
            frames.sort { $0.depth != $1.depth ? $0.depth < $1.depth : $0.x < $1.x }
        }
        return (count, frames)
    }

    private func describe(weight: UInt64, bytes: UInt64, count: UInt64, before: UInt64, after: UInt64, graph: FlameGraph) -> String {
        let kind = graph.kind
        if graph.isDifferential {
            let delta = Int64(bitPattern: after &- before)
            let sign = delta > 0 ? "+" : (delta < 0 ? "-" : "±")
            let change = before == 0 ? (after == 0 ? "" : ", new") : ", \(sign)" + Format.percent(delta.magnitude, of: before)
            return "before \(figure(before, kind)), after \(figure(after, kind)) (\(sign)\(figure(delta.magnitude, kind))\(change))"
        }
        let share = Format.percent(weight, of: graph.root.weight)
        switch kind {
        case .allocated:
            return "\(Format.bytes(bytes)) (\(Format.count(bytes)) bytes) in \(Format.count(count, "allocation")), \(share)"
        case .allocations:
            return "\(Format.count(count, "allocation")) (\(Format.bytes(bytes))), \(share)"
        case .peak, .leaked:
            return "\(Format.bytes(bytes)) (\(Format.count(bytes)) bytes) in \(Format.count(count, "block")), \(share)"
        case .temporary:
            return "\(Format.count(count)) temporary allocations, \(share)"
        }
    }

    private func figure(_ value: UInt64, _ kind: FlameGraphKind) -> String {
        kind.isBytes ? Format.bytes(value) : Format.count(value)
    }

    /// The label that fits in `width` pixels: the name, cut with `..`, or nothing under 3 characters.
    static func label(_ name: String, width: Double) -> String {
        let fits = Int((width - 6) / characterWidth)
        if fits < 3 { return "" }
        if name.count <= fits { return name }
        return String(name.prefix(fits - 2)) + ".."
    }

    /// The warm colour of a name: FNV-1a of its UTF-8 bytes picks red, green and blue in the
    /// classic flame-graph range, so a function has the same colour in every graph.
    public static func colour(_ name: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let a = Double(hash & 0xffff) / 65535, b = Double((hash >> 16) & 0xffff) / 65535, c = Double((hash >> 32) & 0xffff) / 65535
        return "rgb(\(205 + Int(50 * a)),\(Int(200 * b) + 20),\(Int(55 * c)))"
    }

    /// Red for a frame that grew, blue for one that shrank, in proportion to the largest change.
    static func diffColour(before: UInt64, after: UInt64, maxDelta: UInt64) -> String {
        let delta = after > before ? after - before : before - after
        let strength = maxDelta == 0 ? 0 : Double(delta) / Double(maxDelta)
        let fade = 235 - Int(175 * strength)
        if after > before { return "rgb(255,\(fade),\(fade))" }
        if after < before { return "rgb(\(fade),\(fade),255)" }
        return "rgb(235,235,235)"
    }

    /// Text escaped for XML content and attribute values; characters XML 1.0 forbids become U+FFFD.
    static func xml(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xfffe || scalar.value == 0xffff {
                    out += "\u{fffd}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    static let style = """
    text { font-family: Verdana, sans-serif; font-size: 12px; fill: #000; }
    #title { font-size: 17px; }
    #subtitle, #details, #matched { fill: #444; }
    #frames text { font-family: monospace; pointer-events: none; }
    #frames g { cursor: pointer; }
    #frames g:hover rect { stroke: #000; stroke-width: 0.5; }
    .button { cursor: pointer; fill: #1a5fb4; }
    .hide { display: none; }
    .parent { opacity: 0.55; }

    """
}
