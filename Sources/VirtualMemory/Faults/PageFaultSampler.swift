import CMemAtlasShims
import Glibc

/// One sampled page fault.
public struct PageFaultSample: Hashable, Sendable {
    /// The faulting thread.
    public var threadID: Int32
    /// The instruction that faulted.
    public var instruction: UInt64
    /// The data address whose page was missing.
    public var address: UInt64
    /// User-space call stack, leaf first: the faulting instruction, then return addresses.
    public var stack: [UInt64]
}

/// A hardware counter's result: a value, or why there is none.
public struct HardwareCounterReading: Sendable {
    /// The counter, e.g. `"cycles"`.
    public var name: String
    /// The count over the whole run (nil when unsupported).
    public var value: UInt64?
    /// Why there is no value, in words.
    public var unavailableReason: String?
}

/// Everything `faults` learns from one run of a program.
public struct PageFaultRecording: Sendable {
    /// How the program ended.
    public var exit: ProcessExit
    /// Every sampled fault (one sample a fault: sample period 1).
    public var samples: [PageFaultSample]
    /// Samples the kernel dropped because the ring buffer was full.
    public var lostSamples: UInt64
    /// Minor faults (served without I/O), from `PERF_COUNT_SW_PAGE_FAULTS_MIN`.
    public var minorFaults: UInt64?
    /// Major faults (needed I/O), from `PERF_COUNT_SW_PAGE_FAULTS_MAJ`.
    public var majorFaults: UInt64?
    /// Hardware counters (cycles, dTLB read misses), or why the machine has none.
    public var hardwareCounters: [HardwareCounterReading]
    /// The program's address space just before it exited (for symbolization), if it could be read.
    public var finalAddressSpace: AddressSpaceSnapshot?
    /// Whether the program was started at all (false when `exec` failed, e.g. not found).
    public var didExec: Bool
    /// Whether only faults taken in user mode were sampled (kernel-side counting was refused).
    public var isUserSpaceOnly: Bool
}

/// Runs a program with page-fault sampling: `perf_event_open(PERF_COUNT_SW_PAGE_FAULTS)`, sample
/// period 1, IP + TID + ADDR + CALLCHAIN, one event per CPU with `inherit` (threads and children),
/// enabled at `exec` of the child, which is held stopped until the events exist.
public enum PageFaultSampler {
    /// Ring-buffer data pages per CPU (a power of two).
    public static var ringPages = 1024

    /// Runs `program` with `arguments` to completion, sampling every page fault.
    /// - Throws: `PerfEventError.notPermitted` when perf events are not allowed.
    public static func record(program: String, arguments: [String]) throws -> PageFaultRecording {
        let child = try TracedProcess(program: program, arguments: arguments)
        let pid = child.pid

        let sampleType = mematlas_shim_perf_sample_ip | mematlas_shim_perf_sample_tid
            | mematlas_shim_perf_sample_addr | mematlas_shim_perf_sample_callchain
        let sampling = try PerCPUEvent(
            name: "page-faults",
            config: mematlas_shim_perf_config(
                type: mematlas_shim_perf_type_software, config: mematlas_shim_perf_sw_page_faults,
                sample_period: 1, sample_type: sampleType, inherit: 1, enable_on_exec: 1,
                exclude_callchain_kernel: 1, exclude_kernel: 0, exclude_hv: 1),
            pid: pid)
        var rings: [PerfRingBuffer] = []
        for fd in sampling.descriptors {
            do {
                rings.append(try PerfRingBuffer(fd: fd, dataPages: ringPages))
            } catch {
                rings.append(try PerfRingBuffer(fd: fd, dataPages: 64))
            }
        }
        func counting(_ name: String, type: UInt32, config: UInt64) -> PerCPUEvent? {
            try? PerCPUEvent(name: name, config: mematlas_shim_perf_config(
                type: type, config: config, sample_period: 0, sample_type: 0, inherit: 1,
                enable_on_exec: 1, exclude_callchain_kernel: 0, exclude_kernel: 0, exclude_hv: 1), pid: pid)
        }
        let minor = counting("minor-faults", type: mematlas_shim_perf_type_software, config: mematlas_shim_perf_sw_page_faults_min)
        let major = counting("major-faults", type: mematlas_shim_perf_type_software, config: mematlas_shim_perf_sw_page_faults_maj)
        var hardware: [(String, Result<PerCPUEvent, Error>)] = []
        for (name, type, config) in [
            ("cycles", mematlas_shim_perf_type_hardware, mematlas_shim_perf_hw_cpu_cycles),
            ("dTLB-load-misses", mematlas_shim_perf_type_hw_cache, mematlas_shim_perf_hw_cache_dtlb_read_miss),
        ] {
            hardware.append((name, Result { try PerCPUEvent(name: name, config: mematlas_shim_perf_config(
                type: type, config: config, sample_period: 0, sample_type: 0, inherit: 1,
                enable_on_exec: 1, exclude_callchain_kernel: 0, exclude_kernel: 0, exclude_hv: 1), pid: pid) }))
        }

        var samples: [PageFaultSample] = []
        var lost: UInt64 = 0
        let sampleRecord = mematlas_shim_perf_record_sample, lostRecord = mematlas_shim_perf_record_lost
        func drainAll() {
            for ring in rings {
                ring.drain { record in
                    let type = record.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
                    if type == lostRecord, record.count >= 24 {
                        lost += record.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
                    } else if type == sampleRecord, record.count >= 40 {
                        if let sample = parseSample(record) { samples.append(sample) }
                    }
                }
            }
        }
        var final: AddressSpaceSnapshot?
        let exit = try child.run(
            tickMilliseconds: 10, pollDescriptors: rings.map(\.fd),
            onTick: drainAll,
            onExitStop: { final = try? AddressSpaceReader.read(pid: pid) })
        drainAll()
        let readings = hardware.map { name, result -> HardwareCounterReading in
            switch result {
            case .success(let event):
                return HardwareCounterReading(name: name, value: try? event.total(), unavailableReason: nil)
            case .failure(let error):
                return HardwareCounterReading(name: name, value: nil, unavailableReason: "\(error)")
            }
        }
        return PageFaultRecording(
            exit: exit, samples: samples, lostSamples: lost,
            minorFaults: try? minor?.total(), majorFaults: try? major?.total(),
            hardwareCounters: readings, finalAddressSpace: final, didExec: child.didExec,
            isUserSpaceOnly: sampling.isUserSpaceOnly)
    }

    /// Parses a `PERF_RECORD_SAMPLE` laid out as IP, PID/TID, ADDR, CALLCHAIN (header included).
    static func parseSample(_ record: UnsafeRawBufferPointer) -> PageFaultSample? {
        let ip = record.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let tid = record.loadUnaligned(fromByteOffset: 20, as: Int32.self)
        let address = record.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
        let count = Int(record.loadUnaligned(fromByteOffset: 32, as: UInt64.self))
        guard 40 + count * 8 <= record.count else { return nil }
        var stack: [UInt64] = []
        var inUser = false
        let contextMarkerFloor = UInt64.max - 4095  // PERF_CONTEXT_* values
        let contextUser = UInt64.max - 511  // (u64)-512
        for index in 0..<count {
            let value = record.loadUnaligned(fromByteOffset: 40 + index * 8, as: UInt64.self)
            if value >= contextMarkerFloor {
                inUser = value == contextUser
                continue
            }
            if inUser { stack.append(value) }
        }
        if stack.isEmpty { stack = [ip] }
        return PageFaultSample(threadID: tid, instruction: ip, address: address, stack: stack)
    }
}
