import ArgumentParser
import Foundation
import VirtualMemory

/// `mematlas faults -- PROGRAM`: page faults by call stack (where resident memory grows).
struct FaultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faults",
        abstract: "Run a program and attribute its page faults to functions and call stacks.",
        discussion: """
        Samples every page fault with perf_event_open (PERF_COUNT_SW_PAGE_FAULTS, period 1, one event per \
        CPU, inherited by threads), counts minor and major faults, and reports hardware counters (cycles, \
        dTLB misses) where the machine has them. Addresses are named with llvm-symbolizer.
        """)

    @Option(help: "Write folded stacks (`a;b;c N`, for flamegraph.pl) to this file.")
    var folded: String?

    @Option(help: "How many functions to list.")
    var top = 15

    @Argument(parsing: .postTerminator, help: "The program to run, with its arguments.")
    var program: [String] = []

    func validate() throws {
        if program.isEmpty { throw ValidationError("give a program after `--`") }
    }

    func run() throws {
        let recording = try PageFaultSampler.record(program: program[0], arguments: Array(program.dropFirst()))
        if !recording.didExec {
            throw VirtualMemoryCommandFailure(description: "could not run \(program[0]): not found or not executable (\(recording.exit))")
        }
        let modules = recording.finalAddressSpace.map(ExecutableMappings.init) ?? ExecutableMappings(mappings: [])
        let addresses = recording.samples.flatMap(PageFaultProfile.symbolAddresses(of:))
        let names = ProcessSymbolizer(modules: modules).functionNames(for: addresses)
        let profile = PageFaultProfile(samples: recording.samples, names: names)
        print("\(program[0]) \(recording.exit)")
        if recording.isUserSpaceOnly {
            print("note: kernel.perf_event_paranoid allows user-space counting only: faults taken inside system calls are not sampled")
        }
        print("page faults sampled: \(recording.samples.count)" + (recording.lostSamples > 0 ? " (\(recording.lostSamples) lost: ring buffer full)" : ""))
        print("minor faults: \(recording.minorFaults.map(String.init) ?? "unavailable"), major faults: \(recording.majorFaults.map(String.init) ?? "unavailable")")
        for counter in recording.hardwareCounters {
            if let value = counter.value {
                print("\(counter.name): \(value)")
            } else {
                print("\(counter.name): not available — \(counter.unavailableReason ?? "unknown reason")")
            }
        }
        print("\nTop functions by page faults (self = faulting instruction in the function):")
        print(VMReport.pad("self", 8) + " " + VMReport.pad("self%", 6) + " " + VMReport.pad("total", 8) + "  function")
        for function in profile.functions.prefix(top) {
            let share = profile.totalFaults == 0 ? 0 : Double(function.selfFaults) * 100 / Double(profile.totalFaults)
            print(VMReport.pad(String(function.selfFaults), 8) + " " + VMReport.pad(ByteFormat.oneDecimal(share), 6) + " "
                  + VMReport.pad(String(function.totalFaults), 8) + "  " + function.function)
        }
        if recording.finalAddressSpace == nil {
            print("(the program's memory map could not be read before it exited: addresses are shown raw)")
        }
        if let folded {
            try profile.foldedText.write(toFile: folded, atomically: true, encoding: .utf8)
            print("wrote \(folded)")
        }
        if recording.exit.shellStatus != 0 { throw ExitCode(recording.exit.shellStatus) }
    }
}
