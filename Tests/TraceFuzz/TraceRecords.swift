import MemAtlasTraceSchema

/// A trace's record stream cut into records, with the place of every varint field, so that
/// mutations can work record by record (duplicate, splice, drop) and field by field (inflate a
/// count or a length). The field layouts follow `mematlas_trace_schema.h`.
struct TraceRecords {
    /// One record: its bytes (tag first) and its varint fields as byte ranges inside them.
    struct Record {
        var bytes: [UInt8]
        /// Ranges of the record's varint fields (uv, sv, adr and str lengths), in order.
        var fields: [Range<Int>]
        /// The ones among `fields` that count elements or bytes (frame, module, segment, region
        /// and run counts, string lengths): inflating them asks the reader for huge allocations.
        var counts: [Range<Int>]
    }

    var records: [Record] = []

    /// Cuts `stream` (the bytes after the file header, decompressed) into records; stops at the
    /// first record it cannot parse. `rawAddresses`: adr fields are 8 bytes (MA_FLAG_RAW_ADDRESSES).
    init(stream: [UInt8], rawAddresses: Bool = false) {
        var at = 0
        while at < stream.count, let record = Self.parse(stream, at, rawAddresses: rawAddresses) {
            records.append(record)
            at += record.bytes.count
        }
    }

    /// The stream of all records, in order.
    var stream: [UInt8] { records.flatMap(\.bytes) }

    private static func parse(_ s: [UInt8], _ start: Int, rawAddresses: Bool) -> Record? {
        var p = start + 1
        var fields: [Range<Int>] = [], counts: [Range<Int>] = []
        func uv(count: Bool = false) -> UInt64? {
            var value: UInt64 = 0, shift: UInt64 = 0
            let begin = p
            while p < s.count {
                let byte = s[p]
                p += 1
                if shift < 64 { value |= UInt64(byte & 0x7f) << shift }
                if byte < 0x80 {
                    fields.append((begin - start)..<(p - start))
                    if count { counts.append((begin - start)..<(p - start)) }
                    return value
                }
                shift += 7
                if shift > 70 { return nil }
            }
            return nil
        }
        func str() -> Bool {
            guard let n = uv(count: true), n <= UInt64(s.count - p) else { return false }
            p += Int(n)
            return true
        }
        func uvs(_ n: Int) -> Bool { (0..<n).allSatisfy { _ in uv() != nil } }
        func adr() -> Bool {
            guard rawAddresses else { return uv() != nil }
            guard s.count - p >= 8 else { return false }
            p += 8
            return true
        }
        guard start < s.count else { return nil }
        switch Int32(s[start]) {
        case MA_REC_PROCESS:
            guard uvs(8), str(), str() else { return nil }
        case MA_REC_MODULES:
            guard let modules = uv(count: true), modules < 100_000 else { return nil }
            for _ in 0..<modules {
                guard uv() != nil, str(), str(), let segments = uv(count: true), segments < 10_000, uvs(3 * Int(segments)) else { return nil }
            }
        case MA_REC_STACK:
            guard let frames = uv(count: true), frames < 10_000, uvs(Int(frames)) else { return nil }
        case MA_REC_THREAD:
            guard uvs(1) else { return nil }
        case MA_REC_TICK, MA_REC_EXIT:
            guard uvs(2) else { return nil }
        case MA_REC_THREAD_NAME:
            guard uvs(1), str() else { return nil }
        case MA_REC_EXEC:
            guard str() else { return nil }
        case MA_REC_RESIDENCY:
            guard uvs(1), let regions = uv(count: true), regions < 100_000 else { return nil }
            for _ in 0..<regions {
                guard uvs(3), let runs = uv(count: true), runs < 10_000_000, uvs(Int(runs)) else { return nil }
            }
        case MA_REC_MALLOC, MA_REC_CALLOC, MA_REC_VALLOC, MA_REC_PVALLOC:
            guard uvs(2), adr() else { return nil }
        case MA_REC_POSIX_MEMALIGN, MA_REC_ALIGNED_ALLOC, MA_REC_MEMALIGN:
            guard uvs(3), adr() else { return nil }
        case MA_REC_REALLOC, MA_REC_REALLOCARRAY:
            guard adr(), uvs(2), adr() else { return nil }
        case MA_REC_FREE:
            guard adr() else { return nil }
        case MA_REC_MMAP:
            guard uvs(4), adr() else { return nil }
        case MA_REC_MREMAP:
            guard adr(), uvs(3), adr() else { return nil }
        case MA_REC_MUNMAP:
            guard adr(), uvs(1) else { return nil }
        default:
            return nil
        }
        return Record(bytes: Array(s[start..<p]), fields: fields, counts: counts)
    }
}

/// Unsigned LEB128, as the schema's uv.
func encodeVarint(_ value: UInt64) -> [UInt8] {
    var v = value, out: [UInt8] = []
    while v >= 0x80 {
        out.append(UInt8(truncatingIfNeeded: v) | 0x80)
        v >>= 7
    }
    out.append(UInt8(v))
    return out
}
