/// One virtual page with what backs it: the per-page view of a region.
public struct PageDetail: Hashable, Sendable {
    /// First address of the page.
    public var address: VirtualAddress
    /// The page's pagemap entry (state, frame number, exclusivity).
    public var entry: PageMapEntry
    /// The physical page's flags (nil when absent, or without `/proc/kpageflags`).
    public var flags: KernelPageFlags?

    /// One line: address, state, frame, flags.
    public var summary: String {
        var line = "\(address) \(entry.state.rawValue)"
        switch entry.state {
        case .present:
            line += entry.frame.map { " frame \($0)" } ?? " frame hidden"
            line += entry.isFileOrSharedAnonymous ? " file/shared" : " anonymous"
            line += entry.isExclusivelyMapped ? " exclusive" : " shared"
            if let flags, !flags.names.isEmpty { line += " [" + flags.names.joined(separator: " ") + "]" }
        case .swapped:
            line += " swap area \(entry.swapType ?? 0) slot \(entry.swapOffset ?? 0)"
        case .notPresent:
            break
        }
        return line
    }
}

extension PageScanner {
    /// The pages of `region` in process `pid` from `address` on (at most `limit` pages), with flags when root.
    public static func pageDetails(
        pid: Int32, region: Region, from address: VirtualAddress, limit: Int
    ) throws -> [PageDetail] {
        let reader = try PageMapReader(pid: pid)
        let flagsReader = try? KernelPageFlagsReader()
        let pageSize = reader.pageSize
        let first = max(region.start.rawValue, address.rawValue) / pageSize
        let end = region.end.rawValue / pageSize
        guard first < end else { return [] }
        let count = min(UInt64(max(0, limit)), end - first)
        var details: [PageDetail] = []
        try reader.forEachBatch(firstPage: first, count: count) { batchStart, entries in
            for (offset, raw) in entries.enumerated() {
                let entry = PageMapEntry(rawValue: raw)
                let flags = entry.frame.flatMap { try? flagsReader?.flags(of: $0) }
                details.append(PageDetail(address: VirtualAddress((batchStart + UInt64(offset)) * pageSize), entry: entry, flags: flags))
            }
        }
        return details
    }
}
