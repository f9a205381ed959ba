import Foundation
import TraceModel

/// One source-level frame of a symbolized address (an address may give several when calls were
/// inlined: the innermost comes first).
public struct SymbolizedFrame: Sendable, Codable, Hashable {
    /// The function's name, demangled (C++, Rust, Swift); `0x…` when unknown.
    public var function: String
    /// The source file, when debug info has it.
    public var file: String?
    /// The source line, when debug info has it.
    public var line: Int?
    /// The module (executable or library) path.
    public var module: String
    /// True for a frame that the compiler inlined into the next one.
    public var inlined: Bool

    /// Creates a frame.
    public init(function: String, file: String? = nil, line: Int? = nil, module: String, inlined: Bool = false) {
        self.function = function
        self.file = file
        self.line = line
        self.module = module
        self.inlined = inlined
    }

    /// `function file:line`, with the file's last path component only.
    public var shortDescription: String {
        var text = function
        if let file, let line, line > 0 { text += "  " + (file as NSString).lastPathComponent + ":\(line)" }
        else { text += "  (" + (module as NSString).lastPathComponent + ")" }
        return text
    }
}

/// An instruction address inside a module file: what the symbolizer looks up.
public struct CodeLocation: Hashable, Sendable {
    /// The module path, as recorded.
    public var module: String
    /// The address in the file's own address space.
    public var fileAddress: UInt64
    /// The file to read symbols from: the module's file when it is still the one that ran (same
    /// build id), else its separate debug file; nil when neither is there.
    public var file: String?
}

/// Resolves instruction pointers from a trace to functions and source lines, at report time:
/// module map + offset, looked up in batch by `llvm-symbolizer` (DWARF, inlining, demangling), with
/// the ELF symbol table as the fallback and Swift names demangled by the Swift runtime.
public final class Symbolizer {
    /// Where separate debug files are looked up by build id, unless told otherwise.
    public static let defaultDebugDirectory = "/usr/lib/debug"
    private let moduleMaps: [ModuleMap]
    private var cache: [UInt64: [SymbolizedFrame]] = [:]
    private var elfSymbols: [String: [ELFFile.Symbol]] = [:]
    private var symbolFiles: [String: String?] = [:]
    private let debugDirectory: String
    /// The llvm-symbolizer in use, or nil when none was found.
    public let symbolizerPath: String?
    private var session: LLVMSymbolizerSession?

    /// Creates a symbolizer for a trace's module maps.
    /// - Parameters:
    ///   - debugDirectory: where separate debug files are found by build id.
    ///   - session: a running llvm-symbolizer to use (one warmed up while the trace was read); by
    ///     default one is started at the first lookup.
    public init(moduleMaps: [ModuleMap], symbolizerPath: String? = Symbolizer.findLLVMSymbolizer(),
                debugDirectory: String = Symbolizer.defaultDebugDirectory, session: LLVMSymbolizerSession? = nil) {
        self.moduleMaps = moduleMaps
        self.symbolizerPath = symbolizerPath
        self.debugDirectory = debugDirectory
        self.session = session
    }

    func symbolFile(for module: Module) -> String? {
        if let known = symbolFiles[module.path] { return known }
        let file = Self.symbolFile(for: module, debugDirectory: debugDirectory)
        symbolFiles[module.path] = file
        return file
    }

    /// The file that holds a module's symbols. A module file replaced or deleted since the run (a
    /// rebuild; the kernel then names the running executable `PATH (deleted)`) is used only when it
    /// has the build id that ran, so that symbols never come from different code; otherwise the
    /// separate debug file `.build-id/xx/rest.debug` when there is one.
    static func symbolFile(for module: Module, debugDirectory: String) -> String? {
        var path = module.path
        let deleted = " (deleted)"
        if path.hasSuffix(deleted), !FileManager.default.fileExists(atPath: path) { path = String(path.dropLast(deleted.count)) }
        if module.buildID.isEmpty { return FileManager.default.fileExists(atPath: path) ? path : nil }
        if let elf = try? ELFFile(path: path), elf.buildID == module.buildID { return path }
        let hex = module.buildIDHex
        let debug = debugDirectory + "/.build-id/" + hex.prefix(2) + "/" + hex.dropFirst(2) + ".debug"
        if hex.count > 2, let elf = try? ELFFile(path: debug), elf.buildID == module.buildID { return debug }
        return nil
    }

