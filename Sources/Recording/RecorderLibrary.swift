import Foundation

/// The recorder shared object (`libmematlas-recorder.so`) that `mematlas record` preloads.
///
/// It is built from the C sources in `Sources/CMemAtlasRecorder` with the system C compiler the first
/// time it is needed, into a cache keyed by a hash of the sources, so the profiled process loads a
/// library that needs only libc (never the Swift runtime or libstdc++).
public enum RecorderLibrary {
    /// The package's source folder of the recorder, found from this file's location at build time.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var recorderSources: URL { packageRoot.appendingPathComponent("Sources/CMemAtlasRecorder") }
    static var schemaInclude: URL { packageRoot.appendingPathComponent("Sources/MemAtlasTraceSchema/include") }

    /// The recorder library's path: `$MEMATLAS_RECORDER_LIB` when set, else the cached build (made now
    /// if missing or out of date).
    /// - Throws: `RecorderBuildError` when the sources or a C compiler are missing, or compiling fails.
    public static func path() throws -> String {
        if let explicit = ProcessInfo.processInfo.environment["MEMATLAS_RECORDER_LIB"], !explicit.isEmpty {
            guard FileManager.default.fileExists(atPath: explicit) else {
                throw RecorderBuildError(message: "MEMATLAS_RECORDER_LIB=\(explicit): no such file")
            }
            return explicit
        }
        let sources = try sourceFiles()
        var hasher = FNV1a()
        for file in sources {
            hasher.add(file.lastPathComponent)
            hasher.add(try Data(contentsOf: file))
        }
        let directory = cacheDirectory()
        let library = directory.appendingPathComponent("libmematlas-recorder-\(String(hasher.value, radix: 16)).so")
        if FileManager.default.fileExists(atPath: library.path) { return library.path }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try compile(sources.filter { $0.pathExtension == "c" }, to: library)
        return library.path
    }

    /// Where built recorders are kept: `$XDG_CACHE_HOME/mematlas` or `~/.cache/mematlas`.
    static func cacheDirectory() -> URL {
        let environment = ProcessInfo.processInfo.environment
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("mematlas")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/mematlas")
    }

    static func sourceFiles() throws -> [URL] {
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: recorderSources.path) else {
            throw RecorderBuildError(message: "the recorder's sources are not at \(recorderSources.path); set MEMATLAS_RECORDER_LIB to a built libmematlas-recorder.so")
        }
        var files = names.filter { $0.hasSuffix(".c") || $0.hasSuffix(".h") }.sorted().map { recorderSources.appendingPathComponent($0) }
        files.append(schemaInclude.appendingPathComponent("mematlas_trace_schema.h"))
        return files
    }

    static func compile(_ sources: [URL], to library: URL) throws {
        let compiler = ["cc", "gcc", "clang"].compactMap(findExecutable).first
        guard let compiler else { throw RecorderBuildError(message: "no C compiler (cc, gcc or clang) on PATH to build the recorder") }
        // One name per build, also between threads of one process (tests build it concurrently).
        let temporary = library.path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let arguments = ["-O2", "-g", "-fPIC", "-shared", "-fvisibility=hidden", "-fno-omit-frame-pointer", "-D_GNU_SOURCE",
                         "-I", schemaInclude.path, "-o", temporary] + sources.map(\.path) + ["-lpthread", "-ldl"]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: compiler)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            throw RecorderBuildError(message: "building the recorder failed:\n" + String(decoding: message, as: UTF8.self))
        }
        // rename is atomic: concurrent builders each produce a whole library.
        guard rename(temporary, library.path) == 0 else {
            throw RecorderBuildError(message: "cannot move the recorder into \(library.path): \(String(cString: strerror(errno)))")
        }
    }

    static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// The recorder could not be found or built.
public struct RecorderBuildError: Error, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    public var description: String { message }
}

/// 64-bit FNV-1a, for cache keys.
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ data: Data) {
        // Over the bytes themselves: Data's iterator costs a call a byte, at every `record`.
        var value = self.value
        data.withUnsafeBytes { bytes in
            for byte in bytes {
                value ^= UInt64(byte)
                value = value &* 0x100_0000_01b3
            }
        }
        self.value = value
    }
    mutating func add(_ text: String) { add(Data(text.utf8)) }
}
