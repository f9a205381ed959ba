/// A small protocol-buffers wire-format decoder, to read pprof exports back in tests.
struct ProtoMessage {
    struct Field {
        var number: Int
        var varint: UInt64 = 0
        var bytes: [UInt8] = []
        var isBytes = false
    }

    var fields: [Field] = []

    struct DecodeError: Error {}

    init(_ data: [UInt8]) throws {
        var i = 0
        func varint() throws -> UInt64 {
            var result: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard i < data.count, shift < 64 else { throw DecodeError() }
                let b = data[i]
                i += 1
                result |= UInt64(b & 0x7f) << shift
                if b < 0x80 { return result }
                shift += 7
            }
        }
        while i < data.count {
            let key = try varint()
            var field = Field(number: Int(key >> 3))
            switch key & 7 {
            case 0: field.varint = try varint()
            case 2:
                let n = Int(try varint())
                guard n <= data.count - i else { throw DecodeError() }
                field.bytes = Array(data[i..<i + n])
                field.isBytes = true
                i += n
            default: throw DecodeError()
            }
            fields.append(field)
        }
    }

    func varints(_ number: Int) -> [UInt64] { fields.filter { $0.number == number && !$0.isBytes }.map(\.varint) }
    func uint(_ number: Int) -> UInt64 { varints(number).last ?? 0 }
    func messages(_ number: Int) throws -> [ProtoMessage] { try fields.filter { $0.number == number }.map { try ProtoMessage($0.bytes) } }
    func strings(_ number: Int) -> [String] { fields.filter { $0.number == number }.map { String(decoding: $0.bytes, as: UTF8.self) } }
    /// A packed repeated varint field (or unpacked repeats).
    func packed(_ number: Int) throws -> [UInt64] {
        var result: [UInt64] = []
        for f in fields where f.number == number {
            if f.isBytes {
                var inner = [UInt8]()
                inner.reserveCapacity(f.bytes.count)
                var i = 0
                while i < f.bytes.count {
                    var v: UInt64 = 0, shift: UInt64 = 0
                    while true {
                        let b = f.bytes[i]
                        i += 1
                        v |= UInt64(b & 0x7f) << shift
                        if b < 0x80 { break }
                        shift += 7
                    }
                    result.append(v)
                }
            } else {
                result.append(f.varint)
            }
        }
        return result
    }
}

/// A decoded pprof profile, with what the tests compare.
struct DecodedPprof {
    var strings: [String]
    var sampleTypes: [String]
    /// Per sample: leaf-first function names (inlined frames expanded) and the values.
    var samples: [(functions: [String], values: [UInt64], thread: UInt64?)]
    var mappings: [String]
    var locationCount: Int
    var defaultSampleType: String
    var text: String

    init(_ data: [UInt8]) throws {
        let profile = try ProtoMessage(data)
        strings = profile.strings(6)
        let s = strings
        sampleTypes = try profile.messages(1).map { s[Int($0.uint(1))] + "/" + s[Int($0.uint(2))] }
        var functions: [UInt64: String] = [:]
        var text = "sample types: " + sampleTypes.joined(separator: ", ") + "\n"
        for f in try profile.messages(5) {
            functions[f.uint(1)] = s[Int(f.uint(2))]
            text += "function \(f.uint(1)): \(s[Int(f.uint(2))]) file=\(s[Int(f.uint(4))])\n"
        }
        mappings = try profile.messages(3).map { s[Int($0.uint(5))] }
        for m in try profile.messages(3) {
            text += "mapping \(m.uint(1)): 0x\(String(m.uint(2), radix: 16))-0x\(String(m.uint(3), radix: 16)) \(s[Int(m.uint(5))]) build id \(s[Int(m.uint(6))])\n"
        }
        var locations: [UInt64: [String]] = [:]
        for l in try profile.messages(4) {
            var names: [String] = []
            var lineText: [String] = []
            for line in try l.messages(4) {
                names.append(functions[line.uint(1)] ?? "?")
                lineText.append("\(line.uint(1)):\(line.uint(2))")
            }
            locations[l.uint(1)] = names
            text += "location \(l.uint(1)): mapping \(l.uint(2)) address 0x\(String(l.uint(3), radix: 16)) lines \(lineText.joined(separator: " "))\n"
        }
        locationCount = locations.count
        samples = []
        for sample in try profile.messages(2) {
            let ids = try sample.packed(1)
            let values = try sample.packed(2)
            let thread = try sample.messages(3).first.map { $0.uint(3) }
            samples.append((ids.flatMap { locations[$0] ?? ["?"] }, values, thread))
            text += "sample locations \(ids.map(String.init).joined(separator: ",")) values \(values.map(String.init).joined(separator: ","))\n"
        }
        defaultSampleType = s[Int(profile.uint(14))]
        text += "duration \(profile.uint(10)) ns, period \(profile.uint(12)), default \(defaultSampleType)\n"
        text += "comment \(try profile.packed(13).map { s[Int($0)] }.joined(separator: "; "))\n"
        self.text = text
    }
}
