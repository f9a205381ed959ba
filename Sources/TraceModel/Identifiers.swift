/// A virtual address in the profiled process.
public struct Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The address as an unsigned 64-bit number.
    public var rawValue: UInt64
    /// Wraps a raw address.
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    /// The null address (a failed allocation).
    public static let null = Address(0)
    @inlinable public static func < (a: Address, b: Address) -> Bool { a.rawValue < b.rawValue }
    /// `0x` followed by lowercase hex digits.
    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// The id of a deduplicated call stack in a trace; `StackID.none` means no stack was captured.
public struct StackID: Hashable, Comparable, Sendable {
    /// Stack ids count from 1 in the order the stacks first appear in the trace.
    public var rawValue: UInt32
    /// Wraps a raw stack id.
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    /// The "no stack" id.
    @inlinable public static var none: StackID { StackID(0) }
    @inlinable public static func < (a: StackID, b: StackID) -> Bool { a.rawValue < b.rawValue }
}

/// A kernel thread id (as `gettid()` returns it).
public struct ThreadID: Hashable, Comparable, Sendable {
    /// The kernel's thread id.
    public var rawValue: UInt32
    /// Wraps a raw thread id.
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public static func < (a: ThreadID, b: ThreadID) -> Bool { a.rawValue < b.rawValue }
}
