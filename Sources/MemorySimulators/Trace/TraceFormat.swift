/// The address-trace formats `vmsim` reads.
public enum TraceFormat: String, Sendable, Codable, CaseIterable {
    /// valgrind lackey (`--tool=lackey --trace-mem=yes`): `I  0401ab70,3`, ` L 1ffefff8a8,8`,
    /// ` S ...`, ` M ...`; lines starting with `==PID==` are lackey's own messages and skipped.
    case lackey
    /// Dinero "din": `LABEL HEXADDRESS` with label 0 read, 1 write, 2 instruction fetch
    /// (3 and 4, Dinero's escape records, are skipped); anything after the address is ignored.
    case dinero = "din"
    /// A page reference string: page numbers separated by commas or white space (`1,2,3,4,1,2,5`);
    /// a `w` suffix marks a write (`3w`). Each page number becomes the address `page * pageSize`.
    case pageReferenceString = "refs"

    /// What a well-formed line of this format looks like, for error messages.
    public var expectedLine: String {
        switch self {
        case .lackey:
            return "a lackey line 'I  HEXADDRESS,SIZE' or ' L|S|M HEXADDRESS,SIZE' (or a '==PID==' message)"
        case .dinero:
            return "a Dinero line 'LABEL HEXADDRESS' with LABEL 0 (read), 1 (write) or 2 (instruction fetch)"
        case .pageReferenceString:
            return "decimal page numbers separated by commas or spaces, each optionally followed by 'w' (write)"
        }
    }

    /// Guesses the format from a file name's extension, then from the first meaningful line of
    /// `head` (the first bytes of the file). Returns nil when nothing fits.
    public static func detect(fileName: String, head: UnsafeRawBufferPointer) -> TraceFormat? {
        let lowered = fileName.lowercased()
        if lowered.hasSuffix(".lackey") { return .lackey }
        if lowered.hasSuffix(".din") { return .dinero }
        if lowered.hasSuffix(".refs") { return .pageReferenceString }
        var start = 0
        while start < head.count {
            var end = start
            while end < head.count && head[end] != UInt8(ascii: "\n") { end += 1 }
            let line = UnsafeRawBufferPointer(rebasing: head[start..<end])
            start = end + 1
            if isBlankOrLackeyMessage(line) { continue }
            return detect(line: line)
        }
        return nil
    }

    private static func isBlankOrLackeyMessage(_ line: UnsafeRawBufferPointer) -> Bool {
        if line.starts(with: "==".utf8) { return true }
        return line.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }
    }

    private static func detect(line: UnsafeRawBufferPointer) -> TraceFormat? {
        if isBlankOrLackeyMessage(line) { return nil }
        guard let first = line.first else { return nil }
        if (first == UInt8(ascii: " ") || first == UInt8(ascii: "I")) && line.contains(UInt8(ascii: ",")) {
            return .lackey
        }
        let tokens = line.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") })
        guard let firstToken = tokens.first, let firstByte = firstToken.first,
              (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(firstByte) else { return nil }
        if !line.contains(UInt8(ascii: ",")), tokens.count == 2, firstToken.count == 1, firstByte <= UInt8(ascii: "4") {
            return .dinero
        }
        return .pageReferenceString
    }
}

/// A trace line that does not parse: names the file, the line number (from 1) and what was expected.
public struct TraceParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The trace file's path as the user gave it.
    public var fileName: String
    /// The 1-based line number of the offending line.
    public var lineNumber: Int
    /// What a valid line looks like.
    public var expected: String
    /// The start of the offending line (at most 60 characters, control bytes shown as '?').
    public var found: String

    /// The one-line message: `FILE:LINE: expected ..., found '...'`.
    public var description: String {
        "\(fileName):\(lineNumber): expected \(expected), found '\(found)'"
    }
}
