import Foundation

/// The bundled example programs under `Examples/`, compiled with the system compiler on first use.
public enum ExampleProgram {
    /// The package's `Examples` folder, found from this file's location at build time.
    public static let examplesDirectory = RecorderLibrary.packageRoot.appendingPathComponent("Examples")

    /// The example `mematlas run` records when given no program.
    public static let defaultExample = "c/demo_allocations.c"

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
