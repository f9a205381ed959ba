import ArgumentParser
import MemorySimulators
import Render

/// `mematlas vmsim translate`: a TLB in front of an x86-64 4-level page table.
struct VMSimTranslateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "translate",
        abstract: "Address translation: TLB hit ratio, page walks, page-table pages and their memory, estimated cycles per access.",
        discussion: "-o tlb.svg draws TLB misses per set as a heat map."
    )

    @OptionGroup var input: VMSimTraceOptions
    @OptionGroup var outputOptions: VMSimOutputOptions

    @Option(help: "Page size: 4k or 2m (2 MiB pages end the walk at the page directory).")
    var pageSize: PageSize = .size4KiB

    @Option(help: "TLB entries.")
    var tlbEntries: Int = 64

    @Option(help: "TLB associativity (entries per set); entries / ways sets, a power of two.")
    var tlbWays: Int = 4

    @Option(help: "Cycles of a TLB lookup.")
    var tlbCycles: Double = 1

    @Option(help: "Cycles of each page-walk memory reference (4 per walk with 4k pages, 3 with 2m).")
    var walkCycles: Double = 25


    func validate() throws {
        try configuration.validate()
    }

    var configuration: TranslationConfiguration {
        TranslationConfiguration(pageSize: pageSize, tlbEntries: tlbEntries, tlbWays: tlbWays,
                                 tlbHitCycles: tlbCycles, walkReferenceCycles: walkCycles)
    }

    func run() throws {
        var simulator = try AddressTranslationSimulator(configuration: configuration, dataOnly: input.dataOnly)
        let source = try input.source()
        try outputOptions.timed(accesses: { simulator.result.accesses }) { try simulator.run(source) }
        let result = simulator.result
        try outputOptions.printResult(text: VMSimTextReport.translation(result), value: result)
        try outputOptions.writeSVG(SetHeatMapSVG.render([SetHeatMapPanel.panel(for: result)]))
    }
}
