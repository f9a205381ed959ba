import TraceIO
import TraceModel

/// A call tree for one flame graph: frames merged by function name along each path, every node
/// carrying its subtree's figures. Nodes are stored breadth first, the children of a node
/// contiguous and sorted by name, so the same input always gives the same tree.
public struct FlameGraph: Sendable {
    /// Where a frame's code is: the source position of its heaviest call, or its module.
    public struct Location: Hashable, Sendable {
        /// The source file, when debug info has it.
        public var file: String?
        /// The source line, when debug info has it.
        public var line: Int?
        /// The module (executable or library) path.
        public var module: String

        /// Creates a location.
        public init(file: String?, line: Int?, module: String) {
            self.file = file
            self.line = line
            self.module = module
        }

        /// `file.c:12` (last path component), or the module's file name when there is no line.
        public var shortDescription: String {
            if let file, let line, line > 0 { return (file.split(separator: "/").last.map(String.init) ?? file) + ":\(line)" }
            return module.split(separator: "/").last.map(String.init) ?? module
        }
    }

    /// One frame of the tree.
    public struct Node: Sendable, Equatable {
        /// The frame's name, an index into `names`.
        public var name: Int32
        /// The heaviest call's location, an index into `locations` (-1: none).
        public var location: Int32
        /// The parent node (-1 for the root).
        public var parent: Int32
        /// Frames from the root (the root is 0).
        public var depth: Int32
        /// The first child's index (children are contiguous).
        public var firstChild: Int32
        /// The number of children.
        public var childCount: Int32
        /// The width of the frame: the graph's figure summed over the subtree (bytes or a count).
        /// In a differential graph, the sum over the subtree's paths of max(before, after).
        public var weight: UInt64
        /// The part of `weight` from paths that end at this frame.
        public var selfWeight: UInt64
        /// Bytes of the subtree for the graph's kind (0 when the kind has none).
        public var bytes: UInt64
        /// Blocks or allocations of the subtree for the graph's kind.
        public var count: UInt64
        /// Differential graphs: the figure before (the baseline); 0 otherwise.
        public var before: UInt64
        /// Differential graphs: the figure after; equal to `weight` otherwise.
        public var after: UInt64
        /// Differential graphs: the part of `before` from paths ending here.
        public var selfBefore: UInt64
        /// Differential graphs: the part of `after` from paths ending here (`selfWeight` otherwise).
        public var selfAfter: UInt64

        /// The indices of the children.
        public var children: Range<Int> { Int(firstChild)..<Int(firstChild + childCount) }
    }

    /// The figure the widths show.
    public var kind: FlameGraphKind
    /// True when the tree starts at the allocating frames and grows towards their callers.
    public var inverted: Bool
    /// True for a differential graph (before/after figures per node).
    public var isDifferential: Bool
    /// A title for renderers (the program, or what was compared).
    public var title: String
    /// Frame names; index 0 is the root's name, `all`.
    public var names: [String]
    /// Frame locations referred to by nodes.
    public var locations: [Location]
    /// The nodes; index 0 is the root.
    public var nodes: [Node]

    /// The root node.
    public var root: Node { nodes[0] }

    /// The name of a node.
    public func name(of node: Node) -> String { names[Int(node.name)] }

    /// The location of a node, when known.
    public func location(of node: Node) -> Location? { node.location >= 0 ? locations[Int(node.location)] : nil }

    /// The names from the root's child down to `index`, outermost first (the folded-stack path).
    public func path(to index: Int) -> [String] {
        var result: [String] = []
        var i = index
        while i > 0 {
            result.append(names[Int(nodes[i].name)])
            i = Int(nodes[i].parent)
        }
        return result.reversed()
    }

    /// Node indices in depth-first pre-order, children in name order (paths in sorted order).
    public func depthFirstOrder() -> [Int] {
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        var pending = [0]
        while let i = pending.popLast() {
            order.append(i)
            pending.append(contentsOf: nodes[i].children.reversed())
        }
        return order
    }
}

/// How a flame graph treats threads.
public enum FlameGraphThreads: Sendable, Equatable {
    /// All threads together (the default).
    case merged
    /// One subtree per thread, under a `thread TID (name)` frame.
    case split
    /// Only the stacks of these threads.
    case only(Set<ThreadID>)
}

/// Builds `FlameGraph`s from a `StackProfile`: symbolized frames per distinct instruction pointer
/// (inlined frames expanded), merged by name along each path.
public struct FlameGraphBuilder {
    /// The figure that sets the widths.
    public var kind: FlameGraphKind
    /// Build the inverted tree (allocating frames first, callers below them).
    public var inverted: Bool = false
    /// Thread handling (needs a profile gathered per thread unless `.merged`).
    public var threads: FlameGraphThreads = .merged
    /// Keeps only the stacks with a frame whose name this returns true for (nil: keep all).
    public var filter: ((String) -> Bool)?
    /// The title given to the graph.
    public var title: String = ""

