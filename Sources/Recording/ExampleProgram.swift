import Foundation

/// The bundled example programs under `Examples/`, compiled with the system compiler on first use.
public enum ExampleProgram {
    /// The package's `Examples` folder, found from this file's location at build time.
    public static let examplesDirectory = RecorderLibrary.packageRoot.appendingPathComponent("Examples")

    /// The example `mematlas run` records when given no program.
    public static let defaultExample = "c/demo_allocations.c"

    /// The examples `mematlas run --example` offers, with what each shows. (The others under
    /// `Examples/` need arguments, a companion library or a test to drive them.)
    public static let learning: [(path: String, shows: String)] = [
        ("c/demo_allocations.c", "a peak, a leak, temporary allocations, realloc growth, calloc, aligned blocks, an mmap"),
        ("cpp/pointers.cpp", "passing by value copies an object, by reference or pointer does not; unique_ptr, shared_ptr, weak_ptr; a leak"),
        ("cpp/threads.cpp", "eight threads allocating, and freeing each other's blocks"),
        ("c/heap_holes.c", "holes in the heap: the live heap shrinks, RSS stays high (see the report's heap map)"),
        ("c/lab_fragmentation.c", "a heap that fragments; compare allocators on it with `mematlas simulate`"),
        ("c/phases.c", "phases of work from different functions (select them on the report's timeline)"),
        ("c/fork_exec.c", "fork, exec and _exit: one trace per process"),
    ]

    /// The example a user named: `cpp/pointers.cpp`, `cpp/pointers` or just `pointers`.
    public static func resolve(_ name: String) throws -> String {
        let all = learning.map(\.path)
        if all.contains(name) { return name }
        let matches = all.filter { ($0 as NSString).deletingPathExtension == name || (($0 as NSString).lastPathComponent as NSString).deletingPathExtension == name }
        if matches.count == 1 { return matches[0] }
        let list = learning.map { (($0.path as NSString).lastPathComponent as NSString).deletingPathExtension }.joined(separator: ", ")
        throw RecorderBuildError(message: "no example named \(name); the examples are: \(list)")
    }

    /// Compiles an example (`c/NAME.c` or `cpp/NAME.cpp`) into the cache and returns the executable.
    public static func build(_ relativePath: String) throws -> String {
        let source = examplesDirectory.appendingPathComponent(relativePath)
        guard let contents = try? Data(contentsOf: source) else {
            throw RecorderBuildError(message: "example \(relativePath) not found under \(examplesDirectory.path)")
        }
        var hasher = FNV1a()
        hasher.add(relativePath)
        hasher.add(contents)
        let name = source.deletingPathExtension().lastPathComponent
        let directory = RecorderLibrary.cacheDirectory().appendingPathComponent("examples/\(String(hasher.value, radix: 16))")
        let executable = directory.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: executable.path) { return executable.path }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let cxx = source.pathExtension == "cpp"
        guard let compiler = (cxx ? ["c++", "g++", "clang++"] : ["cc", "gcc", "clang"]).compactMap(RecorderLibrary.findExecutable).first else {
            throw RecorderBuildError(message: "no C/C++ compiler on PATH to build the example \(relativePath)")
        }
        let temporary = executable.path + ".tmp-\(getpid())"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: compiler)
        process.arguments = ["-O1", "-g", "-fno-omit-frame-pointer", "-pthread", "-o", temporary, source.path, "-ldl"]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, rename(temporary, executable.path) == 0 else {
            throw RecorderBuildError(message: "building \(relativePath) failed:\n" + String(decoding: message, as: UTF8.self))
        }
        return executable.path
    }
}
