/// The page sizes an x86-64 4-level page table maps with the TLB in front.
public enum PageSize: String, Sendable, Codable, CaseIterable {
    /// 4 KiB pages: a walk reads PML4, PDPT, PD and PT entries (4 memory references).
    case size4KiB = "4k"
    /// 2 MiB pages (PD entries with PS=1): a walk reads PML4, PDPT and PD entries (3 references).
    case size2MiB = "2m"

    /// Bytes per page.
    public var bytes: UInt64 { self == .size4KiB ? 4096 : 2 << 20 }
    /// log2 of the page size: 12 or 21.
    public var shift: UInt64 { self == .size4KiB ? 12 : 21 }
    /// Page-table levels a walk reads (one memory reference each).
    public var walkLevels: Int { self == .size4KiB ? 4 : 3 }
    /// `4 KiB` or `2 MiB`.
    public var displayName: String { self == .size4KiB ? "4 KiB" : "2 MiB" }
}

/// An x86-64 4-level page table that allocates its table pages on demand (as the kernel does on
/// a first touch), and counts them.
///
/// Virtual addresses use 48 bits: bits 47-39 index the PML4, 38-30 the PDPT, 29-21 the page
/// directory, 20-12 the page table; each table is one 4 KiB page of 512 8-byte entries. With
/// 2 MiB pages the walk ends at the page directory. Higher address bits are ignored.
public struct FourLevelPageTable: Sendable {
    /// Bytes per page-table page.
    public static let tablePageBytes: UInt64 = 4096
    /// The mask of the 48 translated address bits.
    public static let addressMask: UInt64 = (1 << 48) - 1

    /// The page size mapped by the leaf entries.
    public let pageSize: PageSize
    private var pdpts = UInt64HashSet()
    private var directories = UInt64HashSet()
    private var pageTables = UInt64HashSet()
    private var mappedPages = UInt64HashSet(minimumCapacity: 1024)

    /// An empty table (just the PML4 page) mapping pages of `pageSize`.
    public init(pageSize: PageSize) {
        self.pageSize = pageSize
    }

    /// Walks the table for `virtualAddress`, allocating missing tables and mapping the page.
    /// Returns the memory references the walk made (4 for 4 KiB pages, 3 for 2 MiB).
    @inline(__always)
    @discardableResult
    public mutating func walk(_ virtualAddress: UInt64) -> Int {
        let address = virtualAddress & Self.addressMask
        mappedPages.insert(address >> pageSize.shift)
        // A present lower table implies its parents; check the deepest first.
        if pageSize == .size4KiB {
            if pageTables.insert(address >> 21) { allocateParents(of: address) }
        } else {
            allocateParents(of: address)
        }
        return pageSize.walkLevels
    }

    @inline(__always)
    private mutating func allocateParents(of address: UInt64) {
        if directories.insert(address >> 30) { pdpts.insert(address >> 39) }
    }

    /// Table pages allocated at each level: PML4 (always 1), PDPT, PD, PT.
    public var tablePagesByLevel: [Int] { [1, pdpts.count, directories.count, pageTables.count] }
    /// Table pages allocated in all (4 KiB each).
    public var tablePages: Int { tablePagesByLevel.reduce(0, +) }
    /// Memory the table pages cost (bytes).
    public var tableBytes: UInt64 { UInt64(tablePages) * Self.tablePageBytes }
    /// Distinct pages mapped (touched).
    public var mappedPageCount: Int { mappedPages.count }

    #if DEBUG
    /// Checks that each level has no more tables than its children need and at least one parent per child.
    public func checkInvariants() {
        precondition(pdpts.count <= 512, "a PML4 has 512 entries")
        precondition(pdpts.count <= directories.count && directories.count <= max(pageTables.count, directories.count))
        if pageSize == .size4KiB { precondition(directories.count <= pageTables.count && pageTables.count <= mappedPages.count) }
        else { precondition(pageTables.count == 0 && directories.count <= mappedPages.count) }
    }
    #endif
}
