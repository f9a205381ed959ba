/// Turns the bytes of whole trace lines into `MemoryAccess` values, without making a `String` per
/// line: it walks the bytes once, and only builds text when it reports a malformed line.
public struct TraceLineParser {
    /// The format of every line.
    public let format: TraceFormat
    /// The trace's file name, for error messages.
    public let fileName: String
    /// The page size used to turn page reference strings into addresses (bytes).
    public let pageSize: UInt64
    /// How many lines have been parsed so far (the line number of the last line seen).
    public private(set) var lineCount: Int = 0

    /// A parser for `format` lines from `fileName`; `pageSize` (bytes) scales page reference strings.
    public init(format: TraceFormat, fileName: String, pageSize: UInt64 = 4096) {
        self.format = format
        self.fileName = fileName
        self.pageSize = pageSize
    }

    /// Parses `bytes`, a whole number of lines (the last one may lack its newline), appending the
    /// accesses they describe to `accesses`. Throws `TraceParseError` at the first malformed line.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer, into accesses: inout [MemoryAccess]) throws {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else { return }
        let end = bytes.count
        var lineStart = 0
        while lineStart < end {
            lineCount += 1
            let next: Int?
            switch format {
            case .lackey: next = parseLackeyLine(base, lineStart, end, &accesses)
            case .dinero: next = parseDineroLine(base, lineStart, end, &accesses)
            case .pageReferenceString: next = parseReferenceLine(base, lineStart, end, &accesses)
            }
            guard let lineEnd = next else { throw error(base, lineStart, end) }
            lineStart = lineEnd + 1
        }
    }

    // MARK: - Formats (each returns the index of the line's newline, or `end`; nil when malformed)

    @inline(__always)
    private func parseLackeyLine(
        _ bytes: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ accesses: inout [MemoryAccess]
    ) -> Int? {
        var position = start
        guard position < end else { return end }
        let first = bytes[position]
        let kind: AccessKind
        if first == UInt8(ascii: "I") {
            kind = .instructionFetch
            position += 1
        } else if first == UInt8(ascii: " ") && position + 1 < end {
            switch bytes[position + 1] {
            case UInt8(ascii: "L"): kind = .read
            case UInt8(ascii: "S"): kind = .write
            case UInt8(ascii: "M"): kind = .modify
            default: return Self.blankLineEnd(bytes, start, end)
            }
            position += 2
        } else if first == UInt8(ascii: "=") {
            return Self.lineEnd(bytes, start, end)  // `==PID==` lackey message
        } else {
            return Self.blankLineEnd(bytes, start, end)
        }
        let afterKind = position
        while position < end && bytes[position] == UInt8(ascii: " ") { position += 1 }
        guard position > afterKind, let address = Self.parseHex(bytes, &position, end) else { return nil }
        guard position < end && bytes[position] == UInt8(ascii: ",") else { return nil }
        position += 1
        guard let size = Self.parseDecimal(bytes, &position, end), size >= 1, size <= UInt64(UInt32.max) else { return nil }
        guard let lineEnd = Self.trailingSpaceEnd(bytes, position, end) else { return nil }
        accesses.append(MemoryAccess(address: address, size: UInt32(truncatingIfNeeded: size), kind: kind))
        return lineEnd
    }

    @inline(__always)
    private func parseDineroLine(
        _ bytes: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ accesses: inout [MemoryAccess]
    ) -> Int? {
        var position = start
        Self.skipSpaces(bytes, &position, end)
        if position == end || bytes[position] == UInt8(ascii: "\n") || bytes[position] == UInt8(ascii: "\r") {
            return Self.blankLineEnd(bytes, start, end)
        }
        let label = bytes[position] &- UInt8(ascii: "0")
        guard label <= 4 else { return nil }
        position += 1
        let afterLabel = position
        Self.skipSpaces(bytes, &position, end)
        guard position > afterLabel else { return nil }
        if position + 1 < end && bytes[position] == UInt8(ascii: "0") && (bytes[position + 1] | 0x20) == UInt8(ascii: "x") {
            position += 2
        }
        guard let address = Self.parseHex(bytes, &position, end) else { return nil }
        // Dinero ignores the rest of the line; it must at least be separated from the address.
        if position < end && bytes[position] != UInt8(ascii: "\n") && bytes[position] != UInt8(ascii: " ")
            && bytes[position] != UInt8(ascii: "\t") && bytes[position] != UInt8(ascii: "\r") {
            return nil
        }
        let lineEnd = Self.lineEnd(bytes, position, end)
        switch label {
        case 0: accesses.append(MemoryAccess(address: address, size: 1, kind: .read))
        case 1: accesses.append(MemoryAccess(address: address, size: 1, kind: .write))
        case 2: accesses.append(MemoryAccess(address: address, size: 1, kind: .instructionFetch))
        default: break  // 3: escape (unknown access type), 4: escape (cache flush): skipped
        }
        return lineEnd
    }

    @inline(__always)
    private func parseReferenceLine(
        _ bytes: UnsafePointer<UInt8>, _ start: Int, _ end: Int, _ accesses: inout [MemoryAccess]
    ) -> Int? {
        var position = start
        while true {
            while position < end {
                let byte = bytes[position]
                guard byte == UInt8(ascii: ",") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
                    || byte == UInt8(ascii: "\r") else { break }
                position += 1
            }
            if position == end || bytes[position] == UInt8(ascii: "\n") { return position }
            if bytes[position] == UInt8(ascii: "#") { return Self.lineEnd(bytes, position, end) }  // comment
            guard let page = Self.parseDecimal(bytes, &position, end) else { return nil }
            var kind = AccessKind.read
            if position < end {
                let suffix = bytes[position] | 0x20
                if suffix == UInt8(ascii: "w") { kind = .write; position += 1 }
                else if suffix == UInt8(ascii: "r") { position += 1 }
            }
            if position < end {
                let byte = bytes[position]
                guard byte == UInt8(ascii: ",") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
                    || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") else { return nil }
            }
            let (address, overflow) = page.multipliedReportingOverflow(by: pageSize)
            guard !overflow else { return nil }
            accesses.append(MemoryAccess(address: address, size: 1, kind: kind))
        }
    }

    // MARK: - Byte helpers

    @inline(__always)
    private static func skipSpaces(_ bytes: UnsafePointer<UInt8>, _ position: inout Int, _ end: Int) {
        while position < end && (bytes[position] == UInt8(ascii: " ") || bytes[position] == UInt8(ascii: "\t")) {
            position += 1
        }
    }

    /// Parses 1 to 16 hex digits; nil when there are none or too many.
    @inline(__always)
    private static func parseHex(_ bytes: UnsafePointer<UInt8>, _ position: inout Int, _ end: Int) -> UInt64? {
        let start = position
        var value: UInt64 = 0
        while position < end {
            let byte = bytes[position]
            var digit = byte &- UInt8(ascii: "0")
            if digit >= 10 {
                let letter = (byte | 0x20) &- UInt8(ascii: "a")
                guard letter < 6 else { break }
                digit = letter + 10
            }
            value = value << 4 | UInt64(digit)
            position += 1
        }
        let digits = position - start
        return digits >= 1 && digits <= 16 ? value : nil
    }

    /// Parses 1 to 19 decimal digits; nil when there are none or too many.
    @inline(__always)
    private static func parseDecimal(_ bytes: UnsafePointer<UInt8>, _ position: inout Int, _ end: Int) -> UInt64? {
        let start = position
        var value: UInt64 = 0
        while position < end {
            let digit = bytes[position] &- UInt8(ascii: "0")
            guard digit < 10 else { break }
            value = value &* 10 &+ UInt64(digit)
            position += 1
        }
        let digits = position - start
        return digits >= 1 && digits <= 19 ? value : nil
    }

    /// The newline after trailing blanks at `position`, or nil when something else follows.
    @inline(__always)
    private static func trailingSpaceEnd(_ bytes: UnsafePointer<UInt8>, _ position: Int, _ end: Int) -> Int? {
        var position = position
        while position < end {
            switch bytes[position] {
            case UInt8(ascii: "\n"): return position
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): position += 1
            default: return nil
            }
        }
        return end
    }

    /// The end of a line that must be blank, or nil when it holds something.
    @inline(__always)
    private static func blankLineEnd(_ bytes: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
        trailingSpaceEnd(bytes, start, end)
    }

    @inline(__always)
    private static func lineEnd(_ bytes: UnsafePointer<UInt8>, _ position: Int, _ end: Int) -> Int {
        var position = position
        while position < end && bytes[position] != UInt8(ascii: "\n") { position += 1 }
        return position
    }

    private func error(_ bytes: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> TraceParseError {
        let stop = min(Self.lineEnd(bytes, start, end), start + 60)
        var found = ""
        for index in start..<stop {
            let byte = bytes[index]
            found.unicodeScalars.append(byte >= 0x20 && byte < 0x7F ? Unicode.Scalar(byte) : "?")
        }
        return TraceParseError(fileName: fileName, lineNumber: lineCount, expected: format.expectedLine, found: found)
    }
}
