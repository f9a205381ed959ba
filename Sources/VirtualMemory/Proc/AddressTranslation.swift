/// The walk from a virtual address to a physical one, step by step (x86-64, 4-level paging, 4 KiB pages).
public struct AddressTranslation: Sendable {
    /// The virtual address translated.
    public var address: VirtualAddress
    /// The base page size in bytes.
    public var pageSize: UInt64
    /// The region holding the address (nil when it is not mapped).
    public var region: Region?
    /// The page map entry of the page (nil when the address is not mapped).
    public var entry: PageMapEntry?
    /// The physical page's flags (nil without `/proc/kpageflags`).
    public var flags: KernelPageFlags?

    /// The virtual page number: the address divided by the page size.
    public var virtualPageNumber: UInt64 { address.rawValue / pageSize }
    /// The byte offset inside the page.
    public var pageOffset: UInt64 { address.rawValue % pageSize }
    /// The four 9-bit page-table indices (PML4, PDPT, PD, PT) taken from bits 47-39, 38-30, 29-21, 20-12.
    public var pageTableIndices: (pml4: UInt64, pdpt: UInt64, pd: UInt64, pt: UInt64) {
        let a = address.rawValue
        return ((a >> 39) & 0x1ff, (a >> 30) & 0x1ff, (a >> 21) & 0x1ff, (a >> 12) & 0x1ff)
    }
    /// The physical address (nil unless the page is present and its frame is visible).
    public var physicalAddress: UInt64? {
        guard let frame = entry?.frame else { return nil }
        return frame.rawValue * pageSize + pageOffset
    }

    /// Translates `address` in process `pid`, reading its maps, pagemap and (if possible) kpageflags.
    public static func translate(_ address: VirtualAddress, pid: Int32) throws -> AddressTranslation {
        let snapshot = try AddressSpaceReader.read(pid: pid)
        let reader = try PageMapReader(pid: pid)
        var result = AddressTranslation(address: address, pageSize: reader.pageSize, region: snapshot.region(containing: address))
        guard result.region != nil else { return result }
        let entry = try reader.entry(at: address)
        result.entry = entry
        if let frame = entry.frame, let flagsReader = try? KernelPageFlagsReader() {
            result.flags = try? flagsReader.flags(of: frame)
        }
        return result
    }

    /// The walk as numbered lines for the terminal.
    public var steps: [String] {
        func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
        let shift = UInt64(pageSize.trailingZeroBitCount)
        let indices = pageTableIndices
        var lines = [
            "1. virtual address        \(address)",
            "2. page-table indices     PML4 \(indices.pml4)  PDPT \(indices.pdpt)  PD \(indices.pd)  PT \(indices.pt)  (9 bits each: 47-39, 38-30, 29-21, 20-12)",
            "3. virtual page number    \(hex(virtualPageNumber)) = address >> \(shift)",
            "4. offset in page         \(hex(pageOffset)) = address & \(hex(pageSize - 1))",
        ]
        guard let region = region, let entry = entry else {
            lines.append("5. not mapped: no region of the process holds this address (a segfault)")
            return lines
        }
        lines.append("5. region                 \(region.start)-\(region.end) \(region.permissions) \(region.kind.rawValue) \(region.name)")
        lines.append("6. pagemap entry          \(hex(entry.rawValue)) read at byte \(hex(virtualPageNumber * 8)) of /proc/PID/pagemap")
        switch entry.state {
        case .present:
            if let frame = entry.frame, let physical = physicalAddress {
                lines.append("7. physical frame number  \(frame) (present\(entry.isExclusivelyMapped ? ", exclusively mapped" : ", shared")\(entry.isFileOrSharedAnonymous ? ", file/shared" : ", anonymous"))")
                lines.append("8. physical address       \(hex(physical)) = frame << \(shift) | offset")
                if let flags { lines.append("9. page flags             \(flags.names.joined(separator: " "))") }
            } else {
                lines.append("7. present, but the frame number is hidden (reading pagemap needs CAP_SYS_ADMIN for frame numbers)")
            }
        case .swapped:
            lines.append("7. swapped out: swap area \(entry.swapType ?? 0), slot \(hex(entry.swapOffset ?? 0)); touching it is a major fault")
        case .notPresent:
            lines.append("7. not present: no frame yet; the first touch is a page fault that allocates one")
        }
        return lines
    }
}
