import ArgumentParser

/// The `mematlas` command-line tool: one subcommand per file under `Commands/`.
@main
struct MemAtlas: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mematlas",
        abstract: "A memory profiler and memory explorer for Linux programs.",
        subcommands: [
            // Recording and trace analysis (issue 2 onwards).
            RunCommand.self, RecordCommand.self, SummaryCommand.self, ReportCommand.self, DumpCommand.self,
            FlameGraphCommand.self, DiffCommand.self, HeapMapCommand.self,
            SimulateCommand.self,
            // Virtual memory of live processes (issue 7).
            VMCommand.self, PageCacheCommand.self, FaultsCommand.self,
            // Virtual memory simulators (issue 8).
            VMSimCommand.self,
        ]
    )
}
