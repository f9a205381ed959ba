import Analysis

/// The fragmentation figures and the RSS breakdown of `mematlas heapmap` as plain text.
public enum HeapMapText {
    /// The figures of one heap map: overall, then per region (the `maximumRegionsListed` largest).
    public static func figures(_ map: HeapMap, maximumRegionsListed: Int = 12) -> String {
        var out = ""
        func line(_ s: String = "") { out += s + "\n" }
        line("Heap at \(Format.seconds(Double(map.timeNs) / 1e9)) (after \(Format.count(map.events)) events), RSS \(Format.bytes(map.residentBytes))")
        line(figureLines(map.overall, indent: "  ").joined(separator: "\n"))
        if let t = map.residencyTimeNs {
            line("  (page residency from the snapshot at \(Format.seconds(Double(t) / 1e9)))")
        } else {
            line("  free in resident pages: not measured (no residency snapshot at this moment)")
        }
        let listed = map.regions.sorted { ($0.bytes, $1.start) > ($1.bytes, $0.start) }.prefix(maximumRegionsListed)
        line()
        line("Regions: \(map.regions.count) (\(map.regions.filter { $0.kind == .brkHeap }.count) brk heap, \(map.regions.filter { $0.kind == .arenaHeap }.count) arena heap, \(map.regions.filter { $0.kind == .mmappedBlock }.count) mmap'd blocks); largest first:")
        for region in listed.sorted(by: { $0.start < $1.start }) {
            line("  \(region.name), \(Format.bytes(region.bytes))")
            line(figureLines(region.figures, indent: "    ").joined(separator: "\n"))
        }
        if map.regions.count > listed.count { line("  ... \(map.regions.count - listed.count) smaller regions") }
        return out
    }

    static func figureLines(_ f: FragmentationFigures, indent: String) -> [String] {
        var lines = [
            "\(indent)live payload \(Format.bytes(f.liveBytes)) in \(Format.count(f.blocks, "block")), allocator overhead \(Format.bytes(f.overheadBytes))",
            "\(indent)free inside the extent \(Format.bytes(f.freeBytes)) of \(Format.bytes(f.extentBytes)) in \(Format.count(f.holes)) holes, largest \(Format.bytes(f.largestHoleBytes)), external fragmentation \(Format.fixed(f.externalFragmentation * 100, decimals: 3))%",
        ]
        if f.holes > 0 {
            let sizes = f.holeSizes.filter { $0.count > 0 }.map { ($0.upTo == .max ? "> 1.0 MiB" : "<= " + Format.bytes($0.upTo)) + ": \(Format.count($0.count))" }
            lines.append("\(indent)holes by size: " + sizes.joined(separator: ", "))
        }
        if let resident = f.freeResidentBytes {
            lines.append("\(indent)free in resident pages \(Format.bytes(resident)) (\(Format.percent(resident, of: f.freeBytes)) of free)")
        }
        return lines
    }

    /// The RSS breakdown over time: at most `rows` rows evenly chosen (the last always), then
    /// a sentence for the moment of largest RSS.
    public static func breakdown(_ run: HeapMapRun, rows: Int = 12) -> String {
        var out = ""
        func line(_ s: String = "") { out += s + "\n" }
        func pad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
        if run.breakdowns.isEmpty {
            line("RSS breakdown (no residency snapshots in the trace: free-but-resident heap not measured, so it is counted in \"other\")")
            line(pad("time", 10) + pad("RSS", 12) + pad("live", 12) + pad("overhead", 12) + pad("free+other", 12))
            let samples = run.samples
            for i in pick(samples.count, rows) {
                let s = samples[i]
                let b = RSSBreakdown.unmeasured(timeNs: s.timeNs, residentBytes: s.residentBytes, liveBytes: s.liveBytes, chunkBytes: s.chunkBytes)
                line(pad(Format.seconds(Double(s.timeNs) / 1e9), 10) + pad(Format.bytes(s.residentBytes), 12) + pad(Format.bytes(b.liveBytes), 12)
                     + pad(Format.bytes(b.overheadBytes), 12) + pad(signed(b.otherBytes), 12))
            }
            return out
        }
        line("RSS breakdown (resident bytes, measured from page-residency snapshots; mmaps = the program's own anonymous mmaps such as pymalloc arenas; other = stacks, code, file mappings, other anonymous memory)")
        line(pad("time", 10) + pad("RSS", 12) + pad("live", 12) + pad("overhead", 12) + pad("free heap", 12) + pad("mmaps", 12) + pad("other", 12))
        for i in pick(run.breakdowns.count, rows) {
            let b = run.breakdowns[i]
            line(pad(Format.seconds(Double(b.timeNs) / 1e9), 10) + pad(Format.bytes(b.residentBytes), 12) + pad(Format.bytes(b.liveResidentBytes ?? 0), 12)
                 + pad(Format.bytes(b.overheadResidentBytes ?? 0), 12) + pad(Format.bytes(b.freeResidentBytes ?? 0), 12)
                 + pad(Format.bytes(b.mappedResidentBytes ?? 0), 12) + pad(signed(b.otherBytes), 12))
        }
        if let top = run.breakdowns.max(by: { $0.residentBytes < $1.residentBytes }) {
            line("At \(Format.seconds(Double(top.timeNs) / 1e9)), of \(Format.bytes(top.residentBytes)) RSS, \(Format.bytes(top.liveResidentBytes ?? 0)) is live data, "
                 + "\(Format.bytes(top.overheadResidentBytes ?? 0)) allocator overhead, \(Format.bytes(top.freeResidentBytes ?? 0)) freed heap the allocator has not returned, "
                 + "\(Format.bytes(top.mappedResidentBytes ?? 0)) the program's own mmaps, \(signed(top.otherBytes)) everything else.")
        }
        return out
    }

    private static func signed(_ value: Int64) -> String { value < 0 ? "-" + Format.bytes(UInt64(-value)) : Format.bytes(UInt64(value)) }

    private static func pick(_ count: Int, _ rows: Int) -> [Int] {
        guard count > 0 else { return [] }
        if count <= rows { return Array(0..<count) }
        var picked = (0..<rows).map { $0 * (count - 1) / (rows - 1) }
        picked = Array(Set(picked)).sorted()
        return picked
    }
}
