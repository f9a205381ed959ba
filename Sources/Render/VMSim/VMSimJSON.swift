import Foundation

/// JSON output of the vmsim results: sorted keys, pretty-printed, so output is byte-stable.
public enum VMSimJSON {
    /// `value` as UTF-8 JSON text with sorted keys, ending in a newline.
    public static func encode<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}
