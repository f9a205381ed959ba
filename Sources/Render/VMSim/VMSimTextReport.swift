import MemorySimulators

/// Plain-text reports of the vmsim results: fixed number formats, one table per model.
public enum VMSimTextReport {
    /// A table of page replacement results (one row per policy, same frame count).
    /// - Parameter pageSize: bytes per page, shown in the heading.
    public static func pageReplacement(_ results: [PageReplacementResult], pageSize: UInt64) -> String {
        guard let first = results.first else { return "No page references.\n" }
        var text = "Page replacement: \(first.references) references, \(first.distinctPages) distinct pages"
            + " of \(VMSimFormatting.bytes(pageSize)), \(first.frameCount) frames\n\n"
        var rows = [["policy", "faults", "hits", "hit ratio", "compulsory", "swap-ins", "write-backs"]]
        for result in results {
            rows.append([result.policy.displayName, "\(result.faults)", "\(result.hits)",
                         VMSimFormatting.fixed(result.hitRatio, 4), "\(result.compulsoryFaults)",
                         "\(result.swapIns)", "\(result.writeBacks)"])
        }
        text += VMSimFormatting.table(rows)
        if results.contains(where: { $0.policy == .random }) { text += "\nRandom policy seed: \(first.seed)\n" }
        return text
    }

    /// A table of faults by frame count (rows) and policy (columns), then the Belady anomalies.
    public static func sweep(_ sweep: PageReplacementSweep, pageSize: UInt64) -> String {
        var text = "Page faults by frame count: \(sweep.references) references, \(sweep.distinctPages) distinct pages"
            + " of \(VMSimFormatting.bytes(pageSize))\n\n"
        var rows = [["frames"] + sweep.curves.map(\.policy.displayName)]
        for (index, frames) in sweep.frameCounts.enumerated() {
            rows.append(["\(frames)"] + sweep.curves.map { curve in
                let marked = sweep.anomalies.contains { $0.policy == curve.policy && $0.frameCount == frames }
                return "\(curve.faults[index])" + (marked ? "*" : "")
            })
        }
        text += VMSimFormatting.table(rows)
        if sweep.anomalies.isEmpty {
            text += "\nNo Belady anomaly: no policy faulted more with more frames.\n"
        } else {
            text += "\n* Belady's anomaly (more frames, more faults):\n"
            for anomaly in sweep.anomalies {
                text += "  \(anomaly.policy.displayName): \(anomaly.faults) faults with \(anomaly.frameCount) frames,"
                    + " \(anomaly.faultsWithOneFrameFewer) with \(anomaly.frameCount - 1)\n"
            }
        }
        return text
    }

    /// The TLB and page-table counts, with the latencies the cycle estimate assumes.
    public static func translation(_ result: TranslationResult) -> String {
        let configuration = result.configuration
        let levels = result.tablePagesByLevel
        var text = "Address translation: x86-64 4-level page table, \(configuration.pageSize.displayName) pages\n"
        text += "TLB: \(configuration.tlbEntries) entries, \(configuration.tlbWays)-way (\(configuration.tlbSets) sets), LRU\n"
        text += "Latencies: TLB lookup \(VMSimFormatting.fixed(configuration.tlbHitCycles, 1)) cycles,"
            + " page-walk memory reference \(VMSimFormatting.fixed(configuration.walkReferenceCycles, 1)) cycles"
            + " x \(configuration.pageSize.walkLevels) levels\n\n"
        var rows = [["measure", "value"]]
        rows.append(["accesses", "\(result.accesses)"])
        if result.skippedInstructionFetches > 0 {
            rows.append(["instruction fetches skipped", "\(result.skippedInstructionFetches)"])
        }
        rows.append(["translations", "\(result.translations)"])
        rows.append(["TLB hits", "\(result.tlbHits)"])
        rows.append(["TLB misses (page walks)", "\(result.tlbMisses)"])
        rows.append(["TLB hit ratio", VMSimFormatting.fixed(result.tlbHitRatio, 4)])
        rows.append(["walks per access", VMSimFormatting.fixed(result.walksPerAccess, 4)])
        rows.append(["walk memory references", "\(result.walkMemoryReferences)"])
        rows.append(["pages mapped", "\(result.mappedPages) (\(VMSimFormatting.bytes(result.mappedBytes)))"])
        rows.append(["page-table pages (PML4/PDPT/PD/PT)",
                     "\(result.tablePages) (\(levels.map(String.init).joined(separator: "/")))"])
        rows.append(["page-table memory", VMSimFormatting.bytes(result.tableBytes)])
        rows.append(["estimated cycles per access", VMSimFormatting.fixed(result.cyclesPerAccess, 2)])
        return text + VMSimFormatting.table(rows)
    }

    /// One row per cache level, then what reached memory.
    public static func cache(_ result: CacheSimulationResult) -> String {
        var text = "CPU cache: write-back, write-allocate, LRU, non-inclusive; \(result.accesses) accesses"
        if result.lineSplits > 0 { text += " (\(result.lineSplits) split across two lines)" }
        if result.skippedInstructionFetches > 0 { text += ", \(result.skippedInstructionFetches) instruction fetches skipped" }
        text += "\n\n"
        var rows = [["level", "size", "ways", "line", "sets", "accesses", "hits", "misses", "hit ratio",
                     "evictions", "write-backs"]]
        for level in result.levels {
            let configuration = level.configuration
            rows.append([configuration.name, VMSimFormatting.bytes(UInt64(configuration.sizeBytes)), "\(configuration.ways)",
                         "\(configuration.lineSize) B", "\(level.setCount)", "\(level.accesses)", "\(level.hits)",
                         "\(level.misses)", VMSimFormatting.fixed(level.hitRatio, 4), "\(level.evictions)", "\(level.writeBacks)"])
        }
        text += VMSimFormatting.table(rows)
        text += "\nMemory: \(result.memoryLineReads) line reads, \(result.memoryLineWrites) line writes\n"
        for level in result.levels {
            let busiest = hottestSets(level.setMisses, count: 4)
            let total = level.setMisses.reduce(0, +)
            guard total > 0 else { continue }
            let share = Double(busiest.reduce(0) { $0 + level.setMisses[$1] }) / Double(total)
            text += "\(level.configuration.name) misses: \(VMSimFormatting.percent(share)) in sets "
                + busiest.map(String.init).joined(separator: ", ")
                + " (of \(level.setCount); a few hot sets with many misses means conflict thrashing)\n"
        }
        return text
    }

    /// The indices of the `count` sets with the most misses (ties: lower set first), sorted by set.
    static func hottestSets(_ misses: [UInt64], count: Int) -> [Int] {
        Array(misses.indices.filter { misses[$0] > 0 }.sorted { (misses[$0], -$0) > (misses[$1], -$1) }.prefix(count)).sorted()
    }
}
