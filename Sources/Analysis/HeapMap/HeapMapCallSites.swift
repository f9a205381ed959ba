import TraceIO
import TraceModel

/// The call sites of a heap map's live blocks, for colouring by call site.
public struct HeapMapCallSites: Sendable {
    /// Each stack's site index (sites ordered by live bytes, heaviest first).
    public var siteOfStack: [StackID: Int]
    /// The sites' names (`function  file:line`), heaviest first.
    public var names: [String]
    /// Live bytes per site, heaviest first.
    public var liveBytes: [UInt64]

    /// Groups `map`'s live blocks by call site: the first frame of their stack outside the C/C++
    /// runtime libraries, symbolized.
    public init(map: HeapMap, stacks: StackTable, symbolizer: Symbolizer) {
        var bytesByStack: [StackID: UInt64] = [:]
        for b in map.blocks { bytesByStack[b.stack, default: 0] += b.payload }
        self.init(bytesByStack: bytesByStack, stacks: stacks, symbolizer: symbolizer)
    }

    /// Groups stacks by call site, weighting each by `bytesByStack` (e.g. summed over several maps,
    /// so that a frame series keeps one colour per site).
    public init(bytesByStack: [StackID: UInt64], stacks: StackTable, symbolizer: Symbolizer) {
        var runtime: [String: Bool] = [:]
        var siteOf: [StackID: UInt64] = [:]
        var bytesBySite: [UInt64: UInt64] = [:]
        for (stack, bytes) in bytesByStack {
            let frames = stacks.frames(of: stack)
            var site: UInt64 = frames.first ?? 0
            for ip in frames {
                guard let location = symbolizer.locate(ip &- 1, stack: stack) else {
                    site = ip
                    break
                }
                let isRuntime = runtime[location.module] ?? {
                    let r = SummaryBuilder.isRuntimeLibrary(location.module)
                    runtime[location.module] = r
                    return r
                }()
                if !isRuntime {
                    site = ip
                    break
                }
            }
            siteOf[stack] = site
            bytesBySite[site, default: 0] += bytes
        }
        let ordered = bytesBySite.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        let symbols = symbolizer.symbolize(ordered.prefix(32).map { $0.key &- 1 }.filter { $0 != UInt64.max })
        var index: [UInt64: Int] = [:]
        names = []
        liveBytes = []
        for (i, entry) in ordered.enumerated() {
            index[entry.key] = i
            liveBytes.append(entry.value)
            if i < 32 {
                let frame = entry.key == 0 ? nil : symbols[entry.key &- 1]?.first
                names.append(frame.map { $0.shortDescription } ?? (entry.key == 0 ? "(no stack)" : "0x" + String(entry.key, radix: 16)))
            } else {
                names.append("0x" + String(entry.key, radix: 16))
            }
        }
        siteOfStack = siteOf.mapValues { index[$0]! }
    }
}
