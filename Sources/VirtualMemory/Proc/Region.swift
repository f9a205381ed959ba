/// A virtual address in a process's address space.
public struct VirtualAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The address as an integer.
    public var rawValue: UInt64
    /// Wraps an integer address.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    /// Orders addresses numerically.
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    /// `0x7f12...` in lowercase hex.
    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// A physical page frame number (PFN): the physical address divided by the page size.
public struct FrameNumber: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The frame number as an integer.
    public var rawValue: UInt64
    /// Wraps a frame number.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    /// Orders frames numerically.
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    /// `0x1a2b3` in lowercase hex.
    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// The access rights of a mapping, as in the second column of `/proc/PID/maps`.
public struct Permissions: Hashable, Sendable, CustomStringConvertible {
    /// Pages may be read.
    public var read: Bool
    /// Pages may be written.
    public var write: Bool
    /// Pages may be executed.
    public var execute: Bool
    /// The mapping is shared (`s`) rather than private copy-on-write (`p`).
    public var shared: Bool

    /// Parses `"r-xp"`; returns nil for anything else.
    public init?(_ text: Substring) {
        let c = Array(text.utf8)
        guard c.count == 4 else { return nil }
        read = c[0] == UInt8(ascii: "r")
        write = c[1] == UInt8(ascii: "w")
        execute = c[2] == UInt8(ascii: "x")
        shared = c[3] == UInt8(ascii: "s")
    }

    /// No access at all (`---`): a guard page or a reservation.
    public var isNoAccess: Bool { !read && !write && !execute }

    /// `"r-xp"`.
    public var description: String {
        (read ? "r" : "-") + (write ? "w" : "-") + (execute ? "x" : "-") + (shared ? "s" : "p")
    }
}

/// What a region of the address space is for, inferred from its name, rights and neighbours.
public enum RegionKind: String, CaseIterable, Sendable {
    /// Machine code of the main executable.
    case programText = "program text"
    /// Read-only data of the main executable (headers, constants, relocated read-only data).
    case programReadOnlyData = "program rodata"
    /// Initialised writable data of the main executable (`.data`).
    case programData = "program data"
    /// Zero-initialised data of the main executable (`.bss`), anonymous memory right after `.data`.
    case programBSS = "program bss"
    /// The classic `brk` heap.
    case heap = "heap"
    /// The main thread's stack.
    case mainStack = "main stack"
    /// A stack of another thread (contains a thread's stack pointer, or sits right above a guard page).
    case threadStack = "thread stack"
    /// Other anonymous memory (large mallocs, allocator arenas, `mmap(MAP_ANONYMOUS)`).
    case anonymous = "anonymous"
    /// A mapped file that is not a shared library.
    case fileMapping = "file mapping"
    /// A shared library (`*.so*`, including the dynamic loader).
    case sharedLibrary = "shared library"
    /// Shared memory (`/dev/shm`, `memfd:`, System V).
    case sharedMemory = "shared memory"
    /// The kernel's virtual dynamic shared object (fast `gettimeofday` and friends).
    case vdso = "vdso"
    /// Kernel data read by the vdso.
    case vvar = "vvar"
    /// The legacy fixed-address system call page.
    case vsyscall = "vsyscall"
    /// A small inaccessible region that stops a stack or buffer overflowing into its neighbour.
    case guardPage = "guard page"
    /// A large inaccessible region: address space reserved (`PROT_NONE`) but unusable until `mprotect`.
    case reserved = "reserved"
}

/// One field of `/proc/PID/smaps` for a region, e.g. `Rss: 120 kB`.
public struct SmapsField: Hashable, Sendable {
    /// The field name without the colon, e.g. `"Private_Dirty"`.
    public var name: String
    /// The value as written in the file (kilobytes when `isKilobytes`).
    public var value: UInt64
    /// Whether the value carries a `kB` unit.
    public var isKilobytes: Bool
}

/// The memory accounting of one region (or of a whole process) from `smaps`.
public struct RegionUsage: Hashable, Sendable {
    /// Every numeric field in file order.
    public var fields: [SmapsField] = []

    /// Creates an empty usage record.
    public init() {}

    /// The value of the field `name` as written (kilobytes for size fields), 0 when missing.
    public subscript(name: String) -> UInt64 {
        fields.first { $0.name == name }?.value ?? 0
    }

    /// The size field `name` in bytes (0 when missing).
    public func bytes(_ name: String) -> UInt64 { self[name] * 1024 }

    /// Virtual size in bytes.
    public var size: UInt64 { bytes("Size") }
    /// Resident set size in bytes: pages of this region in RAM.
    public var rss: UInt64 { bytes("Rss") }
    /// Proportional set size in bytes: resident bytes, shared pages divided by their sharer count.
    public var pss: UInt64 { bytes("Pss") }
    /// Resident bytes shared with other processes and unmodified.
    public var sharedClean: UInt64 { bytes("Shared_Clean") }
    /// Resident bytes shared with other processes and modified.
    public var sharedDirty: UInt64 { bytes("Shared_Dirty") }
    /// Resident bytes only this process maps, unmodified.
    public var privateClean: UInt64 { bytes("Private_Clean") }
    /// Resident bytes only this process maps, modified (the cost of this process).
    public var privateDirty: UInt64 { bytes("Private_Dirty") }
    /// Bytes swapped out.
    public var swap: UInt64 { bytes("Swap") }
    /// Bytes backed by transparent huge pages.
    public var anonymousHugePages: UInt64 { bytes("AnonHugePages") }
    /// Anonymous resident bytes.
    public var anonymous: UInt64 { bytes("Anonymous") }

    /// Adds every field of `other` into this record (fields missing here are appended).
    public mutating func add(_ other: RegionUsage) {
        for field in other.fields {
            if let index = fields.firstIndex(where: { $0.name == field.name }) {
                fields[index].value += field.value
            } else {
                fields.append(field)
            }
        }
    }
}

/// One mapping of a process: a line of `/proc/PID/maps` with its `smaps` accounting.
public struct Region: Hashable, Sendable {
    /// First address of the region.
    public var start: VirtualAddress
    /// One past the last address of the region.
    public var end: VirtualAddress
    /// Access rights.
    public var permissions: Permissions
    /// Offset in bytes into the mapped file (0 for anonymous memory).
    public var fileOffset: UInt64
    /// Device of the mapped file, `"major:minor"` in hex.
    public var device: String
    /// Inode of the mapped file (0 for anonymous memory).
    public var inode: UInt64
    /// The path or pseudo-name (`[heap]`, `[stack]`, `[vdso]`); empty for anonymous memory.
    public var name: String
    /// What the region is for.
    public var kind: RegionKind
    /// Memory accounting from `smaps` (empty when read from `maps` only).
    public var usage: RegionUsage
    /// The kernel's VmFlags mnemonics (`rd wr mr mw me ac`), when `smaps` gives them.
    public var vmFlags: [String]

    /// Size in bytes.
    public var sizeBytes: UInt64 { end.rawValue - start.rawValue }

    /// Whether `address` lies inside the region.
    public func contains(_ address: VirtualAddress) -> Bool { start <= address && address < end }

    /// Size in base pages of `pageSize` bytes.
    public func pageCount(pageSize: UInt64) -> UInt64 { sizeBytes / pageSize }
}
