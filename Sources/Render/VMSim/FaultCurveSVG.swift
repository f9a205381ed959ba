import MemorySimulators

/// Draws a page replacement sweep as one SVG chart: faults (y) against frames (x), one line per
/// policy, Belady anomalies circled and labelled. Deterministic: same sweep, same bytes.
public enum FaultCurveSVG {
    /// Chart width (SVG user units).
    static let width = 820.0
    /// Chart height (SVG user units).
    static let height = 480.0
    private static let plotLeft = 70.0, plotRight = 660.0, plotTop = 50.0, plotBottom = 410.0

    /// The stroke colour of each policy's line.
    static func colour(_ policy: ReplacementPolicy) -> String {
        switch policy {
        case .fifo: return "#d62728"
        case .lru: return "#1f77b4"
        case .clock: return "#2ca02c"
        case .opt: return "#222222"
        case .lfu: return "#9467bd"
        case .random: return "#8c564b"
        }
    }

    /// The SVG document for `sweep`.
    /// - Parameter pageSize: bytes per page, named in the title.
    public static func render(_ sweep: PageReplacementSweep, pageSize: UInt64) -> String {
        let format = VMSimFormatting.coordinate
        let frames = sweep.frameCounts
        let minFrames = Double(frames.first ?? 1), maxFrames = Double(max(frames.last ?? 1, (frames.first ?? 1) + 1))
        let maxFaults = niceCeiling(Double(sweep.curves.flatMap(\.faults).max() ?? 1))
        func x(_ frameCount: Int) -> Double {
            plotLeft + (Double(frameCount) - minFrames) / (maxFrames - minFrames) * (plotRight - plotLeft)
        }
        func y(_ faults: Int) -> Double { plotBottom - Double(faults) / maxFaults * (plotBottom - plotTop) }

        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(format(width))" height="\(format(height))" \
        viewBox="0 0 \(format(width)) \(format(height))" font-family="sans-serif" font-size="12">

        """
        svg += "<title>Page faults vs frames</title>\n"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(format(width))\" height=\"\(format(height))\" fill=\"#ffffff\"/>\n"
        let title = "Page faults vs frames: \(sweep.references) references, \(sweep.distinctPages) distinct pages of "
            + VMSimFormatting.bytes(pageSize)
        svg += "<text x=\"\(format(plotLeft))\" y=\"28\" font-size=\"15\" font-weight=\"bold\">\(VMSimFormatting.xml(title))</text>\n"

        // Axes, grid and ticks.
        svg += "<g id=\"axes\" stroke=\"#888888\" fill=\"none\">\n"
        svg += "<line x1=\"\(format(plotLeft))\" y1=\"\(format(plotBottom))\" x2=\"\(format(plotRight))\" y2=\"\(format(plotBottom))\"/>\n"
        svg += "<line x1=\"\(format(plotLeft))\" y1=\"\(format(plotTop))\" x2=\"\(format(plotLeft))\" y2=\"\(format(plotBottom))\"/>\n"
        svg += "</g>\n<g id=\"ticks\" fill=\"#333333\">\n"
        let yStep = maxFaults / 5
        for step in 0...5 {
            let value = Int((Double(step) * yStep).rounded())
            let yy = format(y(value))
            svg += "<line x1=\"\(format(plotLeft))\" y1=\"\(yy)\" x2=\"\(format(plotRight))\" y2=\"\(yy)\" stroke=\"#eeeeee\"/>\n"
            svg += "<text x=\"\(format(plotLeft - 8))\" y=\"\(format(y(value) + 4))\" text-anchor=\"end\">\(value)</text>\n"
        }
        let xStride = max(1, Int((Double(frames.count) / 16).rounded(.up)))
        for (index, frameCount) in frames.enumerated() where index % xStride == 0 || index == frames.count - 1 {
            svg += "<text x=\"\(format(x(frameCount)))\" y=\"\(format(plotBottom + 18))\" text-anchor=\"middle\">\(frameCount)</text>\n"
        }
        svg += "<text x=\"\(format((plotLeft + plotRight) / 2))\" y=\"\(format(plotBottom + 40))\" text-anchor=\"middle\">frames</text>\n"
        svg += "<text x=\"18\" y=\"\(format((plotTop + plotBottom) / 2))\" text-anchor=\"middle\" "
            + "transform=\"rotate(-90 18 \(format((plotTop + plotBottom) / 2)))\">page faults</text>\n"
        svg += "</g>\n"

        // One line per policy, with a titled dot per frame count.
        svg += "<g id=\"curves\">\n"
        for curve in sweep.curves {
            let colour = colour(curve.policy)
            let dash = curve.policy == .opt ? " stroke-dasharray=\"6 4\"" : ""
            let points = zip(frames, curve.faults).map { "\(format(x($0))),\(format(y($1)))" }.joined(separator: " ")
            svg += "<g class=\"policy\" id=\"policy-\(curve.policy.rawValue)\">\n"
            svg += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash)/>\n"
            for (frameCount, faults) in zip(frames, curve.faults) {
                svg += "<circle cx=\"\(format(x(frameCount)))\" cy=\"\(format(y(faults)))\" r=\"3\" fill=\"\(colour)\">"
                    + "<title>\(curve.policy.displayName): \(faults) faults with \(frameCount) frames</title></circle>\n"
            }
            svg += "</g>\n"
        }
        svg += "</g>\n"

        // Belady anomalies: a ring around the point and a label.
        svg += "<g id=\"anomalies\">\n"
        for anomaly in sweep.anomalies {
            let cx = format(x(anomaly.frameCount)), cy = format(y(anomaly.faults))
            let label = "Belady's anomaly (\(anomaly.policy.displayName)): \(anomaly.faults) faults with "
                + "\(anomaly.frameCount) frames > \(anomaly.faultsWithOneFrameFewer) with \(anomaly.frameCount - 1)"
            svg += "<circle class=\"belady-anomaly\" cx=\"\(cx)\" cy=\"\(cy)\" r=\"9\" fill=\"none\" stroke=\"#e6007e\" "
                + "stroke-width=\"2\"><title>\(VMSimFormatting.xml(label))</title></circle>\n"
            svg += "<text x=\"\(format(x(anomaly.frameCount) + 12))\" y=\"\(format(y(anomaly.faults) - 12))\" "
                + "fill=\"#e6007e\">Belady's anomaly (\(anomaly.policy.displayName))</text>\n"
        }
        svg += "</g>\n"

        // Legend.
        svg += "<g id=\"legend\">\n"
        for (index, curve) in sweep.curves.enumerated() {
            let top = plotTop + Double(index) * 22
            let dash = curve.policy == .opt ? " stroke-dasharray=\"6 4\"" : ""
            svg += "<line x1=\"\(format(plotRight + 20))\" y1=\"\(format(top + 8))\" x2=\"\(format(plotRight + 48))\" "
                + "y2=\"\(format(top + 8))\" stroke=\"\(colour(curve.policy))\" stroke-width=\"2\"\(dash)/>\n"
            svg += "<text x=\"\(format(plotRight + 56))\" y=\"\(format(top + 12))\">\(curve.policy.displayName)</text>\n"
        }
        if !sweep.anomalies.isEmpty {
            let top = plotTop + Double(sweep.curves.count) * 22 + 8
            svg += "<circle cx=\"\(format(plotRight + 34))\" cy=\"\(format(top + 8))\" r=\"7\" fill=\"none\" stroke=\"#e6007e\" stroke-width=\"2\"/>\n"
            svg += "<text x=\"\(format(plotRight + 56))\" y=\"\(format(top + 12))\">Belady's anomaly</text>\n"
        }
        svg += "</g>\n</svg>\n"
        return svg
    }

    /// The smallest of 1, 2, 5 x 10^k at or above `value` (at least 5), so ticks fall on round numbers.
    static func niceCeiling(_ value: Double) -> Double {
        var magnitude = 1.0
        while true {
            for factor in [1.0, 2.0, 5.0] where factor * magnitude >= max(value, 5) { return factor * magnitude }
            magnitude *= 10
        }
    }
}
