import Foundation

/// The parts of an ELF file MemAtlas needs: whether it can be traced with LD_PRELOAD (it has an
/// interpreter), its build id, and its symbol table (the symbolizer's fallback).
public struct ELFFile {
    /// A function symbol: its file address range and name.
    public struct Symbol: Sendable {
        /// File address of the first byte.
        public var address: UInt64
        /// Size in bytes (0 when unknown).
        public var size: UInt64
        /// The (mangled) name.
        public var name: String
    }

    /// True when the file has a PT_INTERP program header (dynamically linked).
    public let hasInterpreter: Bool
    /// `ET_EXEC` (2), `ET_DYN` (3), ...
    public let type: UInt16
    /// The GNU build id bytes, when present.
    public let buildID: [UInt8]
    private let data: Data

    /// Reads and checks an ELF file's headers.
    /// - Throws: `ELFError` when the file is unreadable or not a 64-bit little-endian ELF file.
    public init(path: String) throws {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw ELFError(path: path, message: "cannot be read")
        }
        guard data.count >= 64, data.prefix(4) == Data([0x7f, 0x45, 0x4c, 0x46]) else {
            throw ELFError(path: path, message: "not an ELF file")
        }
        guard data[4] == 2, data[5] == 1 else { throw ELFError(path: path, message: "not a 64-bit little-endian ELF file") }
        self.data = data
        type = Self.u16(data, 16)
        let phoff = Int(Self.u64(data, 32)), phentsize = Int(Self.u16(data, 54)), phnum = Int(Self.u16(data, 56))
        var interp = false
        var buildID: [UInt8] = []
        for i in 0..<phnum {
            let at = phoff + i * phentsize
            guard at + 56 <= data.count else { break }
            let ptype = Self.u32(data, at)
            if ptype == 3 { interp = true }
            if ptype == 4 {  // PT_NOTE
                let offset = Int(Self.u64(data, at + 8)), size = Int(Self.u64(data, at + 32))
                buildID = Self.findBuildID(data, offset, size) ?? buildID
            }
        }
        hasInterpreter = interp
        self.buildID = buildID
    }

    private static func findBuildID(_ data: Data, _ offset: Int, _ size: Int) -> [UInt8]? {
        var p = offset
        let end = min(offset + size, data.count)
        while p + 12 <= end {
            let namesz = Int(u32(data, p)), descsz = Int(u32(data, p + 4)), type = u32(data, p + 8)
            let name = p + 12, desc = name + ((namesz + 3) & ~3), next = desc + ((descsz + 3) & ~3)
            guard next <= end else { return nil }
            if type == 3, namesz == 4, data[data.startIndex + name] == 0x47 { return Array(data[data.startIndex + desc..<data.startIndex + desc + descsz]) }
            p = next
        }
        return nil
    }

    /// Function symbols from `.symtab` (or `.dynsym` when stripped), sorted by address.
    public func functionSymbols() -> [Symbol] {
        let shoff = Int(Self.u64(data, 40)), shentsize = Int(Self.u16(data, 58)), shnum = Int(Self.u16(data, 60))
        guard shoff > 0, shentsize >= 64, shoff + shnum * shentsize <= data.count else { return [] }
        func section(_ i: Int) -> (type: UInt32, offset: Int, size: Int, link: Int, entsize: Int) {
            let at = shoff + i * shentsize
            return (Self.u32(data, at + 4), Int(Self.u64(data, at + 24)), Int(Self.u64(data, at + 32)), Int(Self.u32(data, at + 40)), Int(Self.u64(data, at + 56)))
        }
        var tables: [Int] = []
        for i in 0..<shnum where section(i).type == 2 { tables.append(i) }  // SHT_SYMTAB
        if tables.isEmpty { for i in 0..<shnum where section(i).type == 11 { tables.append(i) } }  // SHT_DYNSYM
        var symbols: [Symbol] = []
        for t in tables {
            let s = section(t)
            guard s.link < shnum, s.entsize >= 24, s.offset + s.size <= data.count else { continue }
            let strings = section(s.link)
            guard strings.offset + strings.size <= data.count else { continue }
            for k in 0..<(s.size / s.entsize) {
                let at = s.offset + k * s.entsize
                let info = data[data.startIndex + at + 4]
                guard info & 0xf == 2 else { continue }  // STT_FUNC
                let value = Self.u64(data, at + 8), size = Self.u64(data, at + 16)
                guard value != 0 else { continue }
                let nameOffset = Int(Self.u32(data, at))
                guard nameOffset < strings.size else { continue }
                var end = strings.offset + nameOffset
                while end < strings.offset + strings.size, data[data.startIndex + end] != 0 { end += 1 }
                let name = String(decoding: data[data.startIndex + strings.offset + nameOffset..<data.startIndex + end], as: UTF8.self)
                symbols.append(Symbol(address: value, size: size, name: name))
            }
        }
        return symbols.sorted { $0.address < $1.address }
    }

    private static func u16(_ d: Data, _ at: Int) -> UInt16 {
        guard at + 2 <= d.count else { return 0 }
        return UInt16(d[d.startIndex + at]) | UInt16(d[d.startIndex + at + 1]) << 8
    }
    private static func u32(_ d: Data, _ at: Int) -> UInt32 { UInt32(u16(d, at)) | UInt32(u16(d, at + 2)) << 16 }
    private static func u64(_ d: Data, _ at: Int) -> UInt64 { UInt64(u32(d, at)) | UInt64(u32(d, at + 4)) << 32 }
}

/// An ELF file that cannot be used.
public struct ELFError: Error, CustomStringConvertible {
    /// The file.
    public var path: String
    /// What is wrong with it.
    public var message: String
    public var description: String { "\(path): \(message)" }
}