    /// Finds llvm-symbolizer: `$MEMATLAS_SYMBOLIZER`, next to the Swift toolchain, or on PATH.
    public static func findLLVMSymbolizer() -> String? {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let explicit = environment["MEMATLAS_SYMBOLIZER"] { candidates.append(explicit) }
        let path = (environment["PATH"] ?? "/usr/bin").split(separator: ":").map(String.init)
        for dir in path where FileManager.default.isExecutableFile(atPath: dir + "/swift") {
            candidates.append(dir + "/llvm-symbolizer")
        }
        candidates.append("/opt/swift/usr/bin/llvm-symbolizer")
        candidates += path.map { $0 + "/llvm-symbolizer" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The module and file address of a runtime instruction pointer, looked up in the module map in
    /// effect when `stack` was captured (then in later maps: a library may have been mapped in
    /// just before its first stack was seen; then in earlier ones).
    public func locate(_ ip: UInt64, stack: StackID = StackID(UInt32.max)) -> CodeLocation? {
        guard !moduleMaps.isEmpty, allSegments.contains(ip) else { return nil }
        // The last map that came before the stack (maps are in stream order: stacksBefore grows).
        var low = 0, high = moduleMaps.count
        while low < high {
            let mid = (low + high) / 2
            if moduleMaps[mid].stacksBefore < stack.rawValue { low = mid + 1 } else { high = mid }
        }
        let first = max(low - 1, 0)
        var i = first
        while true {
            if let module = segmentIndex(i).module(containing: ip) {
                return CodeLocation(module: module.path, fileAddress: ip &- module.loadBias, file: symbolFile(for: module))
            }
            // first, first + 1, ..., last, then first - 1, ..., 0
            if i >= first { i = i + 1 < moduleMaps.count ? i + 1 : first - 1 } else { i -= 1 }
            if i < 0 { return nil }
        }
    }

    /// Each module map's segments by address, built when first needed.
    private lazy var segmentIndexes = [SegmentIndex?](repeating: nil, count: moduleMaps.count)
    private func segmentIndex(_ map: Int) -> SegmentIndex {
        if let index = segmentIndexes[map] { return index }
        let index = SegmentIndex(moduleMaps[map].modules)
        segmentIndexes[map] = index
        return index
    }

    /// The segments of every module of every map: an address outside all of them (a JIT's code)
    /// is answered at once, however many maps the trace has.
    private lazy var allSegments = CoveredAddresses(moduleMaps)

    /// Symbolizes instruction pointers (return addresses: each is looked up at `ip - 1`, the call).
    /// Results are cached; addresses outside every module give a `0x…` frame.
    public func symbolize(_ ips: [UInt64]) -> [UInt64: [SymbolizedFrame]] {
        var pending: [(ip: UInt64, location: CodeLocation)] = []
        var seen = Set<UInt64>()
        for ip in ips where cache[ip] == nil && seen.insert(ip).inserted {
            let location = locate(ip &- 1)
            if let location, location.file != nil {
                pending.append((ip, location))
            } else if let location, !location.module.isEmpty {
                // The module's file is gone or is other code now: name the place, not a guess.
                let name = (location.module as NSString).lastPathComponent
                cache[ip] = [SymbolizedFrame(function: "\(name)+0x" + String(location.fileAddress, radix: 16), module: location.module)]
            } else {
                cache[ip] = [SymbolizedFrame(function: "0x" + String(ip, radix: 16), module: "?")]
            }
        }
        if !pending.isEmpty {
            let resolved = runLLVMSymbolizer(pending.map(\.location)) ?? []
            for (i, item) in pending.enumerated() {
                var frames = i < resolved.count ? resolved[i] : []
                if frames.isEmpty || frames.allSatisfy({ $0.function == "??" || $0.function.isEmpty }) {
                    frames = [fallbackFrame(item.location)]
                }
                cache[item.ip] = frames.map { frame in
                    var f = frame
                    f.function = Demangler.demangle(f.function)
                    f.module = item.location.module
                    return f
                }
            }
        }
        var result: [UInt64: [SymbolizedFrame]] = [:]
        for ip in ips { result[ip] = cache[ip] }
        return result
    }

    private func fallbackFrame(_ location: CodeLocation) -> SymbolizedFrame {
        let file = location.file ?? location.module
        if elfSymbols[file] == nil {
            elfSymbols[file] = (try? ELFFile(path: file))?.functionSymbols() ?? []
        }
        let symbols = elfSymbols[file]!
        var lo = 0, hi = symbols.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if symbols[mid].address <= location.fileAddress { lo = mid + 1 } else { hi = mid }
        }
        if lo > 0 {
            let symbol = symbols[lo - 1]
            if symbol.size == 0 || location.fileAddress < symbol.address + symbol.size {
                return SymbolizedFrame(function: symbol.name, module: location.module)
            }
        }
        let name = (location.module as NSString).lastPathComponent
        return SymbolizedFrame(function: "\(name)+0x" + String(location.fileAddress, radix: 16), module: location.module)
    }

    private func runLLVMSymbolizer(_ locations: [CodeLocation]) -> [[SymbolizedFrame]]? {
        if session == nil, let symbolizerPath { session = LLVMSymbolizerSession(path: symbolizerPath) }
        guard let session else { return nil }
        // A file name llvm-symbolizer's input cannot hold is left to the ELF fallback.
        let asked = locations.indices.filter { LLVMSymbolizerSession.canQuote(locations[$0].file ?? locations[$0].module) }
        let answers = session.lookUp(asked.map { (locations[$0].file ?? locations[$0].module, locations[$0].fileAddress) })
        var lines = [Data?](repeating: nil, count: locations.count)
        for (i, answer) in zip(asked, answers) { lines[i] = answer }
        var results: [[SymbolizedFrame]] = []
        for line in lines {
            guard let line else {
                results.append([])
                continue
            }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                results.append([])
                continue
            }
            let module = object["ModuleName"] as? String ?? ""
            let symbols = object["Symbol"] as? [[String: Any]] ?? []
            var frames: [SymbolizedFrame] = []
            for (i, symbol) in symbols.enumerated() {
                let function = symbol["FunctionName"] as? String ?? "??"
                let file = (symbol["FileName"] as? String).flatMap { $0.isEmpty ? nil : $0 }
                let line = symbol["Line"] as? Int
                frames.append(SymbolizedFrame(function: function, file: file, line: line == 0 ? nil : line, module: module, inlined: i < symbols.count - 1))
            }
            results.append(frames)
        }
        return results
    }
}

