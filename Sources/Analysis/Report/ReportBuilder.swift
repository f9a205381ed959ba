import Foundation
import TraceIO
import TraceModel

/// Builds a `MemoryReport` from finished analyses: groups stacks into call sites, builds and prunes
/// the five flame graphs, thins the timeline, and symbolizes every instruction pointer once.
public struct ReportBuilder {
    /// The caps applied.
    public var limits: ReportLimits

    /// Creates a builder with `limits`.
    public init(limits: ReportLimits = ReportLimits()) { self.limits = limits }

    /// What one pass over a trace gives: the report, and the `summary` command's report of the same pass.
    public struct Result {
        /// The HTML report's model.
        public var report: MemoryReport
        /// The terminal summary of the same figures.
        public var summary: SummaryReport
        /// The reader, with the trace's metadata.
        public var reader: TraceReader
    }

    /// Reads the trace at `path` once (heap analysis and distributions together) and builds the report.
    /// - Parameters:
    ///   - top: call sites per ranking in the returned `SummaryReport`.
    ///   - heapMap: also replay the trace to draw the heap at its peak (two more passes).
    ///   - progress: called now and then with how far the read has come.
    ///   - phase: called with a short description as each later phase starts (symbolizing, the heap map).
    /// - Throws: the reader's errors (`TraceOpenError`, `TraceFormatError`).
    public func load(
        path: String, top: Int = 5, heapMap: Bool = true, progress: ((ReadProgress) -> Void)? = nil, phase: ((String) -> Void)? = nil
    ) throws -> Result {
        let reader = try TraceReader(path: path)
        let session = LLVMSymbolizerSession.warmingUp(reader)
        var pass = VisitorPair(VisitorPair(HeapAnalysis(), DistributionAnalysis()), AllocationSliceAnalysis(maxSlices: limits.timeSlices))
        try reader.read(into: &pass, progress: progress)
        let profile = pass.first.first.finish()
        let slices = pass.second.finish(durationNs: reader.durationNs)
        phase?("symbolizing and building the report")
        let symbolizer = Symbolizer(moduleMaps: reader.moduleMaps, session: session)
        var report = build(reader: reader, profile: profile, distribution: pass.first.second, slices: slices, symbolizer: symbolizer)
        if heapMap, profile.peakBytes > 0 {
            phase?("replaying the trace for the heap map at the peak (--no-heap-map skips this)")
            var captured: HeapMap?
            _ = try HeapMapAnalysis.run(reader: reader, moments: [.peak]) { _, map in captured = map }
            report.heapMap = captured.map(ReportHeapMap.init)
        }
        let summary = SummaryBuilder(top: top).build(reader: reader, profile: profile, symbolizer: symbolizer)
        return Result(report: report, summary: summary, reader: reader)
    }

    /// The report of a finished pass (`slices`: the figures by time slice, when the pass gathered them).
    public func build(
        reader: TraceReader, profile: HeapProfile, distribution: DistributionAnalysis, slices: AllocationSlices? = nil, symbolizer: Symbolizer
    ) -> MemoryReport {
        // Every instruction pointer of a stack that made something, symbolized in one batch.
        var samples: [StackProfile.Sample] = []
        var distinct = Set<UInt64>()
        var ips: [UInt64] = []
        for (index, s) in profile.stacks.enumerated() where !s.isZero {
            let id = StackID(UInt32(index))
            samples.append(.init(stack: id, figures: s))
            for ip in reader.stacks.frames(of: id) where distinct.insert(ip).inserted { ips.append(ip) }
        }
        let symbols = symbolizer.symbolize(ips)
        var modules: [Module] = []
        var seenModules = Set<Module>()
        for map in reader.moduleMaps {
            for module in map.modules where seenModules.insert(module).inserted { modules.append(module) }
        }
        let stackProfile = StackProfile(
            samples: samples, stacks: reader.stacks, symbols: symbols, modules: modules, threadNames: reader.threadNames,
            program: reader.process?.executable ?? "", durationNs: reader.durationNs)

        let process = reader.process
        var truncation: String?
        if case .truncated(let reason) = reader.completeness { truncation = reason }
        let summary = ReportSummary(
            program: process?.executable ?? "?", arguments: process?.arguments ?? [],
            pid: process?.pid ?? UInt32(truncatingIfNeeded: reader.header.pid), trace: reader.path,
            durationNs: reader.durationNs, peakHeapBytes: profile.peakBytes, peakHeapTimeNs: profile.peakTimeNs,
            peakResidentBytes: profile.peakResidentBytes, peakResidentTimeNs: profile.peakResidentTimeNs,
            allocatedBytes: profile.allocatedBytes, allocations: profile.allocations,
            calls: profile.calls.values.reduce(0, &+), leakedBytes: profile.leakedBytes, leakedBlocks: profile.leakedBlocks,
            temporaryAllocations: profile.temporaryAllocations, events: profile.events, truncation: truncation,
            programHasOwnMalloc: reader.header.programHasOwnMalloc)

        var report = MemoryReport(summary: summary)
        report.timeline = Self.timeline(profile, durationNs: reader.durationNs, points: limits.timelinePoints)
        report.timeSlices = slices.map { ReportTimeSlices(widthNs: $0.widthNs, count: $0.count) }
        addFlameGraphs(stackProfile, slices: slices, to: &report)
        addCallSites(stackProfile, symbolizer: symbolizer, slices: slices, to: &report)
        addLeaks(stackProfile, to: &report)
        report.sizeHistogram = distribution.sizes
        report.lifetimeHistogram = distribution.lifetimeNs
        report.lifetimeAllocationsHistogram = distribution.lifetimeAllocations
        report.neverFreed = distribution.liveBlocks
        report.threads = profile.threadCalls.map { ReportThread(id: $0.key.rawValue, name: reader.threadNames[$0.key] ?? "", calls: $0.value) }
            .sorted { $0.calls != $1.calls ? $0.calls > $1.calls : $0.id < $1.id }
        report.modules = modules.map { m in
            ReportModule(path: m.path, buildID: m.buildID.map { String(format: "%02x", $0) }.joined(), loadBias: m.loadBias)
        }
        return report
    }

