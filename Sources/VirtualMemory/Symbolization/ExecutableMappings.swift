import Foundation

/// The executable mappings of a process, captured from its regions, for turning instruction
/// addresses into (module, address in the module's ELF file) pairs.
public struct ExecutableMappings: Sendable {
    /// One executable file mapping.
    public struct Mapping: Sendable {
        /// The mapped file.
        public var path: String
        /// First address of the mapping.
        public var start: UInt64
        /// One past the last address.
        public var end: UInt64
        /// Offset in bytes of `start` in the file.
        public var fileOffset: UInt64
    }

    /// Executable file mappings in address order.
    public var mappings: [Mapping]

    /// Wraps a list of mappings.
    public init(mappings: [Mapping]) { self.mappings = mappings }

    /// Builds the map from a snapshot's executable, file-backed regions.
    public init(_ snapshot: AddressSpaceSnapshot) {
        mappings = snapshot.regions
            .filter { $0.permissions.execute && $0.name.hasPrefix("/") }
            .map { Mapping(path: $0.name, start: $0.start.rawValue, end: $0.end.rawValue, fileOffset: $0.fileOffset) }
    }

    /// The mapping holding `address`.
    public func mapping(containing address: UInt64) -> Mapping? {
        mappings.first { $0.start <= address && address < $0.end }
    }
}

/// Converts file offsets of an ELF file into the virtual addresses `llvm-symbolizer` expects, from
/// the file's `PT_LOAD` program headers.
struct ELFLoadSegments {
    private var segments: [(offset: UInt64, size: UInt64, vaddr: UInt64)] = []

    /// Reads the program headers of `path` (64-bit little-endian ELF); empty when unreadable.
    init(path: String) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        guard let header = try? handle.read(upToCount: 64), header.count == 64,
              header[0] == 0x7f, header[1] == 0x45, header[4] == 2, header[5] == 1 else { return }
        func u64(_ d: Data, _ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(d[d.startIndex + at + $1]) << (8 * UInt64($1)) } }
        func u32(_ d: Data, _ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(d[d.startIndex + at + $1]) << (8 * UInt32($1)) } }
        func u16(_ d: Data, _ at: Int) -> Int { Int(d[d.startIndex + at]) | Int(d[d.startIndex + at + 1]) << 8 }
        let phoff = u64(header, 32), entrySize = u16(header, 54), count = u16(header, 56)
        guard entrySize >= 56, count > 0, (try? handle.seek(toOffset: phoff)) != nil,
              let table = try? handle.read(upToCount: entrySize * count), table.count == entrySize * count else { return }
        for index in 0..<count {
            let base = index * entrySize
            guard u32(table, base) == 1 else { continue }  // PT_LOAD
            segments.append((u64(table, base + 8), u64(table, base + 32), u64(table, base + 16)))
        }
    }

    /// The virtual address of `fileOffset` (the offset itself when no segment holds it).
    func virtualAddress(ofFileOffset fileOffset: UInt64) -> UInt64 {
        for segment in segments where segment.offset <= fileOffset && fileOffset < segment.offset + segment.size {
            return fileOffset - segment.offset + segment.vaddr
        }
        return fileOffset
    }
}