    /// Creates a builder for `kind`.
    public init(kind: FlameGraphKind) { self.kind = kind }

    /// The flame graph of one profile.
    public func build(_ profile: StackProfile) -> FlameGraph {
        var tree = TreeAccumulator()
        tree.indexesChildren = false  // one sorted pass: a node is new whenever the path diverges
        var ends: [Int32] = []
        addSamples(of: profile, to: &tree, side: .after, pathEnds: &ends)
        return tree.finish(kind: kind, inverted: inverted, differential: false, title: title)
    }

    /// The flame graph of one profile, and for each of the profile's samples (in order) the index
    /// of the node its path ends at (-1: left out, as the kind has no figure for it or it was filtered).
    public func buildWithSampleNodes(_ profile: StackProfile) -> (graph: FlameGraph, sampleNodes: [Int32]) {
        var tree = TreeAccumulator()
        tree.indexesChildren = false
        var ends = [Int32](repeating: -1, count: profile.samples.count)
        addSamples(of: profile, to: &tree, side: .after, pathEnds: &ends)
        var newIndex: [Int32] = []
        let graph = tree.finish(kind: kind, inverted: inverted, differential: false, title: title, newIndex: &newIndex)
        for i in ends.indices where ends[i] >= 0 { ends[i] = newIndex[Int(ends[i])] }
        return (graph, ends)
    }

    /// The differential flame graph of two profiles: widths from max(before, after) per path,
    /// before and after figures on every node.
    public func buildDifferential(before: StackProfile, after: StackProfile) -> FlameGraph {
        var tree = TreeAccumulator()
        var ends: [Int32] = []
        addSamples(of: before, to: &tree, side: .before, pathEnds: &ends)
        addSamples(of: after, to: &tree, side: .after, pathEnds: &ends)
        return tree.finish(kind: kind, inverted: inverted, differential: true, title: title)
    }

    /// Adds the profile's paths to `tree`; when `pathEnds` has one slot per sample, each gets the
    /// (accumulator's) node where the sample's path ends.
    private func addSamples(of profile: StackProfile, to tree: inout TreeAccumulator, side: TreeAccumulator.Side, pathEnds: inout [Int32]) {
        // Frames per distinct instruction pointer, interned once, stored flat and outermost first:
        // the frames of the ip numbered i are frameNames/frameLocations[spans[i] ..< spans[i + 1]].
        var ipNumber: [UInt64: Int32] = [:]
        var spans: [Int32] = [0]
        var frameNames: [Int32] = []
        var frameLocations: [Int32] = []
        var keep: [Int32: Bool] = [:]
        var names: [Int32] = []
        var locations: [Int32] = []
        let threadSplit = threads == .split
        var threadLabels: [ThreadID: Int32] = [:]
        var allNames: [Int32] = [], allLocations: [Int32] = [], pathStarts: [Int32] = []
        var pathFigures: [(weight: UInt64, bytes: UInt64, count: UInt64)] = []
        var pathSamples: [Int32] = []
        let mapsEnds = pathEnds.count == profile.samples.count && !pathEnds.isEmpty
        for (sampleIndex, sample) in profile.samples.enumerated() {
            let weight = kind.weight(sample.figures)
            guard weight > 0 else { continue }
            if case .only(let wanted) = threads, !(sample.thread.map(wanted.contains) ?? false) { continue }
            names.removeAll(keepingCapacity: true)
            locations.removeAll(keepingCapacity: true)
            let ips = profile.stacks.frames(of: sample.stack)
            var k = ips.endIndex
            while k > ips.startIndex {
                k -= 1
                let ip = ips[k]
                let number: Int32
                if let known = ipNumber[ip] {
                    number = known
                } else {
                    let symbolized = profile.symbols[ip] ?? []
                    if symbolized.isEmpty {
                        frameNames.append(tree.intern(name: "0x" + String(ip, radix: 16)))
                        frameLocations.append(-1)
                    } else {
                        for frame in symbolized.reversed() {
                            frameNames.append(tree.intern(name: frame.function))
                            frameLocations.append(tree.intern(location: .init(file: frame.file, line: frame.line, module: frame.module)))
                        }
                    }
                    number = Int32(spans.count - 1)
                    spans.append(Int32(frameNames.count))
                    ipNumber[ip] = number
                }
                for f in Int(spans[Int(number)])..<Int(spans[Int(number) + 1]) {
                    names.append(frameNames[f])
                    locations.append(frameLocations[f])
                }
            }
            if names.isEmpty {
                names.append(tree.intern(name: "(no stack)"))
                locations.append(-1)
            }
            if let filter {
                let matches = names.contains { name in
                    if let known = keep[name] { return known }
                    let result = filter(tree.names[Int(name)])
                    keep[name] = result
                    return result
                }
                if !matches { continue }
            }
            if inverted {
                names.reverse()
                locations.reverse()
            }
            if threadSplit, let thread = sample.thread {
                let label = threadLabels[thread] ?? {
                    var text = "thread \(thread.rawValue)"
                    if let name = profile.threadNames[thread], !name.isEmpty { text += " (\(name))" }
                    let id = tree.intern(name: text)
                    threadLabels[thread] = id
                    return id
                }()
                names.insert(label, at: 0)
                locations.insert(-1, at: 0)
            }
            pathStarts.append(Int32(allNames.count))
            allNames.append(contentsOf: names)
            allLocations.append(contentsOf: locations)
            pathFigures.append((weight, kind.bytes(sample.figures), kind.count(sample.figures)))
            if mapsEnds { pathSamples.append(Int32(sampleIndex)) }
        }
        pathStarts.append(Int32(allNames.count))
        // Paths in name order: consecutive paths share their longest prefixes, and in a fresh tree
        // every node is created once, in depth-first order, with no lookup.
        var rank = [Int32](repeating: 0, count: tree.names.count)
        for (r, id) in tree.names.indices.sorted(by: { tree.names[$0] < tree.names[$1] }).enumerated() { rank[id] = Int32(r) }
        let ranked = allNames.map { rank[Int($0)] }
        var order = Array(0..<pathFigures.count)
        ranked.withUnsafeBufferPointer { r in
            pathStarts.withUnsafeBufferPointer { starts in
                order.sort { a, b in
                    var i = Int(starts[a]), j = Int(starts[b])
                    let endA = Int(starts[a + 1]), endB = Int(starts[b + 1])
                    while i < endA && j < endB {
                        if r[i] != r[j] { return r[i] < r[j] }
                        i += 1
                        j += 1
                    }
                    return endA - Int(starts[a]) != endB - Int(starts[b]) ? endA - Int(starts[a]) < endB - Int(starts[b]) : a < b
                }
            }
        }
        for p in order {
            let range = Int(pathStarts[p])..<Int(pathStarts[p + 1])
            let figures = pathFigures[p]
            let end = tree.add(names: allNames[range], locations: allLocations[range], weight: figures.weight, bytes: figures.bytes,
                               count: figures.count, side: side)
            if mapsEnds { pathEnds[Int(pathSamples[p])] = end }
        }
    }
}

