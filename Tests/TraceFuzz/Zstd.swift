#if canImport(Glibc)
import Glibc
#endif

/// zstd's one-shot compressor and streaming decompressor, loaded from libzstd.so.1 (no headers on
/// this machine): the fuzzer re-compresses mutated record streams and reads recorded seeds.
enum Zstd {
    private typealias Bound = @convention(c) (Int) -> Int
    private typealias Compress = @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, Int, Int32) -> Int
    private typealias IsError = @convention(c) (Int) -> UInt32
    private typealias CreateD = @convention(c) () -> OpaquePointer?
    private typealias FreeD = @convention(c) (OpaquePointer?) -> Int
    private typealias DecompressStream = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Int

    private static let handle: UnsafeMutableRawPointer? = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL)
    private static func symbol<T>(_ name: String, as type: T.Type) -> T {
        guard let handle, let address = dlsym(handle, name) else { fatalError("libzstd.so.1 has no \(name)") }
        return unsafeBitCast(address, to: type)
    }

    /// `data` as one zstd frame.
    static func compress(_ data: [UInt8], level: Int32 = 1) -> [UInt8] {
        let bound = symbol("ZSTD_compressBound", as: Bound.self)(data.count)
        var out = [UInt8](repeating: 0, count: bound)
        let n = out.withUnsafeMutableBytes { o in
            data.withUnsafeBytes { i in symbol("ZSTD_compress", as: Compress.self)(o.baseAddress, o.count, i.baseAddress, i.count, level) }
        }
        precondition(symbol("ZSTD_isError", as: IsError.self)(n) == 0, "ZSTD_compress failed")
        return Array(out[..<n])
    }

    /// The decompressed bytes of a whole zstd stream (a recorded trace's body).
    static func decompress(_ data: [UInt8]) -> [UInt8] {
        let context = symbol("ZSTD_createDCtx", as: CreateD.self)()
        defer { _ = symbol("ZSTD_freeDCtx", as: FreeD.self)(context) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        data.withUnsafeBytes { input in
            var inBuffer: (UnsafeRawPointer?, Int, Int) = (input.baseAddress, input.count, 0)
            while true {
                let (produced, status) = chunk.withUnsafeMutableBytes { output -> (Int, Int) in
                    var outBuffer: (UnsafeMutableRawPointer?, Int, Int) = (output.baseAddress, output.count, 0)
                    let status = symbol("ZSTD_decompressStream", as: DecompressStream.self)(context, &outBuffer, &inBuffer)
                    return (outBuffer.2, status)
                }
                result += chunk[..<produced]
                if symbol("ZSTD_isError", as: IsError.self)(status) != 0 || (produced == 0 && inBuffer.2 == inBuffer.1) { break }
            }
        }
        return result
    }
}
