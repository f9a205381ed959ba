/// Parses the text of `/proc/PID/maps` and `/proc/PID/smaps` into regions (kind not yet classified).
enum MapsParser {
    /// Parses `smaps` (or `maps`, which is the same without field lines) text.
    static func parse(_ text: String, path: String) throws -> [Region] {
        var regions: [Region] = []
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = rawLine
            let firstSpace = line.firstIndex(of: " ") ?? line.endIndex
            let head = line[line.startIndex..<firstSpace]
            if head.hasSuffix(":") {
                guard !regions.isEmpty else { throw ProcError.malformed(path: path, line: String(line)) }
                let name = String(head.dropLast())
                let rest = line[firstSpace...].split(separator: " ", omittingEmptySubsequences: true)
                if name == "VmFlags" {
                    regions[regions.count - 1].vmFlags = rest.map(String.init)
                } else if let first = rest.first, let value = UInt64(first) {
                    regions[regions.count - 1].usage.fields.append(
                        SmapsField(name: name, value: value, isKilobytes: rest.count > 1 && rest[1] == "kB"))
                }
                continue
            }
            regions.append(try parseHeader(line, path: path))
        }
        return regions
    }

    /// Parses `"7f..-7f.. r-xp 00001000 fe:00 1234   /usr/lib/x.so"`.
    static func parseHeader(_ line: Substring, path: String) throws -> Region {
        var columns: [Substring] = []
        var rest = line[...]
        // The first five columns are space separated; the name is the rest (it may contain spaces).
        for _ in 0..<5 {
            rest = rest.drop { $0 == " " }
            let end = rest.firstIndex(of: " ") ?? rest.endIndex
            columns.append(rest[rest.startIndex..<end])
            rest = rest[end...]
        }
        let name = String(rest.drop { $0 == " " })
        let bounds = columns[0].split(separator: "-")
        guard bounds.count == 2,
              let start = UInt64(bounds[0], radix: 16), let end = UInt64(bounds[1], radix: 16),
              let permissions = Permissions(columns[1]),
              let offset = UInt64(columns[2], radix: 16),
              let inode = UInt64(columns[4])
        else { throw ProcError.malformed(path: path, line: String(line)) }
        return Region(
            start: VirtualAddress(start), end: VirtualAddress(end), permissions: permissions,
            fileOffset: offset, device: String(columns[3]), inode: inode, name: name,
            kind: .anonymous, usage: RegionUsage(), vmFlags: [])
    }
}
