#if canImport(Glibc)
import Glibc
#endif
import Analysis
import CZlib
import TraceIO
import TraceModel

/// Writes a `StackProfile` as a pprof profile (profile.proto, gzip-compressed), for pprof-based
/// tools (`go tool pprof`, speedscope, Pyroscope, ...).
///
/// Sample values, in order: `alloc_space/bytes`, `alloc_objects/count`, `inuse_space/bytes`,
/// `inuse_objects/count`, `temporary_objects/count`. "In use" means live at the global heap peak,
/// or live at exit when the kind is `leaked`. One location per distinct instruction pointer, with
/// its inlined frames as lines (innermost first); one mapping per loaded module.
public enum PprofExport {
    /// The sample types, as (type, unit).
    public static let sampleTypes: [(String, String)] = [
        ("alloc_space", "bytes"), ("alloc_objects", "count"), ("inuse_space", "bytes"), ("inuse_objects", "count"),
        ("temporary_objects", "count"),
    ]

    /// The sample type shown first by pprof tools for a kind.
    public static func defaultSampleType(for kind: FlameGraphKind) -> String {
        switch kind {
        case .allocated: "alloc_space"
        case .allocations: "alloc_objects"
        case .peak, .leaked: "inuse_space"
        case .temporary: "temporary_objects"
        }
    }

    /// The uncompressed profile.proto message.
    public static func encode(_ profile: StackProfile, kind: FlameGraphKind) -> [UInt8] {
        var strings: [String] = [""]
        var stringIDs: [String: Int] = ["": 0]
        func string(_ s: String) -> UInt64 {
            if let id = stringIDs[s] { return UInt64(id) }
            strings.append(s)
            stringIDs[s] = strings.count - 1
            return UInt64(strings.count - 1)
        }
        var out = ProtobufWriter()
        for (type, unit) in sampleTypes {
            let t = string(type), u = string(unit)
            out.message(1) { $0.uint(1, t); $0.uint(2, u) }
        }

        // Mappings: one per module, in the profile's order.
        struct MappingRange { var id: UInt64; var start: UInt64; var limit: UInt64 }
        var ranges: [MappingRange] = []
        var mappingMessages: [[UInt8]] = []
        for module in profile.modules where !module.segments.isEmpty {
            let start = module.loadBias &+ (module.segments.map(\.fileAddress).min() ?? 0)
            let limit = module.loadBias &+ (module.segments.map { $0.fileAddress &+ $0.size }.max() ?? 0)
            let id = UInt64(ranges.count + 1)
            ranges.append(MappingRange(id: id, start: start, limit: limit))
            var m = ProtobufWriter()
            m.uint(1, id)
            m.uint(2, start)
            m.uint(3, limit)
            m.uint(5, string(module.path))
            m.uint(6, string(module.buildIDHex))
            m.bool(7, true)
            m.bool(8, true)
            m.bool(9, true)
            m.bool(10, true)
            mappingMessages.append(m.bytes)
        }
        func mapping(of ip: UInt64) -> UInt64 {
            ranges.first { ip >= $0.start && ip < $0.limit }?.id ?? 0
        }

        // Functions by (name, file), locations by instruction pointer, in first-use order.
        var functionIDs: [String: UInt64] = [:]
        var functionMessages: [[UInt8]] = []
        func function(_ name: String, _ file: String) -> UInt64 {
            let key = name + "\u{0}" + file
            if let id = functionIDs[key] { return id }
            let id = UInt64(functionMessages.count + 1)
            functionIDs[key] = id
            var f = ProtobufWriter()
            f.uint(1, id)
            f.uint(2, string(name))
            f.uint(3, string(name))
            f.uint(4, string(file))
            functionMessages.append(f.bytes)
            return id
        }
        var locationIDs: [UInt64: UInt64] = [:]
        var locationMessages: [[UInt8]] = []
        func location(_ ip: UInt64) -> UInt64 {
            if let id = locationIDs[ip] { return id }
            let id = UInt64(locationMessages.count + 1)
            locationIDs[ip] = id
            var l = ProtobufWriter()
            l.uint(1, id)
            l.uint(2, ip == 0 ? 0 : mapping(of: ip))
            l.uint(3, ip)
            let frames = ip == 0 ? [SymbolizedFrame(function: "(no stack)", module: "")]
                : (profile.symbols[ip].flatMap { $0.isEmpty ? nil : $0 } ?? [SymbolizedFrame(function: "0x" + String(ip, radix: 16), module: "?")])
            for frame in frames {
                let fid = function(frame.function, frame.file ?? "")
                l.message(4) { $0.uint(1, fid); $0.int(2, Int64(frame.line ?? 0)) }
            }
            locationMessages.append(l.bytes)
            return id
        }

        let threadKey = string("thread")
        let inuseIsLeaked = kind == .leaked
        for sample in profile.samples {
            let s = sample.figures
            let inuseBytes = inuseIsLeaked ? s.leakedBytes : s.peakBytes
            let inuseBlocks = inuseIsLeaked ? s.leakedBlocks : s.peakBlocks
            let values = [s.allocatedBytes, s.allocations, inuseBytes, inuseBlocks, s.temporary]
            guard values.contains(where: { $0 != 0 }) else { continue }
            var ips = Array(profile.stacks.frames(of: sample.stack))
            if ips.isEmpty { ips = [0] }
            let locations = ips.map(location)
            out.message(2) { m in
                m.packed(1, locations)
                m.packed(2, values)
                if let thread = sample.thread {
                    m.message(3) { $0.uint(1, threadKey); $0.int(3, Int64(thread.rawValue)) }
                }
            }
        }
        for m in mappingMessages { out.bytes(3, m) }
        for l in locationMessages { out.bytes(4, l) }
        for f in functionMessages { out.bytes(5, f) }
        let comment = string(inuseIsLeaked ? "inuse_* = live at exit (leaked)" : "inuse_* = live at the global heap peak")
        let defaultType = string(defaultSampleType(for: kind))
        let periodType = string("space"), bytesUnit = string("bytes")
        for s in strings { out.bytes(6, Array(s.utf8)) }
        out.int(10, Int64(bitPattern: profile.durationNs))
        out.message(11) { $0.uint(1, periodType); $0.uint(2, bytesUnit) }
        out.int(12, 1)
        out.packed(13, [comment])
        out.uint(14, defaultType)
        return out.bytes
    }

    /// The gzip-compressed profile, as pprof files are stored.
    public static func render(_ profile: StackProfile, kind: FlameGraphKind) -> [UInt8] {
        Gzip.compress(encode(profile, kind: kind))
    }
}

/// gzip through the system zlib.
public enum Gzip {
    /// A gzip member holding `data` (deflate level 1, fast; deterministic: no name, no time stamp).
    public static func compress(_ data: [UInt8]) -> [UInt8] {
        run(data, mematlas_gzip_compress) ?? []
    }

    /// The data inside a gzip (or zlib) stream, or nil when it is corrupt.
    public static func decompress(_ data: [UInt8]) -> [UInt8]? {
        run(data, mematlas_gzip_decompress)
    }

    private static func run(
        _ data: [UInt8],
        _ body: (UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?, UnsafeMutablePointer<Int>?) -> Int32
    ) -> [UInt8]? {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = data.withUnsafeBufferPointer { body($0.baseAddress, $0.count, &out, &size) }
        guard status == 0, let out else { return nil }
        defer { free(out) }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}
