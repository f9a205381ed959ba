/// A malformed line in a text trace.
public struct TextTraceError: Error, CustomStringConvertible, Sendable {
    /// The file (or source name) read.
    public var file: String
    /// The 1-based line number.
    public var line: Int
    /// What is wrong.
    public var message: String
    /// `file:line: message`, one line.
    public var description: String { "\(file):\(line): \(message)" }
}

/// The classic malloc-lab text trace: `a ID BYTES`, `r ID BYTES`, `f ID`, one per line.
///
/// Blank lines and `#` comments are skipped, and so is the CS:APP header (four lines of bare numbers:
/// suggested heap size, id count, operation count, weight) when the file starts with it.
public enum TextTrace {
    /// Parses a text trace into an operation log.
    /// - Throws: `TextTraceError` with the line number of the first bad line.
    public static func parse(_ text: String, file: String) throws -> OperationLog {
        var text = text
        return try text.withUTF8 { try parse(bytes: $0, file: file) }
    }

    /// The parse over the text's bytes. Lines of the usual shape (`a`, `r` or `f`, then one or
    /// two decimal numbers, separated by spaces or tabs) are read in place; every other line
    /// (header, comment, anything malformed) goes through `parseLine`, which says what is wrong.
    /// Splitting the text into `String`s was five times slower than the replay it feeds.
    private static func parse(bytes: UnsafeBufferPointer<UInt8>, file: String) throws -> OperationLog {
        var state = ParseState(file: file)
        let count = bytes.count
        var start = 0
        while start <= count {
            var end = start
            while end < count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            state.lineNumber += 1
            if !state.readUsualLine(bytes, start, end) {
                try state.parseLine(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self))
            }
            start = end + 1
        }
        state.log.slotCount = state.slots.slotCount
        return state.log
    }

    private struct ParseState {
        var log: OperationLog
        var slots = SlotAssigner()
        var lineNumber = 0
        var inHeader = true
        let file: String

        init(file: String) {
            self.file = file
            log = OperationLog(source: file)
        }

        /// Applies the line `bytes[start..<end]` when it has the usual shape and is valid; false
        /// (and nothing changed) otherwise.
        mutating func readUsualLine(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
            var end = end
            if end > start && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            guard end - start >= 3 else { return false }
            let op = bytes[start]
            guard op == UInt8(ascii: "a") || op == UInt8(ascii: "r") || op == UInt8(ascii: "f") else { return false }
            var at = start + 1
            // A field: at least one space or tab, then 1 to 19 digits (no overflow possible).
            func number() -> UInt64? {
                let blanks = at
                while at < end && (bytes[at] == UInt8(ascii: " ") || bytes[at] == UInt8(ascii: "\t")) { at += 1 }
                guard at > blanks else { return nil }
                let digits = at
                var value: UInt64 = 0
                while at < end, case let d = bytes[at] &- UInt8(ascii: "0"), d < 10 {
                    value = value &* 10 &+ UInt64(d)
                    at += 1
                }
                return at > digits && at - digits <= 19 ? value : nil
            }
            guard let id = number() else { return false }
            var bytesField: UInt64 = 0
            if op != UInt8(ascii: "f") {
                guard let n = number() else { return false }
                bytesField = n
            }
            while at < end && (bytes[at] == UInt8(ascii: " ") || bytes[at] == UInt8(ascii: "\t")) { at += 1 }
            guard at == end else { return false }
            switch op {
            case UInt8(ascii: "a"):
                guard slots.slot(of: id) == nil else { return false }
                log.operations.append(AllocationOperation(.allocate, slot: slots.bind(id), bytes: bytesField))
            case UInt8(ascii: "r"):
                let slot = slots.slot(of: id) ?? slots.bind(id)
                log.operations.append(AllocationOperation(.reallocate, slot: slot, bytes: bytesField))
            default:
                guard let slot = slots.release(id) else { return false }
                log.operations.append(AllocationOperation(.free, slot: slot))
            }
            inHeader = false
            return true
        }

        /// Any line: skips blanks, comments and the header; applies an operation or throws.
        mutating func parseLine(_ text: String) throws {
            var line = Substring(text)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { return }
            let lineNumber = self.lineNumber, file = self.file
            func fail(_ message: String) -> TextTraceError { TextTraceError(file: file, line: lineNumber, message: message) }
            if inHeader, fields.count == 1, UInt64(fields[0]) != nil { return }
            inHeader = false
            func number(_ index: Int, _ what: String) throws -> UInt64 {
                guard index < fields.count else { throw fail("missing \(what) in \"\(line.trimmingCharacters())\"") }
                guard let value = UInt64(fields[index]) else { throw fail("\(what) \"\(fields[index])\" is not a non-negative integer") }
                return value
            }
            switch fields[0] {
            case "a", "r":
                guard fields.count == 3 else { throw fail("expected \"\(fields[0]) ID BYTES\", got \"\(line.trimmingCharacters())\"") }
                let id = try number(1, "id"), bytes = try number(2, "size")
                if fields[0] == "a" {
                    guard slots.slot(of: id) == nil else { throw fail("id \(id) is allocated twice without a free") }
                    log.operations.append(AllocationOperation(.allocate, slot: slots.bind(id), bytes: bytes))
                } else {
                    let slot = slots.slot(of: id) ?? slots.bind(id)
                    log.operations.append(AllocationOperation(.reallocate, slot: slot, bytes: bytes))
                }
            case "f":
                guard fields.count == 2 else { throw fail("expected \"f ID\", got \"\(line.trimmingCharacters())\"") }
                let id = try number(1, "id")
                guard let slot = slots.release(id) else { throw fail("free of id \(id), which is not allocated") }
                log.operations.append(AllocationOperation(.free, slot: slot))
            default:
                throw fail("unknown operation \"\(fields[0])\" (expected a, r or f)")
            }
        }
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(self.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed())
    }
}
