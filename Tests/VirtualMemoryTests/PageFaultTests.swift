import Foundation
import Testing
import TestSupport
@testable import VirtualMemory

/// Page-fault sampling with perf_event_open on Examples/c/vm_fault_pages.c.
@Suite struct PageFaultTests {
    @Test func faultsAreAttributedToTheTouchingFunction() throws {
        let program = try buildExample("vm_fault_pages")
        let recording: PageFaultRecording
        do {
            recording = try PageFaultSampler.record(program: program, arguments: ["8192"])
        } catch let error as PerfEventError {
            if case .notPermitted = error { return }  // perf events not allowed for this user: nothing to test
            throw error
        }
        #expect(recording.exit == .exited(0))
        #expect(recording.didExec)
        #expect(recording.lostSamples == 0)
        #expect(recording.samples.count >= 8192)
        #expect(recording.minorFaults.map { $0 >= 8192 } == true)
        let snapshot = try #require(recording.finalAddressSpace)
        let addresses = recording.samples.flatMap(PageFaultProfile.symbolAddresses(of:))
        let names = ProcessSymbolizer(modules: ExecutableMappings(snapshot)).functionNames(for: addresses)
        let profile = PageFaultProfile(samples: recording.samples, names: names)
        let top = try #require(profile.functions.first)
        #expect(top.function == "touch_pages")
        let share = Double(top.selfFaults) / Double(profile.totalFaults)
        #expect(share >= 0.95, "touch_pages has \(share * 100)% of the faults")
        print("faults: \(top.selfFaults) of \(profile.totalFaults) (\(share * 100)%) in touch_pages")
        #expect(profile.foldedText.contains(";touch_pages "))
        // This VM has no hardware counters; either way each counter has a value or a reason.
        for counter in recording.hardwareCounters {
            #expect((counter.value != nil) != (counter.unavailableReason != nil))
        }
    }

    @Test func missingProgramExitsWith127() throws {
        let recording = try PageFaultSampler.record(program: "/nonexistent/program", arguments: [])
        #expect(recording.exit == .exited(127))
        #expect(!recording.didExec)
        #expect(recording.finalAddressSpace == nil)
    }
}