/// Demangles Swift symbols through the Swift runtime's `swift_demangle` and C++ symbols through
/// `__cxa_demangle` (both already loaded in this process).
public enum Demangler {
    private typealias SwiftDemangle = @convention(c) (UnsafePointer<CChar>, Int, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int>?, UInt32) -> UnsafeMutablePointer<CChar>?
    private typealias CxaDemangle = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int32>?) -> UnsafeMutablePointer<CChar>?

    private static let swiftDemangle: SwiftDemangle? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "swift_demangle").map { unsafeBitCast($0, to: SwiftDemangle.self) }
    private static let cxaDemangle: CxaDemangle? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__cxa_demangle").map { unsafeBitCast($0, to: CxaDemangle.self) }

    /// The demangled form of a Swift (`$s…`) or C++ (`_Z…`) symbol; other names unchanged.
    public static func demangle(_ name: String) -> String {
        if name.hasPrefix("$s") || name.hasPrefix("_$s") || name.hasPrefix("$S") || name.hasPrefix("_T0") {
            guard let swiftDemangle else { return name }
            return name.withCString { cName -> String in
                guard let out = swiftDemangle(cName, strlen(cName), nil, nil, 0) else { return name }
                defer { free(out) }
                return String(cString: out)
            }
        }
        if name.hasPrefix("_Z") {
            guard let cxaDemangle else { return name }
            return name.withCString { cName -> String in
                var status: Int32 = 0
                guard let out = cxaDemangle(cName, nil, nil, &status), status == 0 else { return name }
                defer { free(out) }
                return String(cString: out)
            }
        }
        return name
    }
}

/// The segments of one module map, sorted by runtime address for binary search (the segments
/// loaded at one moment cannot overlap).
struct SegmentIndex {
    private var starts: [UInt64] = []
    private var ends: [UInt64] = []
    private var owners: [Int] = []
    private let modules: [Module]

    init(_ modules: [Module]) {
        self.modules = modules
        var ranges: [(start: UInt64, end: UInt64, owner: Int)] = []
        for (i, module) in modules.enumerated() {
            for segment in module.segments where segment.size > 0 {
                let start = segment.fileAddress &+ module.loadBias
                ranges.append((start, start &+ segment.size, i))
            }
        }
        ranges.sort { ($0.start, $0.owner) < ($1.start, $1.owner) }
        starts = ranges.map(\.start)
        ends = ranges.map(\.end)
        owners = ranges.map(\.owner)
    }

    /// The module with a segment holding `address`.
    func module(containing address: UInt64) -> Module? {
        let i = lastStart(atOrBefore: address, in: starts)
        return i >= 0 && address < ends[i] ? modules[owners[i]] : nil
    }
}

/// The addresses covered by any segment of any module of a trace, as disjoint ranges (the maps of
/// different moments can overlap: a library unloaded, another loaded in its place).
struct CoveredAddresses {
    private var starts: [UInt64] = []
    private var ends: [UInt64] = []

    init(_ maps: [ModuleMap]) {
        var ranges: [(start: UInt64, end: UInt64)] = []
        for module in Set(maps.flatMap(\.modules)) {
            for segment in module.segments where segment.size > 0 {
                let start = segment.fileAddress &+ module.loadBias
                ranges.append((start, start &+ segment.size))
            }
        }
        ranges.sort { $0.start < $1.start }
        for range in ranges {
            if let last = ends.last, range.start <= last {
                ends[ends.count - 1] = max(last, range.end)
            } else {
                starts.append(range.start)
                ends.append(range.end)
            }
        }
    }

    func contains(_ address: UInt64) -> Bool {
        let i = lastStart(atOrBefore: address, in: starts)
        return i >= 0 && address < ends[i]
    }
}

/// The index of the last element of sorted `starts` that is at most `address`, or -1.
private func lastStart(atOrBefore address: UInt64, in starts: [UInt64]) -> Int {
    var low = 0, high = starts.count
    while low < high {
        let mid = (low + high) / 2
        if starts[mid] <= address { low = mid + 1 } else { high = mid }
    }
    return low - 1
}
