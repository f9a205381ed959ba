import MemAtlasTraceSchema
import TraceIO

/// A seeded random generator (SplitMix64): one per input, so any input can be made again alone.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A number in 0..<n (n > 0).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

/// A seed trace: the header, the records of its stream, and the file as recorded (compressed or not).
struct Seed {
    var name: String
    var header: [UInt8]
    var records: TraceRecords
    var file: [UInt8]
    var isCompressed: Bool
}

/// Makes mutated trace files from seeds: bit flips, byte runs, truncations, varint inflation,
/// duplicated, dropped and spliced records, overlong varints and garbage, written uncompressed or
/// zstd-compressed; and raw damage to the compressed files as recorded.
struct Mutator {
    let seeds: [Seed]

    /// What an input was made of, for the log of a failing input.
    struct Input {
        var bytes: [UInt8]
        var description: String
    }

    func make(_ index: UInt64, baseSeed: UInt64) -> Input {
        var rng = SplitMix64(seed: baseSeed ^ (index &* 0xD6E8_FEB8_6659_FD93))
        let seed = seeds[rng.below(seeds.count)]
        var notes = [seed.name]
        let mode = rng.below(100)
        if mode < 15, let compressed = seeds.filter(\.isCompressed).randomElement(using: &rng) {
            // Raw damage to a compressed file as the recorder wrote it (zstd or column blocks).
            var file = compressed.file
            notes = [compressed.name, "raw-compressed"]
            for _ in 0..<(1 + rng.below(3)) { damageBytes(&file, from: 32, &rng, &notes) }
            return Input(bytes: file, description: notes.joined(separator: " "))
        }
        var records = seed.records.records
        for _ in 0..<(1 + rng.below(3)) { mutateRecords(&records, &rng, &notes) }
        var stream = records.flatMap(\.bytes)
        if rng.chance(25) { damageBytes(&stream, from: 0, &rng, &notes) }
        var header = seed.header
        if mode < 20 {
            // Header damage (flags, version, size, pid): most are refused at once.
            let at = 8 + rng.below(24)
            header[at] ^= UInt8(truncatingIfNeeded: 1 << rng.below(8))
            notes.append("header@\(at)")
        }
        let compress = rng.chance(45)
        if compress, header[10] & UInt8(MA_FLAG_RAW_ADDRESSES) != 0, rng.chance(50), let blocks = ColumnBlocks.blocks(of: stream) {
            // Raw-address records as `mematlas record` codes them: column blocks.
            header[10] = (header[10] & ~UInt8(MA_FLAG_RAW_ADDRESSES | MA_FLAG_ZSTD)) | UInt8(MA_FLAG_COLUMNS)
            stream = blocks
            notes.append("columns")
            if rng.chance(30) {
                stream.removeLast(rng.below(stream.count + 1))
                notes.append("cut-columns")
            }
        } else if compress {
            header[10] |= UInt8(MA_FLAG_ZSTD)
            stream = Zstd.compress(stream)
            notes.append("zstd")
            if rng.chance(30) {
                stream.removeLast(rng.below(stream.count + 1))
                notes.append("cut-zstd")
            }
        } else {
            header[10] &= ~UInt8(MA_FLAG_ZSTD)
        }
        return Input(bytes: header + stream, description: notes.joined(separator: " "))
    }

