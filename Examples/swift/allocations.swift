// A Swift program for MemAtlas: class instances and arrays allocate through swift_allocObject and
// malloc; the summary shows their call sites with demangled Swift names.
final class Node {
    var value: Int
    var next: Node?
    init(value: Int, next: Node?) {
        self.value = value
        self.next = next
    }
}

@inline(never)
func buildList(count: Int) -> Node? {
    var head: Node? = nil
    for i in 0..<count { head = Node(value: i, next: head) }
    return head
}

@inline(never)
func makeBuffers(count: Int) -> [[UInt8]] {
    (0..<count).map { [UInt8](repeating: UInt8(truncatingIfNeeded: $0), count: 256 + $0) }
}

var list = buildList(count: 5000)
let buffers = makeBuffers(count: 200)
var total = 0
while let node = list {
    total += node.value
    list = node.next
}
print("sum \(total), buffers \(buffers.count)")
