import AllocatorLab
import Testing

/// The free-list models make exactly the placement decisions of the list-walking implementations
/// that the indexed free lists replaced: digests of every address handed out, every failed request,
/// the occupancy every 256 operations and the final heap (`PlacementDigest`), recorded from those
/// implementations (main at 5852ea5, before the indexes), on seeded workloads with and without a
/// heap limit.
@Suite struct PlacementDigestTests {
    struct PlacementCase: Sendable, CustomTestStringConvertible {
        var model: String
        var seed: UInt64
        var operations: Int
        /// Bytes (nil: no limit).
        var heapLimit: UInt64?
        var digest: UInt64
        var testDescription: String { "\(model) seed \(seed)\(heapLimit.map { " limit \($0)" } ?? "")" }
    }

    static let cases: [PlacementCase] = [
        PlacementCase(model: "first-fit", seed: 1, operations: 20_000, heapLimit: nil, digest: 0x913b8e72d9918b48),
        PlacementCase(model: "first-fit-lifo", seed: 1, operations: 20_000, heapLimit: nil, digest: 0x3280b269fe2cb8c9),
        PlacementCase(model: "next-fit", seed: 1, operations: 20_000, heapLimit: nil, digest: 0xbeb02a19ef5d1c5d),
        PlacementCase(model: "next-fit-lifo", seed: 1, operations: 20_000, heapLimit: nil, digest: 0x238fff12153e5982),
        PlacementCase(model: "best-fit", seed: 1, operations: 20_000, heapLimit: nil, digest: 0xe8139efcccfec606),
        PlacementCase(model: "best-fit-lifo", seed: 1, operations: 20_000, heapLimit: nil, digest: 0x3c36a6e318b7f96d),
        PlacementCase(model: "worst-fit", seed: 1, operations: 20_000, heapLimit: nil, digest: 0x91950ca8aa661dbb),
        PlacementCase(model: "worst-fit-lifo", seed: 1, operations: 20_000, heapLimit: nil, digest: 0x3d2c32bac0c14f52),
        PlacementCase(model: "segregated", seed: 1, operations: 20_000, heapLimit: nil, digest: 0x60a828393fec7da5),
        PlacementCase(model: "tlsf", seed: 1, operations: 20_000, heapLimit: nil, digest: 0xe13a62e58838590a),
        PlacementCase(model: "first-fit", seed: 2, operations: 20_000, heapLimit: 256 << 10, digest: 0xa8b1a4d14eb72478),
        PlacementCase(model: "first-fit-lifo", seed: 2, operations: 20_000, heapLimit: 256 << 10, digest: 0x964277950f67899a),
        PlacementCase(model: "next-fit", seed: 2, operations: 20_000, heapLimit: 256 << 10, digest: 0x4af61f4bf09ab1e9),
        PlacementCase(model: "next-fit-lifo", seed: 2, operations: 20_000, heapLimit: 256 << 10, digest: 0x44924d305e01828c),
        PlacementCase(model: "best-fit", seed: 2, operations: 20_000, heapLimit: 256 << 10, digest: 0x1cbbff8f00cc7ca4),
        PlacementCase(model: "best-fit-lifo", seed: 2, operations: 20_000, heapLimit: 256 << 10, digest: 0xaa7822f47c2b9c2b),
        PlacementCase(model: "worst-fit", seed: 2, operations: 20_000, heapLimit: 256 << 10, digest: 0xfdbf1d4d0b66b065),
        PlacementCase(model: "worst-fit-lifo", seed: 2, operations: 20_000, heapLimit: 256 << 10, digest: 0xb22435d2d9eca6f4),
        PlacementCase(model: "segregated", seed: 2, operations: 20_000, heapLimit: 256 << 10, digest: 0x7bbb5344e159ee3a),
        PlacementCase(model: "tlsf", seed: 2, operations: 20_000, heapLimit: 256 << 10, digest: 0x62ffa68c68065ea5),
        PlacementCase(model: "first-fit", seed: 3, operations: 60_000, heapLimit: nil, digest: 0xc44b0d1da60a4265),
        PlacementCase(model: "first-fit-lifo", seed: 3, operations: 60_000, heapLimit: nil, digest: 0xefe7528cf80227cc),
        PlacementCase(model: "next-fit", seed: 3, operations: 60_000, heapLimit: nil, digest: 0x1071f52f31a69f2f),
        PlacementCase(model: "next-fit-lifo", seed: 3, operations: 60_000, heapLimit: nil, digest: 0xe4e559f96c082cca),
        PlacementCase(model: "best-fit", seed: 3, operations: 60_000, heapLimit: nil, digest: 0x52e61c52d70f091e),
        PlacementCase(model: "best-fit-lifo", seed: 3, operations: 60_000, heapLimit: nil, digest: 0xe995a99cb4650e73),
        PlacementCase(model: "worst-fit", seed: 3, operations: 60_000, heapLimit: nil, digest: 0x2c5b81019a708edb),
        PlacementCase(model: "worst-fit-lifo", seed: 3, operations: 60_000, heapLimit: nil, digest: 0x9fdfb0408eca3fe),
        PlacementCase(model: "segregated", seed: 3, operations: 60_000, heapLimit: nil, digest: 0xfce4d50e4d84868f),
        PlacementCase(model: "tlsf", seed: 3, operations: 60_000, heapLimit: nil, digest: 0x5b0a2c24b0f07b50),
    ]

    @Test(arguments: cases)
    func sameDecisionsAsTheListWalk(_ c: PlacementCase) throws {
        let model = try #require(AllocatorCatalog.make(c.model, limitBytes: c.heapLimit ?? .max))
        #expect(PlacementDigest.digest(model, seed: c.seed, operations: c.operations) == c.digest)
    }
}
