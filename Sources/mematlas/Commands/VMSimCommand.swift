import ArgumentParser

/// `mematlas vmsim`: replay an address trace through page replacement, TLB/page-table and CPU
/// cache models.
struct VMSimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vmsim",
        abstract: "Simulate page replacement, address translation (TLB + page table) and CPU caches on an address trace.",
        discussion: """
        Traces: valgrind lackey output (record one with 'mematlas vmsim record -o t.lackey -- PROGRAM'),
        Dinero din lines ('LABEL HEXADDRESS'), or a page reference string ('1,2,3,4,1,2,5').
        Or use --synthetic stride:4096:16 to see cache thrashing without a program.
        """,
        subcommands: [VMSimReplaceCommand.self, VMSimTranslateCommand.self, VMSimCacheCommand.self, VMSimRecordCommand.self]
    )
}
