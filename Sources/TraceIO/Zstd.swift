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

/// zstd's streaming compressor, loaded like the decompressor. It compresses with the recorder's
/// settings (level 3 with the single-hash match finder: see load_zstd in the recorder's writer.c).
public final class ZstdCompressor {
    private typealias CreateFunction = @convention(c) () -> OpaquePointer?
    private typealias FreeFunction = @convention(c) (OpaquePointer?) -> Int
    private typealias SetParameterFunction = @convention(c) (OpaquePointer?, Int32, Int32) -> Int
    private typealias CompressFunction = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer, UnsafeMutableRawPointer, Int32) -> Int
    private typealias IsErrorFunction = @convention(c) (Int) -> UInt32

    private struct Library {
        let create: CreateFunction
        let free: FreeFunction
        let setParameter: SetParameterFunction
        let compress: CompressFunction
        let isError: IsErrorFunction
    }

    private static let library: Library? = {
        guard let handle = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL) ?? dlopen("libzstd.so", RTLD_NOW | RTLD_LOCAL),
              let create = dlsym(handle, "ZSTD_createCCtx"), let free = dlsym(handle, "ZSTD_freeCCtx"),
              let setParameter = dlsym(handle, "ZSTD_CCtx_setParameter"),
              let compress = dlsym(handle, "ZSTD_compressStream2"), let isError = dlsym(handle, "ZSTD_isError")
        else { return nil }
        return Library(
            create: unsafeBitCast(create, to: CreateFunction.self),
            free: unsafeBitCast(free, to: FreeFunction.self),
            setParameter: unsafeBitCast(setParameter, to: SetParameterFunction.self),
            compress: unsafeBitCast(compress, to: CompressFunction.self),
            isError: unsafeBitCast(isError, to: IsErrorFunction.self))
    }()

    private let lib: Library
    private let context: OpaquePointer
    private let inBuffer = UnsafeMutablePointer<Int>.allocate(capacity: 3)
    private let outBuffer = UnsafeMutablePointer<Int>.allocate(capacity: 3)
    private let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)

    /// nil when libzstd cannot be loaded.
    public init?() {
        guard let lib = Self.library, let context = lib.create() else { return nil }
        self.lib = lib
        self.context = context
        _ = lib.setParameter(context, 100, 3)  // ZSTD_c_compressionLevel
        _ = lib.setParameter(context, 107, 1)  // ZSTD_c_strategy = ZSTD_fast
    }

    deinit {
        _ = lib.free(context)
        inBuffer.deallocate()
        outBuffer.deallocate()
        output.deallocate()
    }

    /// Compresses `input` (ending the frame when `end`), handing each piece of output to `write`.
    /// Returns false on a zstd error.
    public func compress(_ input: UnsafeRawBufferPointer, end: Bool, write: (UnsafeRawBufferPointer) throws -> Void) rethrows -> Bool {
        inBuffer[0] = Int(bitPattern: input.baseAddress)
        inBuffer[1] = input.count
        inBuffer[2] = 0
        while true {
            outBuffer[0] = Int(bitPattern: output.baseAddress)
            outBuffer[1] = output.count
            outBuffer[2] = 0
            let remaining = lib.compress(context, UnsafeMutableRawPointer(outBuffer), UnsafeMutableRawPointer(inBuffer), end ? 2 : 0)
            if lib.isError(remaining) != 0 { return false }
            if outBuffer[2] > 0 { try write(UnsafeRawBufferPointer(rebasing: output[0..<outBuffer[2]])) }
            let consumed = inBuffer[2] == inBuffer[1]
            if end ? remaining == 0 : consumed && outBuffer[2] < output.count { return true }
        }
    }
}
