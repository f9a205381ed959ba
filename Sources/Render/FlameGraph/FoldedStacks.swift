import Analysis

/// Folded stacks (`main;parse;malloc_wrapper 4096`), the input of flamegraph.pl, inferno and
/// speedscope: one line per path that ends with a non-zero figure, frames outermost first (for an
/// inverted graph, allocating frame first), paths in sorted order. A differential graph gives the
/// two-column form of difffolded.pl: `path before after`.
public enum FoldedStacks {
    /// The folded text of a graph, each line ending in a newline.
    public static func render(_ graph: FlameGraph) -> String {
        var out = ""
        var names: [String] = []
        var stack: [(node: Int, depth: Int)] = [(0, 0)]
        var cleaned: [Int32: String] = [:]
        while let (i, depth) = stack.popLast() {
            let node = graph.nodes[i]
            if i > 0 {
                names.removeSubrange((depth - 1)...)
                let name = cleaned[node.name] ?? {
                    let c = frameName(graph.names[Int(node.name)])
                    cleaned[node.name] = c
                    return c
                }()
                names.append(name)
                if graph.isDifferential {
                    if node.selfBefore > 0 || node.selfAfter > 0 {
                        out += names.joined(separator: ";") + " \(node.selfBefore) \(node.selfAfter)\n"
                    }
                } else if node.selfWeight > 0 {
                    out += names.joined(separator: ";") + " \(node.selfWeight)\n"
                }
            }
            for c in node.children.reversed() { stack.append((c, depth + 1)) }
        }
        return out
    }

    /// A frame name safe in a folded line: `;` (the frame separator) becomes `:` and line breaks
    /// become spaces.
    public static func frameName(_ name: String) -> String {
        guard name.contains(where: { $0 == ";" || $0.isNewline }) else { return name }
        return String(name.map { $0 == ";" ? ":" : ($0.isNewline ? " " : $0) })
    }
}

/// speedscope's file format (https://www.speedscope.app/file-format-schema.json): one sampled
/// profile whose samples are the graph's paths and whose weights are their figures.
public enum SpeedscopeJSON {
    /// The JSON document, keys in a fixed order.
    public static func render(_ graph: FlameGraph, name: String) -> String {
        var frameIndex: [Int32: Int] = [:]
        var frames: [String] = []
        var samples: [String] = []
        var weights: [String] = []
        var path: [Int] = []
        var stack: [(node: Int, depth: Int)] = [(0, 0)]
        while let (i, depth) = stack.popLast() {
            let node = graph.nodes[i]
            if i > 0 {
                path.removeSubrange((depth - 1)...)
                let index = frameIndex[node.name] ?? {
                    var frame = "{\"name\":" + jsonString(graph.names[Int(node.name)])
                    if let location = graph.location(of: node) {
                        if let file = location.file { frame += ",\"file\":" + jsonString(file) }
                        if let line = location.line, line > 0 { frame += ",\"line\":\(line)" }
                    }
                    frames.append(frame + "}")
                    frameIndex[node.name] = frames.count - 1
                    return frames.count - 1
                }()
                path.append(index)
                if node.selfWeight > 0 {
                    samples.append("[" + path.map(String.init).joined(separator: ",") + "]")
                    weights.append(String(node.selfWeight))
                }
            }
            for c in node.children.reversed() { stack.append((c, depth + 1)) }
        }
        let unit = graph.kind.isBytes ? "bytes" : "none"
        var out = "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\n"
        out += "\"shared\":{\"frames\":[\n" + frames.joined(separator: ",\n") + "\n]},\n"
        out += "\"profiles\":[{\"type\":\"sampled\",\"name\":" + jsonString(name + " (" + graph.kind.caption + ")")
        out += ",\"unit\":\"\(unit)\",\"startValue\":0,\"endValue\":\(graph.root.weight),\n"
        out += "\"samples\":[\n" + samples.joined(separator: ",\n") + "\n],\n"
        out += "\"weights\":[" + weights.joined(separator: ",") + "]}],\n"
        out += "\"name\":" + jsonString(name) + ",\"activeProfileIndex\":0,\"exporter\":\"mematlas\"}\n"
        return out
    }

    /// A JSON string literal.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<": out += "\\u003c"  // harmless inside HTML too
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