/// The tree under construction: nodes in creation order (a parent before its children), found by
/// (parent, name); `finish` sums the subtrees and renumbers breadth first.
struct TreeAccumulator {
    enum Side { case before, after }

    struct Building {
        var name: Int32
        var location: Int32
        var parent: Int32
        var depth: Int32
        var heaviestCall: UInt64 = 0
        var selfBefore: UInt64 = 0
        var selfAfter: UInt64 = 0
        var bytes: UInt64 = 0
        var count: UInt64 = 0
    }

    var names: [String] = ["all"]
    var nameIDs: [String: Int32] = ["all": 0]
    var locations: [FlameGraph.Location] = []
    var locationIDs: [FlameGraph.Location: Int32] = [:]
    var nodes: [Building] = [Building(name: 0, location: -1, parent: -1, depth: 0)]
    var childIndex: [UInt64: Int32] = [:]
    /// False when paths arrive sorted in a single pass (no node is ever looked up again).
    var indexesChildren = true

    mutating func intern(name: String) -> Int32 {
        if let id = nameIDs[name] { return id }
        let id = Int32(names.count)
        names.append(name)
        nameIDs[name] = id
        return id
    }

    mutating func intern(location: FlameGraph.Location) -> Int32 {
        if let id = locationIDs[location] { return id }
        let id = Int32(locations.count)
        locations.append(location)
        locationIDs[location] = id
        return id
    }

    /// The previous path's names and nodes: the next path starts after their common prefix.
    var lastNames: [Int32] = []
    var lastNodes: [Int32] = []

