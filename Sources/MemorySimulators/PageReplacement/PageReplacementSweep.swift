/// Faults for every frame count in a range, for several policies: the faults-vs-frames curve.
public struct PageReplacementSweep: Sendable, Codable, Equatable {
    /// One policy's faults at each frame count.
    public struct Curve: Sendable, Codable, Equatable {
        /// The policy.
        public var policy: ReplacementPolicy
        /// `faults[i]` is the fault count with `frameCounts[i]` frames.
        public var faults: [Int]
    }

    /// A place where one more frame gave more faults (Belady's anomaly; FIFO shows it, stack
    /// algorithms such as LRU and OPT never do).
    public struct BeladyAnomaly: Sendable, Codable, Equatable {
        /// The policy that showed it.
        public var policy: ReplacementPolicy
        /// The larger frame count.
        public var frameCount: Int
        /// Faults with `frameCount` frames.
        public var faults: Int
        /// Faults with `frameCount - 1` frames (fewer than `faults`).
        public var faultsWithOneFrameFewer: Int
    }

    /// The frame counts simulated, ascending and consecutive.
    public var frameCounts: [Int]
    /// Page references replayed at each frame count.
    public var references: Int
    /// Distinct pages referenced (the compulsory faults, the curves' floor).
    public var distinctPages: Int
    /// Seed of the random policy.
    public var seed: UInt64
    /// One curve per policy, in policy order.
    public var curves: [Curve]
    /// Every Belady anomaly found, by policy then frame count.
    public var anomalies: [BeladyAnomaly]

    /// Replays `references` with each frame count in `frames` (at least 1) under each policy.
    public static func run(
        _ references: [PageReference], frames: ClosedRange<Int>, policies: [ReplacementPolicy] = ReplacementPolicy.allCases,
        seed: UInt64 = 1
    ) -> PageReplacementSweep {
        precondition(frames.lowerBound >= 1, "at least one frame")
        let nextUse = policies.contains(.opt) ? PageReplacementSimulator.nextReferenceIndices(references) : []
        var distinct = UInt64HashSet()
        for reference in references { distinct.insert(reference.page) }
        var curves: [Curve] = []
        var anomalies: [BeladyAnomaly] = []
        for policy in policies.sorted() {
            var faults: [Int] = []
            for frameCount in frames {
                let result = PageReplacementSimulator.run(
                    references, policy: policy, frameCount: frameCount, seed: seed, nextUse: nextUse)
                if let previous = faults.last, result.faults > previous {
                    anomalies.append(BeladyAnomaly(
                        policy: policy, frameCount: frameCount, faults: result.faults, faultsWithOneFrameFewer: previous))
                }
                faults.append(result.faults)
            }
            curves.append(Curve(policy: policy, faults: faults))
        }
        return PageReplacementSweep(
            frameCounts: Array(frames), references: references.count, distinctPages: distinct.count, seed: seed,
            curves: curves, anomalies: anomalies)
    }
}
