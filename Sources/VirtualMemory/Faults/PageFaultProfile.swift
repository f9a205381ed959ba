/// Page faults aggregated by symbolized call stack: top functions and folded stacks.
public struct PageFaultProfile: Sendable {
    /// A function and the faults in it.
    public struct FunctionCount: Hashable, Sendable {
        /// The function name (or `module+0xoffset`).
        public var function: String
        /// Faults whose faulting instruction is in this function.
        public var selfFaults: UInt64
        /// Faults with this function anywhere on the stack.
        public var totalFaults: UInt64
    }

    /// Faults counted.
    public var totalFaults: UInt64
    /// Functions by self faults (most first, then by name).
    public var functions: [FunctionCount]
    /// Folded stacks `root;...;leaf` with counts, sorted by stack text.
    public var foldedStacks: [(stack: String, count: UInt64)]

    /// Aggregates `samples`, naming addresses with `names` (missing ones print as hex).
    public init(samples: [PageFaultSample], names: [UInt64: String]) {
        func name(_ address: UInt64) -> String { names[address] ?? "0x" + String(address, radix: 16) }
        var selfCounts: [String: UInt64] = [:]
        var totalCounts: [String: UInt64] = [:]
        var folded: [String: UInt64] = [:]
        for sample in samples {
            let frames = PageFaultProfile.symbolAddresses(of: sample).map(name)
            guard let leaf = frames.first else { continue }
            selfCounts[leaf, default: 0] += 1
            for function in Set(frames) { totalCounts[function, default: 0] += 1 }
            folded[frames.reversed().joined(separator: ";"), default: 0] += 1
        }
        totalFaults = UInt64(samples.count)
        functions = totalCounts.keys.map {
            FunctionCount(function: $0, selfFaults: selfCounts[$0] ?? 0, totalFaults: totalCounts[$0] ?? 0)
        }.sorted { ($0.selfFaults, $1.function) > ($1.selfFaults, $0.function) }
        foldedStacks = folded.map { ($0.key, $0.value) }.sorted { $0.stack < $1.stack }
    }

    /// The addresses to symbolize for a sample: the faulting instruction, then each return address
    /// minus one (so it falls inside the call instruction, not after it).
    public static func symbolAddresses(of sample: PageFaultSample) -> [UInt64] {
        sample.stack.enumerated().map { $0.offset == 0 ? $0.element : $0.element &- 1 }
    }

    /// The folded-stack text (`a;b;c N` lines), as flamegraph.pl reads it.
    public var foldedText: String {
        foldedStacks.map { "\($0.stack) \($0.count)\n" }.joined()
    }
}