    /// The tick samples thinned to `points`, with the heap's peak added as a point of its own (ticks
    /// rarely land on it) and a last point at the process's end (`durationNs`) with the heap at exit.
    public static func timeline(_ profile: HeapProfile, durationNs: UInt64, points: Int) -> [TimelineSample] {
        var samples = thin(profile.timeline, to: max(points - 2, 1))
        if profile.peakBytes > 0 {
            let at = samples.firstIndex { $0.timeNs > profile.peakTimeNs } ?? samples.count
            let rss = at > 0 ? samples[at - 1].residentBytes : samples.first?.residentBytes ?? 0
            samples.insert(TimelineSample(timeNs: profile.peakTimeNs, heapBytes: profile.peakBytes, residentBytes: rss), at: at)
        }
        if let last = samples.last, last.timeNs < durationNs {
            samples.append(TimelineSample(timeNs: durationNs, heapBytes: profile.leakedBytes, residentBytes: last.residentBytes))
        }
        return samples
    }

    /// At most `count` samples: each the highest-heap sample of its slice, with the slice's highest RSS.
    public static func thin(_ samples: [TimelineSample], to count: Int) -> [TimelineSample] {
        guard samples.count > count, count > 0 else { return samples }
        var out: [TimelineSample] = []
        out.reserveCapacity(count)
        for slice in 0..<count {
            let lo = slice * samples.count / count, hi = (slice + 1) * samples.count / count
            guard lo < hi else { continue }
            var best = samples[lo]
            var rss = samples[lo].residentBytes
            for s in samples[lo..<hi] {
                if s.heapBytes > best.heapBytes { best = s }
                rss = max(rss, s.residentBytes)
            }
            best.residentBytes = rss
            out.append(best)
        }
        return out
    }

    // MARK: Flame graphs

