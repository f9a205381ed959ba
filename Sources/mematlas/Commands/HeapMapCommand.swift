import Analysis
import ArgumentParser
import Foundation
import Render
import TraceIO
import TraceModel

/// `--colour` of `heapmap`.
enum HeapMapColourScheme: String, CaseIterable, ExpressibleByArgument {
    case site, size
}

/// A bad option value or an unusable trace for `heapmap`, reported on one line.
struct HeapMapInputError: Error, CustomStringConvertible {
    var description: String
}

/// `mematlas heapmap`: the heap map of a trace at one moment (or over the run), with its
/// fragmentation figures and the RSS breakdown.
struct HeapMapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heapmap",
        abstract: "Draw the heap map of a trace (SVG) and print fragmentation figures and the RSS breakdown.",
        discussion: """
        Regions are inferred from block addresses: the brk heap, glibc's 64 MiB arena heaps, and \
        blocks malloc served with their own mmap; gaps over 1 MiB are cut. Blocks are drawn at their \
        glibc chunk size (header and rounding included). Free-but-resident heap comes from the \
        trace's page-residency snapshots; without them it is reported as not measured.
        """
    )

    @Argument(help: "A trace written by `mematlas record`.")
    var trace: String

    @Option(help: "The moment: peak (largest live heap), end, or seconds since the start.")
    var at: String = "peak"

    @Option(name: .shortAndLong, help: "The SVG to write (frames: NAME-000.svg, NAME-001.svg, ...).")
    var output: String = "heapmap.svg"

    @Option(help: "Colour used blocks by call site (default) or by size class.")
    var colour: HeapMapColourScheme?

    @Flag(help: "Write one SVG that plays the heap map over the run (--frames frames, default 20).")
    var animate = false

    @Option(help: "Write a series of N heap maps evenly spaced over the run (NAME-000.svg ...).")
    var frames: Int?

    @Option(help: ArgumentHelp(
        "Draw only the blocks in an address window, START:LENGTH (hex or decimal; 'largest' for the largest region's start), e.g. largest:64KiB.",
        valueName: "start:length"))
    var window: String?

    @Flag(help: "Print the figures and the RSS breakdown as JSON instead of text.")
    var json = false

    @Flag(help: "Print how long the replay, the layout and the picture took (stderr).")
    var timings = false


    func moment() throws -> HeapMoment {
        switch at {
        case "peak": return .peak
        case "end": return .end
        default:
            guard let seconds = Double(at), seconds >= 0, seconds.isFinite else {
                throw HeapMapInputError(description: "--at: expected peak, end or a number of seconds, got \(at)")
            }
            return .time(ns: UInt64(seconds * 1e9))
        }
    }

    /// The `--window` as (start, length), with `largest` resolved against `map`.
    func windowRange(in map: HeapMap) throws -> (UInt64, UInt64)? {
        guard let window else { return nil }
        let parts = window.split(separator: ":", maxSplits: 1).map(String.init)
        func number(_ text: String) -> UInt64? {
            let t = text.lowercased()
            if t.hasPrefix("0x") { return UInt64(t.dropFirst(2), radix: 16) }
            for (suffix, scale) in [("kib", UInt64(1) << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("k", 1 << 10), ("m", 1 << 20)] where t.hasSuffix(suffix) {
                return UInt64(t.dropLast(suffix.count)).map { $0 * scale }
            }
            return UInt64(t)
        }
        guard parts.count == 2, let length = number(parts[1]), length > 0 else {
            throw HeapMapInputError(description: "--window: expected START:LENGTH (e.g. 0x55d0a000:64KiB or largest:1MiB), got \(window)")
        }
        if parts[0] == "largest" {
            guard let region = map.regions.max(by: { $0.bytes < $1.bytes }) else { return (0, length) }
            return (region.start, length)
        }
        guard let start = number(parts[0]) else {
            throw HeapMapInputError(description: "--window: \(parts[0]) is not an address")
        }
        return (start, length)
    }

    func run() throws {
        if let frames, frames < 1 || frames > 1000 { throw HeapMapInputError(description: "--frames must be between 1 and 1000, got \(frames)") }
        let requested = try moment()
        if window != nil { _ = try windowRange(in: HeapMap.build(blocks: [])) }
        guard FileManager.default.fileExists(atPath: trace) else { throw HeapMapInputError(description: "\(trace): no such file") }
        let reader = try TraceReader(path: trace)
        if animate || frames != nil {
            try runFrames(reader: reader, count: frames ?? 20)
            return
        }
        var figures = ""
        var shown: HeapMap?
        var drawnMap: HeapMap?
        var drawnColouring = HeapMapColouring.bySize
        var drawnTitle = "", drawnSubtitle = ""
        let started = Date()
        var pictureSeconds = 0.0
        var layoutBlocks: UInt64 = 0
        let run = try HeapMapAnalysis.run(reader: reader, moments: [requested]) { _, map in
            let pictureStarted = Date()
            defer { pictureSeconds = Date().timeIntervalSince(pictureStarted) }
            layoutBlocks = map.overall.blocks
            var title = "Heap map of " + ((reader.process?.executable).map { ($0 as NSString).lastPathComponent } ?? trace)
            var drawn = map
            if let (start, length) = try windowRange(in: map) {
                drawn = map.window(start: start, length: length)
                title += ", window 0x\(String(start, radix: 16)) + \(Format.bytes(length))"
            }
            drawnMap = drawn
            drawnColouring = colouring(for: drawn, reader: reader)
            drawnTitle = title
            drawnSubtitle = ("--at \(at): \(Format.seconds(Double(map.timeNs) / 1e9)), \(Format.bytes(map.overall.liveBytes)) live in \(Format.count(map.overall.blocks)) blocks, "
                    + "\(Format.count(map.overall.holes)) holes, RSS \(Format.bytes(map.residentBytes))")
            figures = HeapMapText.figures(map)
            if json { shown = map }
        }
        let pictureStarted = Date()
        let picture = drawnMap.map {
            HeapMapPicture.svg($0, colouring: drawnColouring, title: drawnTitle, subtitle: drawnSubtitle, breakdowns: chartBreakdowns(run))
        }
        pictureSeconds += Date().timeIntervalSince(pictureStarted)
        try write(picture ?? "", to: output)
        if timings {
            let total = Date().timeIntervalSince(started)
            FileHandle.standardError.write(Data("heapmap timings: total \(Format.seconds(total)), layout of \(Format.count(layoutBlocks)) blocks \(Format.seconds(run.layoutSeconds)), picture (call sites, SVG) \(Format.seconds(pictureSeconds)), \(run.breakdowns.count) RSS breakdowns \(Format.seconds(run.breakdownSeconds)), two replays \(Format.seconds(total - pictureSeconds - run.layoutSeconds - run.breakdownSeconds))\n".utf8))
        }
        if json, let shown {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(HeapMapReport(map: shown, run: run)), as: UTF8.self))
            return
        }
        if case .time(let ns) = requested, ns > run.durationNs {
            print("note: --at \(at) is past the trace's last sample (\(Format.seconds(Double(run.durationNs) / 1e9))): the map shows the end")
        }
        print("Peak live heap \(Format.bytes(run.peakBytes)) at \(Format.seconds(Double(run.peakTimeNs) / 1e9)); \(Format.count(run.events)) events; \(run.residencySnapshots) residency snapshots")
        print(figures)
        print(HeapMapText.breakdown(run), terminator: "")
        print("wrote \(output)")
    }

    /// The measured breakdowns, or without residency snapshots the unmeasured ones of up to 120 ticks.
    private func chartBreakdowns(_ run: HeapMapRun) -> [RSSBreakdown] {
        if !run.breakdowns.isEmpty || run.samples.isEmpty { return run.breakdowns }
        let count = min(run.samples.count, HeapMapAnalysis.maximumBreakdowns)
        return (0..<count).map { i in
            let s = run.samples[count == 1 ? 0 : i * (run.samples.count - 1) / (count - 1)]
            return RSSBreakdown.unmeasured(timeNs: s.timeNs, residentBytes: s.residentBytes, liveBytes: s.liveBytes, chunkBytes: s.chunkBytes)
        }
    }

    private func colouring(for map: HeapMap, reader: TraceReader) -> HeapMapColouring {
        switch colour ?? .site {
        case .size: return .bySize
        case .site:
            let sites = HeapMapCallSites(map: map, stacks: reader.stacks, symbolizer: Symbolizer(moduleMaps: reader.moduleMaps))
            return .byCallSite(siteOfStack: sites.siteOfStack, siteNames: sites.names)
        }
    }

    private func runFrames(reader: TraceReader, count: Int) throws {
        let moments: [HeapMoment] = (0..<count).map { count == 1 ? .end : .fractionOfRun(Double($0 + 1) / Double(count)) }
        // First replay: the scale every frame needs (all frames share the largest), and the live
        // bytes per stack over all frames (one colour per call site throughout).
        var perRow: UInt64 = 256
        var bytesByStack: [StackID: UInt64] = [:]
        _ = try HeapMapAnalysis.run(reader: reader, moments: moments) { _, map in
            perRow = max(perRow, HeapMapPicture.bytesPerRow(for: map))
            if colour != .size { for b in map.blocks { bytesByStack[b.stack, default: 0] += b.payload } }
        }
        let colouring: HeapMapColouring
        if colour == .size {
            colouring = .bySize
        } else {
            let sites = HeapMapCallSites(bytesByStack: bytesByStack, stacks: reader.stacks, symbolizer: Symbolizer(moduleMaps: reader.moduleMaps))
            colouring = .byCallSite(siteOfStack: sites.siteOfStack, siteNames: sites.names)
        }
        let name = ((reader.process?.executable).map { ($0 as NSString).lastPathComponent } ?? trace) + " (" + (trace as NSString).lastPathComponent + ")"
        let base = output.hasSuffix(".svg") ? String(output.dropLast(4)) : output
        var animation: [(map: HeapMap, caption: String)] = []
        let run = try HeapMapAnalysis.run(reader: reader, moments: moments) { index, map in
            let caption = "frame \(index + 1)/\(count): \(Format.seconds(Double(map.timeNs) / 1e9)), \(Format.bytes(map.overall.liveBytes)) live, "
                + "\(Format.count(map.overall.holes)) holes, \(Format.bytes(map.overall.freeBytes)) free, RSS \(Format.bytes(map.residentBytes))"
            if animate {
                animation.append((map, caption))
            } else {
                let path = base + "-" + String(format: "%03d", index) + ".svg"
                try write(HeapMapPicture.svg(map, colouring: colouring, title: "Heap map of \(name)", subtitle: caption, bytesPerRow: perRow), to: path)
            }
            print(caption)
        }
        if animate {
            try write(HeapMapPicture.animatedSVG(animation, colouring: colouring, title: "Heap map of \(name) over the run"), to: output)
            print("wrote \(output)")
        } else {
            print("wrote \(base)-000.svg ... \(base)-\(String(format: "%03d", count - 1)).svg")
        }
        print(HeapMapText.breakdown(run), terminator: "")
    }

    private func write(_ text: String, to path: String) throws {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw HeapMapInputError(description: "\(path): cannot write (\(error.localizedDescription))")
        }
    }
}
