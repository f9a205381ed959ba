import Foundation
import TraceIO

/// Names instruction addresses of a process with `llvm-symbolizer` in one batch.
///
/// A small private symbolizer for live processes (the `faults` command). TraceIO's `Symbolizer`
/// works from a trace's module maps, which cannot be built outside TraceIO yet (no public
/// `ModuleMap` initializer); the two are to be merged.
public struct ProcessSymbolizer {
    /// The `llvm-symbolizer` executables tried, in order.
    public static let candidatePaths = ["/usr/bin/llvm-symbolizer", "/opt/swift/usr/bin/llvm-symbolizer"]

    /// The modules of the process.
    public var modules: ExecutableMappings

    /// Creates a symbolizer for a process whose modules are `modules`.
    public init(modules: ExecutableMappings) { self.modules = modules }

    /// Function names for `addresses`, keyed by address; unresolved ones read `module+0xoffset`
    /// or `0xaddress` when outside every module.
    public func functionNames(for addresses: [UInt64]) -> [UInt64: String] {
        var names: [UInt64: String] = [:]
        var queries: [(address: UInt64, file: String, fileAddress: UInt64)] = []
        var segmentsByPath: [String: ELFLoadSegments] = [:]
        for address in Set(addresses).sorted() {
            guard let mapping = modules.mapping(containing: address) else {
                names[address] = "0x" + String(address, radix: 16)
                continue
            }
            let fileOffset = address - mapping.start + mapping.fileOffset
            let segments = segmentsByPath[mapping.path] ?? ELFLoadSegments(path: mapping.path)
            segmentsByPath[mapping.path] = segments
            let base = (mapping.path as NSString).lastPathComponent
            names[address] = "\(base)+0x" + String(fileOffset, radix: 16)
            if LLVMSymbolizerSession.canQuote(mapping.path) {
                queries.append((address, mapping.path, segments.virtualAddress(ofFileOffset: fileOffset)))
            }
        }
        guard !queries.isEmpty,
              let tool = Self.candidatePaths.first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
              let session = LLVMSymbolizerSession(path: tool, arguments: ["--demangle", "--functions=linkage", "--inlining=false", "--output-style=JSON"])
        else { return names }
        let answers = session.lookUp(queries.map { ($0.file, $0.fileAddress) })
        for (query, answer) in zip(queries, answers) {
            guard let object = try? JSONSerialization.jsonObject(with: answer) as? [String: Any],
                  let symbols = object["Symbol"] as? [[String: Any]],
                  let name = symbols.first?["FunctionName"] as? String,
                  !name.isEmpty, name != "??" else { continue }
            names[query.address] = name
        }
        return names
    }
}