    /// Builds the five flame graphs of `profile`, prunes each to `limits`, and adds them (and the
    /// names and locations they use) to `report`; with `slices`, the allocated and allocations
    /// graphs get their figures by time slice too.
    public func addFlameGraphs(_ profile: StackProfile, slices: AllocationSlices? = nil, to report: inout MemoryReport) {
        var nameIndex: [String: Int32] = ["all": 0]
        var locationIndex: [String: Int32] = [:]
        let sampleOfStack = slices == nil ? [] : Self.sampleIndexByStack(profile)
        for kind in FlameGraphKind.allCases {
            let sliced = slices != nil && (kind == .allocated || kind == .allocations)
            let graph: FlameGraph
            var sampleNodes: [Int32] = []
            if sliced {
                (graph, sampleNodes) = FlameGraphBuilder(kind: kind).buildWithSampleNodes(profile)
            } else {
                graph = FlameGraphBuilder(kind: kind).build(profile)
            }
            var minimum = max(1, UInt64(Double(graph.root.weight) * limits.flameGraphMinimumShare))
            var kept = Self.prune(graph, minimum: minimum)
            while kept.count > limits.flameGraphNodes {
                minimum *= 2
                kept = Self.prune(graph, minimum: minimum)
            }
            var nodes: [ReportFlameGraph.Node] = []
            nodes.reserveCapacity(kept.count)
            for k in kept {
                if k.node < 0 {
                    nodes.append(.init(parent: k.parent, name: -1, location: Int32(k.merged), weight: k.weight, bytes: k.bytes, count: k.count))
                    continue
                }
                let node = graph.nodes[k.node]
                let name = clip(graph.name(of: node))
                let n: Int32
                if let i = nameIndex[name] { n = i } else {
                    n = Int32(report.frameNames.count)
                    nameIndex[name] = n
                    report.frameNames.append(name)
                }
                var l: Int32 = -1
                if let location = graph.location(of: node)?.shortDescription {
                    if let i = locationIndex[location] { l = i } else {
                        l = Int32(report.frameLocations.count)
                        locationIndex[location] = l
                        report.frameLocations.append(location)
                    }
                }
                nodes.append(.init(parent: k.parent, name: n, location: l, weight: node.weight, bytes: node.bytes, count: node.count))
            }
            var result = ReportFlameGraph(kind: kind, nodes: nodes, fullNodeCount: graph.nodes.count)
            if sliced, let slices {
                result.sliced = slicedGraph(graph, kept: kept, sampleNodes: sampleNodes, sampleOfStack: sampleOfStack, slices: slices)
            }
            report.flameGraphs.append(result)
        }
    }

    struct KeptNode {
        var node: Int  // -1: merged
        var parent: Int32
        var weight: UInt64
        var bytes: UInt64 = 0
        var count: UInt64 = 0
        var merged = 0
    }

    /// The nodes to keep, depth first, children heaviest first: frames lighter than `minimum` are
    /// merged into one `(N smaller frames)` node per parent.
    static func prune(_ graph: FlameGraph, minimum: UInt64) -> [KeptNode] {
        var out = [KeptNode(node: 0, parent: -1, weight: graph.root.weight, bytes: graph.root.bytes, count: graph.root.count)]
        guard graph.root.weight > 0 else { return out }
        var pending: [(node: Int, at: Int32)] = [(0, 0)]
        while let (i, at) = pending.popLast() {
            let children = graph.nodes[i].children.filter { graph.nodes[$0].weight > 0 }.sorted {
                let a = graph.nodes[$0], b = graph.nodes[$1]
                return a.weight != b.weight ? a.weight > b.weight : a.name < b.name
            }
            var merged = KeptNode(node: -1, parent: at, weight: 0)
            var keptChildren: [(Int, Int32)] = []
            for c in children {
                let child = graph.nodes[c]
                if child.weight >= minimum {
                    out.append(KeptNode(node: c, parent: at, weight: child.weight, bytes: child.bytes, count: child.count))
                    if child.childCount > 0 { keptChildren.append((c, Int32(out.count - 1))) }
                } else {
                    merged.merged += 1
                    merged.weight &+= child.weight
                    merged.bytes &+= child.bytes
                    merged.count &+= child.count
                }
            }
            if merged.merged > 0 { out.append(merged) }
            pending.append(contentsOf: keptChildren.reversed())
        }
        return Self.depthFirst(out)
    }

