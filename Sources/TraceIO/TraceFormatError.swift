/// A trace file that cannot be read: foreign, from another format version, or corrupt.
/// Its description is one line naming the file, the offset and what was expected.
public struct TraceFormatError: Error, CustomStringConvertible, Sendable {
    /// The trace file's path.
    public var path: String
    /// Where the problem is: a byte offset in the file, or in the decompressed record stream.
    public var offset: UInt64
    /// True when `offset` counts bytes of the decompressed record stream rather than of the file.
    public var inRecordStream: Bool
    /// What was wrong, and what was expected.
    public var message: String

    /// Creates an error.
    public init(path: String, offset: UInt64, inRecordStream: Bool = false, message: String) {
        self.path = path
        self.offset = offset
        self.inRecordStream = inRecordStream
        self.message = message
    }

    public var description: String {
        let place = inRecordStream ? "record stream byte \(offset)" : "offset \(offset)"
        return "\(path): \(place): \(message)"
    }
}
