import Testing
@testable import MemorySimulators

/// Belady's reference string from his 1969 paper on FIFO's anomaly.
private let beladyString = "1,2,3,4,1,2,5,1,2,3,4,5"

@Test func beladyStringTextbookFaultCounts() throws {
    let refs = try PageReference.parse(beladyString)
    #expect(refs.count == 12)
    func faults(_ policy: ReplacementPolicy, _ frames: Int) -> Int {
        PageReplacementSimulator.run(refs, policy: policy, frameCount: frames).faults
    }
    #expect(faults(.fifo, 3) == 9)
    #expect(faults(.fifo, 4) == 10)  // Belady's anomaly: one more frame, one more fault
    #expect(faults(.lru, 3) == 10)
    #expect(faults(.lru, 4) == 8)
    #expect(faults(.opt, 3) == 7)
    #expect(faults(.opt, 4) == 6)
    let fifo3 = PageReplacementSimulator.run(refs, policy: .fifo, frameCount: 3)
    #expect(fifo3.hits == 3 && fifo3.compulsoryFaults == 5 && fifo3.distinctPages == 5)
    #expect(fifo3.hitRatio == 0.25)
    #expect(fifo3.writeBacks == 0 && fifo3.swapIns == 0)
}

@Test func sweepMarksBeladyAnomalyForFIFOOnly() throws {
    let refs = try PageReference.parse(beladyString)
    let sweep = PageReplacementSweep.run(refs, frames: 1...6, policies: [.fifo, .lru, .opt])
    #expect(sweep.curves.map(\.policy) == [.fifo, .lru, .opt])
    #expect(sweep.curves[0].faults == [12, 12, 9, 10, 5, 5])
    #expect(sweep.curves[2].faults == [12, 9, 7, 6, 5, 5])
    #expect(sweep.anomalies == [.init(policy: .fifo, frameCount: 4, faults: 10, faultsWithOneFrameFewer: 9)])
}

@Test func dirtyPagesAreWrittenBackAndSwappedIn() throws {
    // One frame: 1w is evicted dirty by 2 (write-back), 1 comes back from swap (swap-in), and is
    // evicted clean by 2 (no write-back); 2 was never written, so its refault is not a swap-in.
    let refs = try PageReference.parse("1w 2 1 2")
    let result = PageReplacementSimulator.run(refs, policy: .lru, frameCount: 1)
    #expect(result.faults == 4 && result.compulsoryFaults == 2)
    #expect(result.writeBacks == 1 && result.swapIns == 1)
}

@Test func clockGivesSecondChances() throws {
    // 3 frames hold 1,2,3. 4 sweeps the hand round, clearing every bit, and evicts 1. Referencing
    // 2 sets its bit again, so 5 skips 2 (second chance) and evicts 3; 2 then hits. FIFO evicts 2.
    let refs = try PageReference.parse("1,2,3,4,2,5,2")
    #expect(PageReplacementSimulator.run(refs, policy: .clock, frameCount: 3).faults == 5)
    #expect(PageReplacementSimulator.run(refs, policy: .fifo, frameCount: 3).faults == 6)
}

@Test(arguments: ReplacementPolicy.allCases)
func policiesMatchReferenceModelOnRandomTraces(policy: ReplacementPolicy) {
    var rng = SplitMix64(seed: 42)
    for trial in 0..<12 {
        let pages = 2 + rng.next(below: 12)
        let refs = (0..<300).map { _ in PageReference(page: rng.next(below: pages), isWrite: rng.next(below: 3) == 0) }
        for frames in 1...6 {
            let seed = UInt64(trial * 10 + frames)
            let result = PageReplacementSimulator.run(refs, policy: policy, frameCount: frames, seed: seed)
            let expected = ReferencePageReplacement.run(refs, policy: policy, frames: frames, seed: seed)
            let actual = ReferencePageReplacement.Counts(
                faults: result.faults, compulsory: result.compulsoryFaults, swapIns: result.swapIns,
                writeBacks: result.writeBacks)
            #expect(actual == expected, "policy \(policy) trial \(trial) frames \(frames)")
        }
    }
}

@Test func stackPoliciesNeverShowBeladyAnomaly() {
    var rng = SplitMix64(seed: 7)
    let refs = (0..<400).map { _ in PageReference(page: rng.next(below: 10)) }
    let sweep = PageReplacementSweep.run(refs, frames: 1...10, policies: [.lru, .opt])
    #expect(sweep.anomalies.isEmpty)
    // OPT is optimal: never more faults than any other policy.
    let all = PageReplacementSweep.run(refs, frames: 1...10)
    let opt = all.curves.first { $0.policy == .opt }!.faults
    for curve in all.curves {
        for index in opt.indices { #expect(opt[index] <= curve.faults[index]) }
    }
    #expect(all.curves.allSatisfy { $0.faults.last! == all.distinctPages })
}

@Test func randomPolicyIsReproducibleForASeed() {
    var rng = SplitMix64(seed: 3)
    let refs = (0..<500).map { _ in PageReference(page: rng.next(below: 20)) }
    let first = PageReplacementSimulator.run(refs, policy: .random, frameCount: 5, seed: 9)
    let second = PageReplacementSimulator.run(refs, policy: .random, frameCount: 5, seed: 9)
    #expect(first == second)
}
