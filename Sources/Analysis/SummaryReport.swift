import Foundation
import TraceIO
import TraceModel

/// One call site: the first frame of a stack outside the C/C++ runtime (libc, libstdc++), with
/// the figures of every stack through it.
public struct CallSite: Codable, Sendable {
    /// The site's source frames (several when the call was inlined).
    public var location: [SymbolizedFrame]
    /// Successful allocations.
    public var allocations: UInt64
    /// Bytes requested.
    public var allocatedBytes: UInt64
    /// Temporary allocations.
    public var temporary: UInt64
    /// Bytes live at the global peak.
    public var peakBytes: UInt64
    /// Blocks live at the global peak.
    public var peakBlocks: UInt64
    /// Bytes live at exit.
    public var leakedBytes: UInt64
    /// Blocks live at exit.
    public var leakedBlocks: UInt64
    /// The heaviest full stack through this site for the ranking's figure, innermost first.
    public var stack: [SymbolizedFrame]
}

/// Everything `mematlas summary` prints, as a value (the `--json` output).
public struct SummaryReport: Codable, Sendable {
    /// The trace file.
    public var trace: String
    /// The traced executable.
    public var executable: String
    /// Its command line.
    public var arguments: [String]
    /// Its pid.
    public var pid: UInt32
    /// From start to the last tick or exit, in seconds.
    public var durationSeconds: Double
    /// False when the trace ends without an exit record.
    public var complete: Bool
    /// Why the trace is incomplete, when it is.
    public var truncation: String?
    /// How the process ended (`exit`, `_exit`, `abort`, `exec`, `unknown`).
    public var end: String
    /// The unwinder used (`libunwind`, `fp`, `none`).
    public var unwinder: String
    /// True when the program's own malloc answered its heap calls (they were not seen).
    public var programHasOwnMalloc: Bool
    /// Calls per function name (every function listed, zero included).
    public var calls: [String: UInt64]
    /// Failed calls per function name (only those with failures).
    public var failedCalls: [String: UInt64]
    /// Successful heap allocations.
    public var allocations: UInt64
    /// Bytes requested by them.
    public var allocatedBytes: UInt64
    /// Allocations freed before their thread allocated again.
    public var temporaryAllocations: UInt64
    /// Peak live heap, in bytes (requested sizes).
    public var peakHeapBytes: UInt64
    /// Live blocks at the peak.
    public var peakHeapBlocks: UInt64
    /// When the peak was reached, in seconds since start.
    public var peakHeapTimeSeconds: Double
    /// Bytes live at exit.
    public var leakedBytes: UInt64
    /// Blocks live at exit.
    public var leakedBlocks: UInt64
    /// Frees of blocks the trace never saw allocated.
    public var unmatchedFrees: UInt64
    /// Highest sampled resident set size, in bytes.
    public var peakResidentBytes: UInt64
    /// When it was sampled, in seconds since start.
    public var peakResidentTimeSeconds: Double
    /// Peak bytes of the program's own anonymous mappings.
    public var peakMappedBytes: UInt64
    /// Anonymous mapping bytes left mapped at exit.
    public var mappedBytesAtExit: UInt64
    /// Allocator events in the trace.
    public var events: UInt64
    /// Threads that called the allocator.
    public var threads: Int
    /// Call sites with the most allocations.
    public var topByAllocations: [CallSite]
    /// Call sites with the most bytes live at the peak.
    public var topByPeak: [CallSite]
    /// Call sites with the most bytes leaked at exit.
    public var topByLeaks: [CallSite]
    /// Every process of the recording, when `mematlas run` recorded more than one (absent otherwise).
    public var processes: [ProcessOverview]? = nil
}

/// Builds a `SummaryReport` from a finished analysis: groups stacks into call sites and
/// symbolizes only what the report shows.
public struct SummaryBuilder {
    /// Sites listed per ranking.
    public var top: Int
    /// Frames shown per stack.
    public var stackDepth: Int

    /// Creates a builder.
    public init(top: Int = 10, stackDepth: Int = 8) {
        self.top = top
        self.stackDepth = stackDepth
    }

    /// Libraries whose frames are the allocator's plumbing (C, C++ and Swift runtimes), not the
    /// caller's intent: a call site is the first frame outside them.
    static func isRuntimeLibrary(_ path: String) -> Bool {
        let name = (path as NSString).lastPathComponent
        return name.hasPrefix("libc.so") || name.hasPrefix("libstdc++.so") || name.hasPrefix("libc++.so")
            || name.hasPrefix("libc++abi.so") || name.hasPrefix("ld-linux") || name.hasPrefix("libgcc_s.so")
            || name.hasPrefix("libswiftCore.so")
    }

