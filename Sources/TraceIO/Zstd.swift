#if canImport(Glibc)
import Glibc
#endif

/// zstd's streaming decompressor, loaded from `libzstd.so.1` with `dlopen` (the machine has the
/// library without headers).
final class ZstdDecompressor {
    private typealias CreateFunction = @convention(c) () -> OpaquePointer?
    private typealias FreeFunction = @convention(c) (OpaquePointer?) -> Int
    private typealias DecompressFunction = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Int
    private typealias IsErrorFunction = @convention(c) (Int) -> UInt32
    private typealias ErrorNameFunction = @convention(c) (Int) -> UnsafePointer<CChar>?

    private struct Library {
        let create: CreateFunction
        let free: FreeFunction
        let decompress: DecompressFunction
        let isError: IsErrorFunction
        let errorName: ErrorNameFunction
    }

    private static let library: Library? = {
        guard let handle = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL) ?? dlopen("libzstd.so", RTLD_NOW | RTLD_LOCAL),
              let create = dlsym(handle, "ZSTD_createDCtx"), let free = dlsym(handle, "ZSTD_freeDCtx"),
              let decompress = dlsym(handle, "ZSTD_decompressStream"), let isError = dlsym(handle, "ZSTD_isError"),
              let errorName = dlsym(handle, "ZSTD_getErrorName")
        else { return nil }
        return Library(
            create: unsafeBitCast(create, to: CreateFunction.self),
            free: unsafeBitCast(free, to: FreeFunction.self),
            decompress: unsafeBitCast(decompress, to: DecompressFunction.self),
            isError: unsafeBitCast(isError, to: IsErrorFunction.self),
            errorName: unsafeBitCast(errorName, to: ErrorNameFunction.self))
    }()

    /// True when libzstd could be loaded.
    static var isAvailable: Bool { library != nil }

    private let lib: Library
    private let context: OpaquePointer
    /// ZSTD_inBuffer and ZSTD_outBuffer: { pointer, size, pos }.
    private let inBuffer = UnsafeMutablePointer<Int>.allocate(capacity: 3)
    private let outBuffer = UnsafeMutablePointer<Int>.allocate(capacity: 3)

    init?() {
        guard let lib = Self.library, let context = lib.create() else { return nil }
        self.lib = lib
        self.context = context
    }

    deinit {
        _ = lib.free(context)
        inBuffer.deallocate()
        outBuffer.deallocate()
    }

    /// Decompresses from `input` into `output`; returns (bytes consumed, bytes produced).
    /// Throws the zstd error name on corrupt input.
    func decompress(input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) throws -> (consumed: Int, produced: Int) {
        inBuffer[0] = Int(bitPattern: input.baseAddress)
        inBuffer[1] = input.count
        inBuffer[2] = 0
        outBuffer[0] = Int(bitPattern: output.baseAddress)
        outBuffer[1] = output.count
        outBuffer[2] = 0
        let result = lib.decompress(context, UnsafeMutableRawPointer(outBuffer), UnsafeMutableRawPointer(inBuffer))
        if lib.isError(result) != 0 {
            throw ZstdError(name: lib.errorName(result).map { String(cString: $0) } ?? "unknown error")
        }
        return (inBuffer[2], outBuffer[2])
    }
}

/// A zstd decompression error.
struct ZstdError: Error {
    var name: String
}
