/// Every model by its command-line name.
public enum AllocatorCatalog {
    /// The names `--allocator` accepts, in the order `all` lists them.
    public static let names: [String] =
        SequentialFitAllocator.Policy.allCases.flatMap { [$0.rawValue, $0.rawValue + "-lifo"] }
        + ["segregated", "tlsf", "buddy", "slab", "pymalloc", "compacting-gc", "compacting-gc-loh-compact"]

    /// A fresh model named `name` with a heap limit in bytes, or nil for an unknown name.
    public static func make(_ name: String, limitBytes: UInt64 = .max) -> (any AllocatorModel)? {
        for policy in SequentialFitAllocator.Policy.allCases {
            if name == policy.rawValue { return SequentialFitAllocator(policy: policy, ordering: .addressOrdered, limitBytes: limitBytes) }
            if name == policy.rawValue + "-lifo" { return SequentialFitAllocator(policy: policy, ordering: .lifo, limitBytes: limitBytes) }
        }
        switch name {
        case "segregated": return SegregatedFitAllocator(limitBytes: limitBytes)
        case "tlsf": return TLSFAllocator(limitBytes: limitBytes)
        case "buddy": return BuddyAllocator(limitBytes: limitBytes)
        case "slab": return SlabAllocator(limitBytes: limitBytes)
        case "pymalloc": return PymallocModel(limitBytes: limitBytes)
        case "compacting-gc": return CompactingCollector(limitBytes: limitBytes)
        case "compacting-gc-loh-compact": return CompactingCollector(compactLargeObjectHeapOnce: true, limitBytes: limitBytes)
        default: return nil
        }
    }
}