    /// Byte-level damage: bit flips, a run of one value, a cut, inserted garbage.
    private func damageBytes(_ bytes: inout [UInt8], from low: Int, _ rng: inout SplitMix64, _ notes: inout [String]) {
        guard bytes.count > low else { return }
        let at = low + rng.below(bytes.count - low)
        switch rng.below(4) {
        case 0:
            for _ in 0..<(1 + rng.below(8)) {
                let i = low + rng.below(bytes.count - low)
                bytes[i] ^= UInt8(1 << rng.below(8))
            }
            notes.append("bitflips")
        case 1:
            let value: UInt8 = [0x00, 0xFF, 0x80, 0x7F, UInt8(truncatingIfNeeded: rng.next())][rng.below(5)]
            let n = min(1 + rng.below(64), bytes.count - at)
            for i in at..<(at + n) { bytes[i] = value }
            notes.append("run\(n)x\(value)@\(at)")
        case 2:
            bytes.removeSubrange(at...)
            notes.append("cut@\(at)")
        default:
            let garbage = (0..<(1 + rng.below(32))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes.insert(contentsOf: garbage, at: at)
            notes.append("garbage\(garbage.count)@\(at)")
        }
    }

    /// Record-level damage.
    private func mutateRecords(_ records: inout [TraceRecords.Record], _ rng: inout SplitMix64, _ notes: inout [String]) {
        guard !records.isEmpty else { return }
        let i = rng.below(records.count)
        switch rng.below(7) {
        case 0, 1:
            // Inflate a varint: counts and lengths most of the time, any field otherwise.
            let candidates = records.indices.filter { !records[$0].counts.isEmpty }
            let useCount = !candidates.isEmpty && rng.chance(70)
            let r = useCount ? candidates[rng.below(candidates.count)] : i
            let fields = useCount ? records[r].counts : records[r].fields
            guard !fields.isEmpty else { return }
            let field = fields[rng.below(fields.count)]
            let huge: [UInt64] = [
                UInt64.max, UInt64(Int64.max), 1 << 32, (1 << 32) - 1, 1 << 26, (1 << 26) + 1, 1 << 20, (1 << 20) + 1,
                4096, 4097, 64 << 20, rng.next() >> UInt64(rng.below(64)),
            ]
            let value = huge[rng.below(huge.count)]
            records[r].replaceField(field, with: encodeVarint(value))
            notes.append("inflate(r\(r) \(field) = \(value))")
        case 2:
            // Duplicate a run of records, in place or elsewhere.
            let n = min(1 + rng.below(8), records.count - i)
            let run = Array(records[i..<(i + n)])
            let to = rng.chance(50) ? i + n : rng.below(records.count + 1)
            records.insert(contentsOf: run, at: to)
            notes.append("dup(\(i)+\(n) to \(to))")
        case 3:
            // Splice in records from another seed (its stacks, threads and addresses mean other things here).
            let other = seeds[rng.below(seeds.count)].records.records
            guard !other.isEmpty else { return }
            let from = rng.below(other.count)
            let n = min(1 + rng.below(16), other.count - from)
            let to = rng.below(records.count + 1)
            if rng.chance(50) {
                records.insert(contentsOf: other[from..<(from + n)], at: to)
                notes.append("splice(\(from)+\(n) at \(to))")
            } else {
                let end = min(records.count, to + n)
                records.replaceSubrange(to..<end, with: other[from..<(from + n)])
                notes.append("replace(\(to)..<\(end) with \(from)+\(n))")
            }
        case 4:
            let n = min(1 + rng.below(8), records.count - i)
            records.removeSubrange(i..<(i + n))
            notes.append("drop(\(i)+\(n))")
        case 5:
            // An overlong varint (more than 10 bytes) in place of a field.
            guard let field = records[i].fields.randomElement(using: &rng) else { return }
            records[i].replaceField(field, with: [UInt8](repeating: 0xFF, count: 10 + rng.below(6)) + [0x01])
            notes.append("overlong(r\(i))")
        default:
            // Swap two records (a stack used before it is defined, an event before its thread).
            let j = rng.below(records.count)
            records.swapAt(i, j)
            notes.append("swap(\(i),\(j))")
        }
    }
}

extension TraceRecords.Record {
    /// Replaces the bytes of one of the record's fields, moving the fields after it.
    mutating func replaceField(_ field: Range<Int>, with replacement: [UInt8]) {
        bytes.replaceSubrange(field, with: replacement)
        let delta = replacement.count - field.count
        func moved(_ r: Range<Int>) -> Range<Int> {
            if r == field { return r.lowerBound..<(r.lowerBound + replacement.count) }
            return r.lowerBound >= field.upperBound ? (r.lowerBound + delta)..<(r.upperBound + delta) : r
        }
        fields = fields.map(moved)
        counts = counts.map(moved)
    }
}
