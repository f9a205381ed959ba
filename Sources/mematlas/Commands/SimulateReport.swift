import AllocatorLab
import Foundation
import Render

/// The comparison `mematlas simulate` prints: one row per model, then the real allocators.
struct SimulationReport: Encodable {
    var source: String
    var operations: Int
    var skippedEvents: UInt64
    var peakLiveBytes: UInt64
    var realPeakResidentBytes: UInt64?
    var heapLimitBytes: UInt64?
    var models: [ReplayResult]
    var realAllocators: [RealReplayResult]

    private struct ModelRow: Encodable {
        var allocator: String
        var peakFootprintBytes: UInt64
        var peakLiveBytes: UInt64
        var utilization: Double
        var internalFragmentationAtPeak: Double
        var externalFragmentationAtPeak: Double
        var meanInternalFragmentation: Double
        var meanExternalFragmentation: Double
        var failedRequests: Int
        var operationsPerSecond: Double
        var finalFootprintBytes: UInt64
        var footprintMinusRealPeakRSSBytes: Int64?
        var timeline: [FragmentationSample]
    }

    private struct Document: Encodable {
        var source: String
        var operations: Int
        var skippedEvents: UInt64
        var peakLiveBytes: UInt64
        var realPeakResidentBytes: UInt64?
        var heapLimitBytes: UInt64?
        var models: [ModelRow]
        var realAllocators: [RealReplayResult]
    }

    func json() -> String {
        let rows = models.map { r in
            ModelRow(
                allocator: r.allocator, peakFootprintBytes: r.peakFootprintBytes, peakLiveBytes: r.peakLiveBytes, utilization: r.utilization,
                internalFragmentationAtPeak: r.fragmentationAtPeak?.internalFragmentation ?? 0, externalFragmentationAtPeak: r.fragmentationAtPeak?.externalFragmentation ?? 0,
                meanInternalFragmentation: r.meanInternalFragmentation, meanExternalFragmentation: r.meanExternalFragmentation,
                failedRequests: r.failedRequests, operationsPerSecond: r.operationsPerSecond.rounded(), finalFootprintBytes: r.finalFootprintBytes,
                footprintMinusRealPeakRSSBytes: realPeakResidentBytes.map { Int64(r.peakFootprintBytes) - Int64($0) }, timeline: r.timeline)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let document = Document(source: source, operations: operations, skippedEvents: skippedEvents, peakLiveBytes: peakLiveBytes, realPeakResidentBytes: realPeakResidentBytes, heapLimitBytes: heapLimitBytes, models: rows, realAllocators: realAllocators)
        return String(decoding: (try? encoder.encode(document)) ?? Data(), as: UTF8.self) + "\n"
    }

    func text() -> String {
        var out = "MemAtlas allocator lab: \(source)\n"
        out += "  \(Format.count(UInt64(operations))) heap operations"
        if skippedEvents > 0 { out += " (\(Format.count(skippedEvents)) other events skipped)" }
        out += "; peak live payload \(Format.bytes(peakLiveBytes))"
        if let heapLimitBytes { out += "; heap limit \(Format.bytes(heapLimitBytes))" }
        out += "\n\n"
        func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
            s.count >= n ? s : (left ? s + String(repeating: " ", count: n - s.count) : String(repeating: " ", count: n - s.count) + s)
        }
        out += pad("allocator", 26, left: true) + pad("peak footprint", 15) + pad("utilization", 12) + pad("int. frag", 10) + pad("ext. frag", 10) + pad("failed", 8) + pad("ops/s", 13)
        if realPeakResidentBytes != nil { out += pad("vs real RSS", 13) }
        out += "\n"
        for r in models {
            let atPeak = r.fragmentationAtPeak
            out += pad(r.allocator, 26, left: true) + pad(Format.bytes(r.peakFootprintBytes), 15)
            out += pad(Format.fixed(r.utilization * 100, decimals: 1) + "%", 12)
            out += pad(Format.fixed((atPeak?.internalFragmentation ?? 0) * 100, decimals: 1) + "%", 10)
            out += pad(Format.fixed((atPeak?.externalFragmentation ?? 0) * 100, decimals: 1) + "%", 10)
            out += pad(Format.count(UInt64(r.failedRequests)), 8) + pad(Format.count(UInt64(r.operationsPerSecond.rounded())), 13)
            if let real = realPeakResidentBytes {
                let difference = Int64(r.peakFootprintBytes) - Int64(real)
                out += pad((difference < 0 ? "-" : "+") + Format.bytes(UInt64(abs(difference))), 13)
            }
            out += "\n"
        }
        out += "\nUtilization = peak live payload / peak footprint. Fragmentation at the footprint peak: internal = header and rounding\n"
        out += "share of live blocks; external = 1 - largest free block / free bytes. Footprint = bytes taken from the system.\n"
        if let real = realPeakResidentBytes {
            out += "The real run's peak RSS was \(Format.bytes(real)) (the whole process: code, stacks and libraries too, not only the heap).\n"
        }
        if !realAllocators.isEmpty {
            out += "\nReal allocators replaying the same operations (each block written in full; RSS of the replay driver):\n"
            out += pad("allocator", 26, left: true) + pad("peak RSS", 15) + pad("heap RSS", 12) + pad("failed", 8) + pad("seconds", 10) + "\n"
            for r in realAllocators {
                out += pad(r.allocator, 26, left: true) + pad(Format.bytes(r.peakResidentBytes), 15) + pad(Format.bytes(r.heapResidentBytes), 12)
                out += pad(Format.count(r.failedRequests), 8) + pad(Format.fixed(r.seconds, decimals: 3), 10) + "\n"
            }
            out += "heap RSS = peak RSS minus the driver's RSS before the first operation.\n"
        }
        return out
    }
}
