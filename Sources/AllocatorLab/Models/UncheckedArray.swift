/// A growable array of plain values for the models' hot loops: no copy-on-write check on each write
/// (an `Array` held by a class pays a uniqueness check per element written) and bounds checked in
/// debug builds only.
///
/// It has reference semantics (copies share storage) and does not free itself: the class that holds
/// it calls `deallocate()` in its `deinit`.
struct UncheckedArray<Element: BitwiseCopyable> {
    private var storage: UnsafeMutablePointer<Element>
    private var capacity: Int
    /// The number of elements.
    private(set) var count = 0

    /// Creates an empty array with room for `capacity` elements before it grows.
    init(capacity: Int = 16) {
        self.capacity = max(capacity, 1)
        storage = .allocate(capacity: self.capacity)
    }

    /// Creates an array of `count` copies of `value`.
    init(repeating value: Element, count: Int) {
        self.init(capacity: count)
        storage.initialize(repeating: value, count: count)
        self.count = count
    }

    /// The element at `index`.
    @inline(__always) subscript(index: Int) -> Element {
        unsafeAddress {
            assert(index >= 0 && index < count, "index \(index) out of 0..<\(count)")
            return UnsafePointer(storage + index)
        }
        nonmutating unsafeMutableAddress {
            assert(index >= 0 && index < count, "index \(index) out of 0..<\(count)")
            return storage + index
        }
    }

    /// Whether there are no elements.
    var isEmpty: Bool { count == 0 }
    /// `0 ..< count`.
    var indices: Range<Int> { 0 ..< count }

    /// The elements, as a buffer for loops (valid until the array grows or is deallocated).
    var buffer: UnsafeMutableBufferPointer<Element> { UnsafeMutableBufferPointer(start: storage, count: count) }

    /// Adds `value` at the end.
    @inline(__always) mutating func append(_ value: Element) {
        if count == capacity { grow(to: count + 1) }
        (storage + count).initialize(to: value)
        count += 1
    }

    /// Adds `count` copies of `value` at the end.
    mutating func append(repeating value: Element, count added: Int) {
        if count + added > capacity { grow(to: count + added) }
        (storage + count).initialize(repeating: value, count: added)
        count += added
    }

    /// Inserts `value` at `index`, moving the elements from there on up by one.
    mutating func insert(_ value: Element, at index: Int) {
        assert(index >= 0 && index <= count, "insertion index \(index) out of 0...\(count)")
        if count == capacity { grow(to: count + 1) }
        (storage + index + 1).update(from: storage + index, count: count - index)
        storage[index] = value
        count += 1
    }

    /// Removes the element at `index`, moving the ones after it down by one.
    mutating func remove(at index: Int) {
        assert(index >= 0 && index < count, "index \(index) out of 0..<\(count)")
        (storage + index).update(from: storage + index + 1, count: count - index - 1)
        count -= 1
    }

    /// Removes the last `k` elements.
    mutating func removeLast(_ k: Int = 1) {
        assert(k <= count, "removing \(k) of \(count) elements")
        count -= k
    }

    /// Removes and returns the last element, or nil when empty.
    mutating func popLast() -> Element? {
        guard count > 0 else { return nil }
        count -= 1
        return storage[count]
    }

    /// Frees the storage; the array must not be used afterwards.
    func deallocate() { storage.deallocate() }

    private mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let fresh = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        fresh.moveInitialize(from: storage, count: count)
        storage.deallocate()
        storage = fresh
        capacity = newCapacity
    }
}
