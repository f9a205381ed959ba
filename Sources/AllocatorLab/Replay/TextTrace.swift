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
        var log = OperationLog(source: file)
        var slots = SlotAssigner()
        var lineNumber = 0
        var inHeader = true
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            func fail(_ message: String) -> TextTraceError { TextTraceError(file: file, line: lineNumber, message: message) }
            if inHeader, fields.count == 1, UInt64(fields[0]) != nil { continue }
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
        log.slotCount = slots.slotCount
        return log
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(self.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed())
    }
}
