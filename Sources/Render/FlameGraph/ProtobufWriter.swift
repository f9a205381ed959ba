/// A minimal protocol-buffers wire-format encoder (varints, length-delimited fields, packed
/// repeated varints): enough to write pprof's profile.proto by hand.
struct ProtobufWriter {
    /// The encoded message.
    private(set) var bytes: [UInt8] = []

    /// Appends a base-128 varint.
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Appends a field key (field number and wire type: 0 varint, 2 length-delimited).
    mutating func key(_ field: Int, wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    /// A varint field (uint64, or int64 as two's complement); zero is omitted, as proto3 does.
    mutating func uint(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        key(field, wireType: 0)
        varint(value)
    }

    /// An int64 field (negative values take ten bytes); zero is omitted.
    mutating func int(_ field: Int, _ value: Int64) { uint(field, UInt64(bitPattern: value)) }

    /// A bool field; false is omitted.
    mutating func bool(_ field: Int, _ value: Bool) { uint(field, value ? 1 : 0) }

    /// A length-delimited field (bytes, string or an embedded message), always written.
    mutating func bytes(_ field: Int, _ payload: [UInt8]) {
        key(field, wireType: 2)
        varint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    /// An embedded message field.
    mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        bytes(field, inner.bytes)
    }

    /// A packed repeated varint field (omitted when empty).
    mutating func packed(_ field: Int, _ values: [UInt64]) {
        guard !values.isEmpty else { return }
        var inner = ProtobufWriter()
        for v in values { inner.varint(v) }
        bytes(field, inner.bytes)
    }
}
