import ArgumentParser
import MemorySimulators
import Render

/// `mematlas vmsim cache`: a chain of set-associative LRU write-back caches.
struct VMSimCacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "CPU caches (L1, L2, ...): hits, misses, evictions and write-backs per level; per-set heat map with -o.",
        discussion: """
        Each level is SIZE:WAYS:LINE (e.g. 32k:8:64), write-back, write-allocate, LRU.
        See thrashing: --synthetic stride:4096:16 (16 lines in one L1 set of 8 ways) vs --synthetic stride:64:16.
        """
    )

    @OptionGroup var input: VMSimTraceOptions
    @OptionGroup var outputOptions: VMSimOutputOptions

    @Option(help: "L1 geometry SIZE:WAYS:LINE.")
    var l1: String = "32k:8:64"

    @Option(help: "L2 geometry SIZE:WAYS:LINE, or 'none'.")
    var l2: String = "256k:4:64"

    @Option(help: "An L3 geometry SIZE:WAYS:LINE (default: none).")
    var l3: String?


    func validate() throws {
        _ = try levels()
    }

    func levels() throws -> [CacheLevelConfiguration] {
        var levels = [try CacheLevelConfiguration(name: "L1", specification: l1)]
        if l2 != "none" { levels.append(try CacheLevelConfiguration(name: "L2", specification: l2)) }
        if let l3 { levels.append(try CacheLevelConfiguration(name: "L\(levels.count + 1)", specification: l3)) }
        return levels
    }

    func run() throws {
        var simulator = try CacheHierarchySimulator(levels: levels(), dataOnly: input.dataOnly)
        let source = try input.source()
        try outputOptions.timed(accesses: { simulator.result.accesses }) { try simulator.run(source) }
        let result = simulator.result
        try outputOptions.printResult(text: VMSimTextReport.cache(result), value: result)
        try outputOptions.writeSVG(SetHeatMapSVG.render(SetHeatMapPanel.panels(for: result)))
    }
}
