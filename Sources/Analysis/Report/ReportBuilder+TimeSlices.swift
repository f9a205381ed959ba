import TraceModel

/// The report's figures by time slice: the call sites' and the pruned flame graphs' allocations and
/// bytes per slice, mapped from the per-stack figures of `AllocationSliceAnalysis`.
extension ReportBuilder {
    /// For each stack id, the index of its sample in `profile.samples` (-1: none).
    static func sampleIndexByStack(_ profile: StackProfile) -> [Int32] {
        var index = [Int32](repeating: -1, count: profile.stacks.count + 1)
        for (i, sample) in profile.samples.enumerated() {
            let s = Int(sample.stack.rawValue)
            if s >= index.count { index += [Int32](repeating: -1, count: s + 1 - index.count) }
            index[s] = Int32(i)
        }
        return index
    }

    /// Allocations and bytes per slice of each site of `sites` (in that order), from the stacks
    /// that `siteOfStack` (indexed by stack id) maps to them.
    static func callSiteSlices(_ sites: [UInt64], siteOfStack: [UInt64], slices: AllocationSlices) -> [[ReportSliceFigures]] {
        var row: [UInt64: Int] = [:]
        for (i, site) in sites.enumerated() { row[site] = i }
        let width = slices.count
        var counts = [UInt64](repeating: 0, count: sites.count * width)
        var bytes = counts
        var lastStack = StackID(UInt32.max)
        var lastRow = -1
        for e in slices.entries {
            if e.stack != lastStack {
                lastStack = e.stack
                let s = Int(e.stack.rawValue)
                lastRow = s < siteOfStack.count ? row[siteOfStack[s]] ?? -1 : -1
            }
            guard lastRow >= 0, Int(e.slice) < width else { continue }
            counts[lastRow * width + Int(e.slice)] &+= e.allocations
            bytes[lastRow * width + Int(e.slice)] &+= e.bytes
        }
        return sites.indices.map { r in
            (0..<width).compactMap { k in
                counts[r * width + k] == 0 ? nil : ReportSliceFigures(slice: k, allocations: counts[r * width + k], bytes: bytes[r * width + k])
            }
        }
    }

    /// The pruned graph (`kept`, depth first) by time slice: each kept frame's figure per slice,
    /// summed from the stacks whose paths end in its subtree; then the lightest frames merged into
    /// one `(N smaller frames)` node per parent until at most `limits.slicedFlameGraphValues`
    /// non-zero values remain.
    func slicedGraph(
        _ graph: FlameGraph, kept: [KeptNode], sampleNodes: [Int32], sampleOfStack: [Int32], slices: AllocationSlices
    ) -> ReportSlicedFlameGraph {
        let width = slices.count
        // The kept node that holds each node of the full graph (itself, or its parent's merged node).
        var keptOf = [Int32](repeating: -1, count: graph.nodes.count)
        var mergedChild = [Int32](repeating: -1, count: kept.count)
        for (k, n) in kept.enumerated() {
            if n.node >= 0 { keptOf[n.node] = Int32(k) } else if n.parent >= 0 { mergedChild[Int(n.parent)] = Int32(k) }
        }
        var owner = keptOf
        graph.nodes.withUnsafeBufferPointer { nodes in
            for i in nodes.indices.dropFirst() where owner[i] < 0 {
                let up = owner[Int(nodes[i].parent)]
                if up >= 0 { owner[i] = kept[Int(up)].node < 0 ? up : mergedChild[Int(up)] }
            }
        }
        // Figures per kept node per slice: the stacks' own, then each subtree's (children follow
        // their parents in depth-first order, so one backward sweep sums them).
        var values = [UInt64](repeating: 0, count: kept.count * width)
        for e in slices.entries {
            let s = Int(e.stack.rawValue)
            guard s < sampleOfStack.count, sampleOfStack[s] >= 0, Int(e.slice) < width else { continue }
            let end = sampleNodes[Int(sampleOfStack[s])]
            guard end >= 0, owner[Int(end)] >= 0 else { continue }
            values[Int(owner[Int(end)]) * width + Int(e.slice)] &+= graph.kind == .allocated ? e.bytes : e.allocations
        }
        for k in kept.indices.dropFirst().reversed() {
            let p = Int(kept[k].parent)
            for j in 0..<width { values[p * width + j] &+= values[k * width + j] }
        }
        // The lightest weight kept whole: the smallest threshold whose values fit the limit.
        let weights = Array(Set(kept.map(\.weight))).sorted()
        var lo = 0, hi = weights.count  // hi: only the root
        while lo < hi {
            let mid = (lo + hi) / 2
            if sliced(kept, values: values, width: width, minimum: weights[mid], build: false).valueCount <= limits.slicedFlameGraphValues {
                hi = mid
            } else {
                lo = mid + 1
            }
        }
        return sliced(kept, values: values, width: width, minimum: lo < weights.count ? weights[lo] : .max, build: true).graph
    }

    /// The sliced graph of the kept nodes at least `minimum` heavy (the root always), the others
    /// merged into one node per parent, and its count of non-zero values (only the count unless `build`).
    private func sliced(
        _ kept: [KeptNode], values: [UInt64], width: Int, minimum: UInt64, build: Bool
    ) -> (graph: ReportSlicedFlameGraph, valueCount: Int) {
        var index = [Int32](repeating: -1, count: kept.count)
        var nodes: [ReportSlicedFlameGraph.Node] = []
        var hiddenFrames = [Int](repeating: 0, count: kept.count)
        var hidden = [UInt64](repeating: 0, count: kept.count * width)
        var included = 0, valueCount = 0
        func sparse(_ v: ArraySlice<UInt64>) -> [ReportSlicedFlameGraph.Value] {
            var out: [ReportSlicedFlameGraph.Value] = []
            for (j, x) in zip(0..., v) where x != 0 { out.append(.init(slice: j, value: x)) }
            return out
        }
        for (k, n) in kept.enumerated() {
            let row = (k * width)..<((k + 1) * width)
            if k == 0 || (n.weight >= minimum && index[Int(n.parent)] >= 0) {
                index[k] = Int32(included)
                included += 1
                for j in row where values[j] != 0 { valueCount += 1 }
                if build { nodes.append(.init(parent: k == 0 ? -1 : index[Int(n.parent)], source: Int32(k), values: sparse(values[row]))) }
            } else if index[Int(n.parent)] >= 0 {
                let p = Int(n.parent)
                hiddenFrames[p] += n.node < 0 ? n.merged : 1
                for j in 0..<width { hidden[p * width + j] &+= values[k * width + j] }
            }
        }
        for p in kept.indices where hiddenFrames[p] > 0 {
            let row = (p * width)..<((p + 1) * width)
            for j in row where hidden[j] != 0 { valueCount += 1 }
            if build { nodes.append(.init(parent: index[p], source: -Int32(hiddenFrames[p]), values: sparse(hidden[row]))) }
        }
        return (ReportSlicedFlameGraph(nodes: nodes, mergedNodes: kept.count - included), valueCount)
    }
}