    /// Reorders nodes (parents before children, siblings in order) into depth-first pre-order.
    static func depthFirst(_ nodes: [KeptNode]) -> [KeptNode] {
        var children = [[Int]](repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() where n.parent >= 0 { children[Int(n.parent)].append(i) }
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        var stack = [0]
        while let i = stack.popLast() {
            order.append(i)
            stack.append(contentsOf: children[i].reversed())
        }
        var newIndex = [Int32](repeating: -1, count: nodes.count)
        for (n, i) in order.enumerated() { newIndex[i] = Int32(n) }
        return order.map { i in
            var n = nodes[i]
            if n.parent >= 0 { n.parent = newIndex[Int(n.parent)] }
            return n
        }
    }

    // MARK: Call sites and leaks

    /// `function (file.c:12)` for each source frame of an instruction pointer, innermost first.
    func describe(_ ip: UInt64, _ symbols: [UInt64: [SymbolizedFrame]]) -> [String] {
        guard let frames = symbols[ip], !frames.isEmpty else { return ["0x" + String(ip, radix: 16)] }
        return frames.map { clip($0.function) + " (" + Self.shortLocation($0) + ")" }
    }

    /// A name cut to `limits.nameLength` characters.
    func clip(_ name: String) -> String {
        name.count <= limits.nameLength ? name : String(name.prefix(limits.nameLength - 1)) + "…"
    }

    static func shortLocation(_ f: SymbolizedFrame) -> String {
        FlameGraph.Location(file: f.file, line: f.line, module: f.module).shortDescription
    }

    private func addCallSites(_ profile: StackProfile, symbolizer: Symbolizer, slices: AllocationSlices?, to report: inout MemoryReport) {
        struct Aggregate {
            var stats = StackStatistics()
            var heaviest = StackID.none
            var heaviestBytes: UInt64 = 0
            var first = true
        }
        var runtimeModule: [String: Bool] = [:]
        var sites: [UInt64: Aggregate] = [:]
        var siteOfStack = [UInt64](repeating: 0, count: slices == nil ? 0 : profile.stacks.count + 1)
        for sample in profile.samples {
            let frames = profile.stacks.frames(of: sample.stack)
            var site: UInt64 = frames.first ?? 0
            for ip in frames {
                guard let location = symbolizer.locate(ip &- 1, stack: sample.stack) else {
                    site = ip
                    break
                }
                let runtime = runtimeModule[location.module] ?? {
                    let r = SummaryBuilder.isRuntimeLibrary(location.module)
                    runtimeModule[location.module] = r
                    return r
                }()
                if !runtime {
                    site = ip
                    break
                }
            }
            if Int(sample.stack.rawValue) < siteOfStack.count { siteOfStack[Int(sample.stack.rawValue)] = site }
            var a = sites[site] ?? Aggregate()
            a.stats.add(sample.figures)
            if a.first || sample.figures.allocatedBytes > a.heaviestBytes {
                a.heaviest = sample.stack
                a.heaviestBytes = sample.figures.allocatedBytes
                a.first = false
            }
            sites[site] = a
        }
        let keys: [(StackStatistics) -> UInt64] = [\.allocations, \.allocatedBytes, \.temporary, \.peakBytes, \.leakedBytes]
        var chosen = Set<UInt64>()
        for key in keys {
            let top = sites.filter { key($0.value.stats) > 0 }
                .sorted { key($0.value.stats) != key($1.value.stats) ? key($0.value.stats) > key($1.value.stats) : $0.key < $1.key }
                .prefix(limits.callSites)
            for (site, _) in top { chosen.insert(site) }
        }
        let ordered = chosen.sorted {
            let a = sites[$0]!.stats, b = sites[$1]!.stats
            return a.allocatedBytes != b.allocatedBytes ? a.allocatedBytes > b.allocatedBytes : $0 < $1
        }
        report.callSiteCount = sites.count
        let siteSlices = slices.map { Self.callSiteSlices(ordered, siteOfStack: siteOfStack, slices: $0) } ?? []
        report.callSites = ordered.enumerated().map { row, site in
            let a = sites[site]!
            let frame = site == 0 ? nil : profile.symbols[site]?.first
            let function = site == 0 ? "(no stack)" : frame.map { clip($0.function) } ?? "0x" + String(site, radix: 16)
            let location = frame.map(Self.shortLocation) ?? ""
            let frames = Array(profile.stacks.frames(of: a.heaviest))
            let start = frames.firstIndex(of: site) ?? 0
            let lines = frames[start...].flatMap { describe($0, profile.symbols) }.prefix(limits.stackDepth)
            return ReportCallSite(function: function, location: location, figures: a.stats, stack: Array(lines),
                                  slices: siteSlices.isEmpty ? [] : siteSlices[row])
        }
    }

    private func addLeaks(_ profile: StackProfile, to report: inout MemoryReport) {
        let leaking = profile.samples.filter { $0.figures.leakedBytes > 0 || $0.figures.leakedBlocks > 0 }
            .sorted { $0.figures.leakedBytes != $1.figures.leakedBytes ? $0.figures.leakedBytes > $1.figures.leakedBytes : $0.stack.rawValue < $1.stack.rawValue }
        report.leakCount = leaking.count
        report.leaks = leaking.prefix(limits.leaks).map { s in
            let frames = profile.stacks.frames(of: s.stack)
            let lines = frames.isEmpty ? ["(no stack)"] : frames.flatMap { describe($0, profile.symbols) }
            return ReportLeak(bytes: s.figures.leakedBytes, blocks: s.figures.leakedBlocks, stack: Array(lines.prefix(limits.leakStackDepth)))
        }
    }
}