    /// Builds the report.
    public func build(reader: TraceReader, profile: HeapProfile, symbolizer: Symbolizer) -> SummaryReport {
        struct Aggregate {
            var stats = StackStatistics()
            var heaviest: [StackID] = [.none, .none, .none]  // by allocations, peak, leaks
            var heaviestValue: [UInt64] = [0, 0, 0]
        }
        var runtimeModule: [String: Bool] = [:]
        var sites: [UInt64: Aggregate] = [:]
        for (index, s) in profile.stacks.enumerated() where s.allocations > 0 || s.peakBytes > 0 || s.leakedBytes > 0 {
            let id = StackID(UInt32(index))
            let frames = reader.stacks.frames(of: id)
            var site: UInt64 = frames.first ?? 0
            for ip in frames {
                guard let location = symbolizer.locate(ip &- 1, stack: id) else {
                    site = ip
                    break
                }
                let runtime = runtimeModule[location.module] ?? {
                    let r = Self.isRuntimeLibrary(location.module)
                    runtimeModule[location.module] = r
                    return r
                }()
                if !runtime {
                    site = ip
                    break
                }
            }
            // Wrapping sums, as in HeapAnalysis: a corrupt trace's sizes (near 2^64) must not trap.
            var aggregate = sites[site] ?? Aggregate()
            aggregate.stats.allocations &+= s.allocations
            aggregate.stats.allocatedBytes &+= s.allocatedBytes
            aggregate.stats.temporary &+= s.temporary
            aggregate.stats.peakBytes &+= s.peakBytes
            aggregate.stats.peakBlocks &+= s.peakBlocks
            aggregate.stats.leakedBytes &+= s.leakedBytes
            aggregate.stats.leakedBlocks &+= s.leakedBlocks
            for (k, value) in [s.allocations, s.peakBytes, s.leakedBytes].enumerated() where value > aggregate.heaviestValue[k] {
                aggregate.heaviestValue[k] = value
                aggregate.heaviest[k] = id
            }
            sites[site] = aggregate
        }

        func ranked(_ key: (StackStatistics) -> UInt64) -> [(UInt64, Aggregate)] {
            sites.filter { key($0.value.stats) > 0 }
                .sorted { key($0.value.stats) != key($1.value.stats) ? key($0.value.stats) > key($1.value.stats) : $0.key < $1.key }
                .prefix(top).map { ($0.key, $0.value) }
        }
        let byAllocations = ranked { $0.allocations }
        let byPeak = ranked { $0.peakBytes }
        let byLeaks = ranked { $0.leakedBytes }

        // Symbolize the sites and the frames of the stacks shown, in one batch.
        var wanted: [UInt64] = []
        func shownFrames(_ stack: StackID, from site: UInt64) -> [UInt64] {
            let frames = Array(reader.stacks.frames(of: stack))
            let start = frames.firstIndex(of: site) ?? 0
            return Array(frames[start...].prefix(stackDepth))
        }
        for (k, list) in [byAllocations, byPeak, byLeaks].enumerated() {
            for (site, aggregate) in list {
                wanted.append(site)
                wanted += shownFrames(aggregate.heaviest[k], from: site)
            }
        }
        let symbols = symbolizer.symbolize(wanted.filter { $0 != 0 })
        func frames(_ ip: UInt64) -> [SymbolizedFrame] {
            ip == 0 ? [SymbolizedFrame(function: "(no stack)", module: "")] : symbols[ip] ?? []
        }
        func callSites(_ list: [(UInt64, Aggregate)], metric k: Int) -> [CallSite] {
            list.map { site, aggregate in
                CallSite(
                    location: frames(site), allocations: aggregate.stats.allocations, allocatedBytes: aggregate.stats.allocatedBytes,
                    temporary: aggregate.stats.temporary, peakBytes: aggregate.stats.peakBytes, peakBlocks: aggregate.stats.peakBlocks,
                    leakedBytes: aggregate.stats.leakedBytes, leakedBlocks: aggregate.stats.leakedBlocks,
                    stack: shownFrames(aggregate.heaviest[k], from: site).flatMap(frames))
            }
        }

        var calls: [String: UInt64] = [:]
        var failed: [String: UInt64] = [:]
        for function in AllocationFunction.allCases {
            calls[function.name] = profile.calls[function] ?? 0
            if let f = profile.failedCalls[function] { failed[function.name] = f }
        }
        let process = reader.process
        let truncation: String?
        if case .truncated(let reason) = reader.completeness { truncation = reason } else { truncation = nil }
        return SummaryReport(
            trace: reader.path, executable: process?.executable ?? "?", arguments: process?.arguments ?? [],
            pid: process?.pid ?? UInt32(truncatingIfNeeded: reader.header.pid),
            durationSeconds: Double(reader.durationNs) / 1e9, complete: truncation == nil, truncation: truncation,
            end: reader.processEnd.rawValue, unwinder: process?.unwinder.name ?? "none",
            programHasOwnMalloc: reader.header.programHasOwnMalloc,
            calls: calls, failedCalls: failed, allocations: profile.allocations, allocatedBytes: profile.allocatedBytes,
            temporaryAllocations: profile.temporaryAllocations, peakHeapBytes: profile.peakBytes, peakHeapBlocks: profile.peakBlocks,
            peakHeapTimeSeconds: Double(profile.peakTimeNs) / 1e9, leakedBytes: profile.leakedBytes, leakedBlocks: profile.leakedBlocks,
            unmatchedFrees: profile.unmatchedFrees, peakResidentBytes: profile.peakResidentBytes,
            peakResidentTimeSeconds: Double(profile.peakResidentTimeNs) / 1e9, peakMappedBytes: profile.peakMappedBytes,
            mappedBytesAtExit: profile.mappedBytesAtEnd, events: profile.events, threads: profile.threadCalls.count,
            topByAllocations: callSites(byAllocations, metric: 0), topByPeak: callSites(byPeak, metric: 1),
            topByLeaks: callSites(byLeaks, metric: 2))
    }
}