    /// Adds one path (names and locations outermost first, root excluded) with its figures; returns
    /// the node where it ends.
    @discardableResult
    mutating func add(names path: ArraySlice<Int32>, locations: ArraySlice<Int32>, weight: UInt64, bytes: UInt64, count: UInt64, side: Side) -> Int32 {
        let path = Array(path), locations = Array(locations)
        var common = 0
        let limit = min(path.count, lastNames.count)
        while common < limit && path[common] == lastNames[common] { common += 1 }
        lastNames.removeSubrange(common...)
        lastNodes.removeSubrange(common...)
        var node: Int32 = common > 0 ? lastNodes[common - 1] : 0
        for i in 0..<path.count {
            let name = path[i], location = locations[i]
            if i < common {
                node = lastNodes[i]
            } else {
                let key = UInt64(UInt32(node)) << 32 | UInt64(UInt32(name))
                if indexesChildren, let child = childIndex[key] {
                    node = child
                } else {
                    let child = Int32(nodes.count)
                    nodes.append(Building(name: name, location: location, parent: node, depth: nodes[Int(node)].depth + 1))
                    if indexesChildren { childIndex[key] = child }
                    node = child
                }
                lastNames.append(name)
                lastNodes.append(node)
            }
            if weight > nodes[Int(node)].heaviestCall, location >= 0 {
                nodes[Int(node)].heaviestCall = weight
                nodes[Int(node)].location = location
            }
        }
        switch side {
        case .before: nodes[Int(node)].selfBefore &+= weight
        case .after:
            nodes[Int(node)].selfAfter &+= weight
            nodes[Int(node)].bytes &+= bytes
            nodes[Int(node)].count &+= count
        }
        return node
    }

    func finish(kind: FlameGraphKind, inverted: Bool, differential: Bool, title: String) -> FlameGraph {
        var newIndex: [Int32] = []
        return finish(kind: kind, inverted: inverted, differential: differential, title: title, newIndex: &newIndex)
    }

    /// Sums the subtrees and renumbers the nodes breadth first; `newIndex` maps each node of the
    /// accumulator to its index in the finished graph.
    func finish(kind: FlameGraphKind, inverted: Bool, differential: Bool, title: String, newIndex: inout [Int32]) -> FlameGraph {
        let n = nodes.count
        var weight = [UInt64](repeating: 0, count: n)
        var before = [UInt64](repeating: 0, count: n)
        var after = [UInt64](repeating: 0, count: n)
        var bytes = [UInt64](repeating: 0, count: n)
        var count = [UInt64](repeating: 0, count: n)
        var childCount = [Int32](repeating: 0, count: n)
        for i in stride(from: n - 1, through: 0, by: -1) {
            let b = nodes[i]
            weight[i] &+= differential ? max(b.selfBefore, b.selfAfter) : b.selfAfter
            before[i] &+= b.selfBefore
            after[i] &+= b.selfAfter
            bytes[i] &+= b.bytes
            count[i] &+= b.count
            if b.parent >= 0 {
                let p = Int(b.parent)
                weight[p] &+= weight[i]
                before[p] &+= before[i]
                after[p] &+= after[i]
                bytes[p] &+= bytes[i]
                count[p] &+= count[i]
                childCount[p] += 1
            }
        }
        // Children of each node, sorted by name.
        var childStart = [Int](repeating: 0, count: n + 1)
        for i in 0..<n { childStart[i + 1] = childStart[i] + Int(childCount[i]) }
        var fill = childStart
        var children = [Int32](repeating: 0, count: max(n - 1, 0))
        for i in 1..<max(n, 1) {
            let p = Int(nodes[i].parent)
            children[fill[p]] = Int32(i)
            fill[p] += 1
        }
        // Names ranked once, so that sorting compares integers.
        var rank = [Int32](repeating: 0, count: names.count)
        for (r, id) in names.indices.sorted(by: { names[$0] < names[$1] }).enumerated() { rank[id] = Int32(r) }
        for i in 0..<n where childCount[i] > 1 {
            children[childStart[i]..<childStart[i + 1]].sort { rank[Int(nodes[Int($0)].name)] < rank[Int(nodes[Int($1)].name)] }
        }
        // Breadth-first renumbering.
        var order: [Int] = [0]
        order.reserveCapacity(n)
        newIndex = [Int32](repeating: 0, count: n)
        var head = 0
        while head < order.count {
            let i = order[head]
            newIndex[i] = Int32(head)
            head += 1
            for c in children[childStart[i]..<childStart[i + 1]] { order.append(Int(c)) }
        }
        var result: [FlameGraph.Node] = []
        result.reserveCapacity(n)
        var nextChild: Int32 = 1
        for i in order {
            let b = nodes[i]
            let selfWeight = differential ? max(b.selfBefore, b.selfAfter) : b.selfAfter
            result.append(FlameGraph.Node(
                name: b.name, location: b.location, parent: b.parent >= 0 ? newIndex[Int(b.parent)] : -1, depth: b.depth,
                firstChild: nextChild, childCount: childCount[i], weight: weight[i], selfWeight: selfWeight,
                bytes: bytes[i], count: count[i], before: before[i], after: after[i], selfBefore: b.selfBefore, selfAfter: b.selfAfter))
            nextChild += childCount[i]
        }
        return FlameGraph(kind: kind, inverted: inverted, isDifferential: differential, title: title, names: names,
                          locations: locations, nodes: result)
    }
}
