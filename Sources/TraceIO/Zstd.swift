#if canImport(Glibc)
import Glibc
#endif

/// libzstd, loaded once with `dlopen` (the machine has the library without headers).
private enum ZstdLibrary {
    nonisolated(unsafe) static let handle = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL) ?? dlopen("libzstd.so", RTLD_NOW | RTLD_LOCAL)

    /// The function `name` as a `T` (a `@convention(c)` type), or nil.
    static func function<T>(_ name: String, as type: T.Type) -> T? {
        guard let handle, let symbol = dlsym(handle, name) else { return nil }
        return unsafeBitCast(symbol, to: type)
    }

    typealias IsError = @convention(c) (Int) -> UInt32
    typealias Free = @convention(c) (OpaquePointer?) -> Int
    static let isError = function("ZSTD_isError", as: IsError.self)
}

/// ZSTD_inBuffer / ZSTD_outBuffer: { pointer, size, pos }, kept in memory zstd can write.
private struct ZstdBuffer {
    let fields = UnsafeMutablePointer<Int>.allocate(capacity: 3)
    var pointer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(fields) }
    var position: Int { fields[2] }
    var size: Int { fields[1] }
    func set(_ base: UnsafeRawPointer?, count: Int) {
        fields[0] = Int(bitPattern: base)
        fields[1] = count
        fields[2] = 0
    }
    func deallocate() { fields.deallocate() }
}

/// zstd's streaming decompressor.
final class ZstdDecompressor {
    private typealias Decompress = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Int
    private typealias ErrorName = @convention(c) (Int) -> UnsafePointer<CChar>?
    private static let create = ZstdLibrary.function("ZSTD_createDCtx", as: (@convention(c) () -> OpaquePointer?).self)
    private static let free = ZstdLibrary.function("ZSTD_freeDCtx", as: ZstdLibrary.Free.self)
    private static let decompress = ZstdLibrary.function("ZSTD_decompressStream", as: Decompress.self)
    private static let errorName = ZstdLibrary.function("ZSTD_getErrorName", as: ErrorName.self)

    /// True when libzstd could be loaded.
    static var isAvailable: Bool {
        create != nil && free != nil && decompress != nil && errorName != nil && ZstdLibrary.isError != nil
    }

    private let context: OpaquePointer
    private let input = ZstdBuffer(), output = ZstdBuffer()

    init?() {
        guard Self.isAvailable, let context = Self.create!() else { return nil }
        self.context = context
    }

    deinit {
        _ = Self.free!(context)
        input.deallocate()
        output.deallocate()
    }

    /// Decompresses from `input` into `output`; returns (bytes consumed, bytes produced).
    /// Throws the zstd error name on corrupt input.
    func decompress(input bytes: UnsafeRawBufferPointer, output room: UnsafeMutableRawBufferPointer) throws -> (consumed: Int, produced: Int) {
        input.set(bytes.baseAddress, count: bytes.count)
        output.set(room.baseAddress, count: room.count)
        let result = Self.decompress!(context, output.pointer, input.pointer)
        if ZstdLibrary.isError!(result) != 0 {
            throw ZstdError(name: Self.errorName!(result).map { String(cString: $0) } ?? "unknown error")
        }
        return (input.position, output.position)
    }
}

/// A zstd decompression error.
struct ZstdError: Error {
    var name: String
}

/// zstd's streaming compressor. It compresses with the recorder's settings (level 3 with the
/// single-hash match finder: see load_zstd in the recorder's writer.c).
public final class ZstdCompressor {
    private typealias SetParameter = @convention(c) (OpaquePointer?, Int32, Int32) -> Int
    private typealias Compress = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer, UnsafeMutableRawPointer, Int32) -> Int
    private static let create = ZstdLibrary.function("ZSTD_createCCtx", as: (@convention(c) () -> OpaquePointer?).self)
    private static let free = ZstdLibrary.function("ZSTD_freeCCtx", as: ZstdLibrary.Free.self)
    private static let setParameter = ZstdLibrary.function("ZSTD_CCtx_setParameter", as: SetParameter.self)
    private static let compress = ZstdLibrary.function("ZSTD_compressStream2", as: Compress.self)

    private let context: OpaquePointer
    private let input = ZstdBuffer(), output = ZstdBuffer()
    private let compressed = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)

    /// nil when libzstd cannot be loaded.
    public init?() {
        guard Self.free != nil, Self.setParameter != nil, Self.compress != nil, ZstdLibrary.isError != nil,
              let context = Self.create?() else { return nil }
        self.context = context
        _ = Self.setParameter!(context, 100, 3)  // ZSTD_c_compressionLevel
        _ = Self.setParameter!(context, 107, 1)  // ZSTD_c_strategy = ZSTD_fast
    }

    deinit {
        _ = Self.free!(context)
        input.deallocate()
        output.deallocate()
        compressed.deallocate()
    }

    /// Compresses `bytes` (ending the frame when `end`), handing each piece of output to `write`.
    /// Returns false on a zstd error.
    public func compress(_ bytes: UnsafeRawBufferPointer, end: Bool, write: (UnsafeRawBufferPointer) throws -> Void) rethrows -> Bool {
        input.set(bytes.baseAddress, count: bytes.count)
        while true {
            output.set(compressed.baseAddress, count: compressed.count)
            let remaining = Self.compress!(context, output.pointer, input.pointer, end ? 2 : 0)  // ZSTD_e_end : ZSTD_e_continue
            if ZstdLibrary.isError!(remaining) != 0 { return false }
            if output.position > 0 { try write(UnsafeRawBufferPointer(rebasing: compressed[0..<output.position])) }
            let consumed = input.position == input.size
            if end ? remaining == 0 : consumed && output.position < output.size { return true }
        }
    }
}

/// zstd one frame at a time: each column of a column block is one frame (schema: Column blocks).
public final class ZstdFrameCompressor {
    private typealias Compress = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, Int) -> Int
    private typealias SetParameter = @convention(c) (OpaquePointer?, Int32, Int32) -> Int
    private static let create = ZstdLibrary.function("ZSTD_createCCtx", as: (@convention(c) () -> OpaquePointer?).self)
    private static let free = ZstdLibrary.function("ZSTD_freeCCtx", as: ZstdLibrary.Free.self)
    private static let setParameter = ZstdLibrary.function("ZSTD_CCtx_setParameter", as: SetParameter.self)
    private static let compress = ZstdLibrary.function("ZSTD_compress2", as: Compress.self)
    private static let bound = ZstdLibrary.function("ZSTD_compressBound", as: (@convention(c) (Int) -> Int).self)

    /// Level 1: the columns hold few repeats for the match finder, and level 1 both codes them
    /// smaller than level 3 and takes two thirds of the time (measured on the recording benchmark).
    static let level: Int32 = 1
    private let context: OpaquePointer
    private var output = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)

    /// nil when libzstd cannot be loaded.
    public init?() {
        guard Self.free != nil, Self.setParameter != nil, Self.compress != nil, Self.bound != nil, ZstdLibrary.isError != nil,
              let context = Self.create?() else { return nil }
        self.context = context
        _ = Self.setParameter!(context, 100, Self.level)  // ZSTD_c_compressionLevel
        // ZSTD_c_checksumFlag: each frame ends with a checksum of its content (4 bytes), so that
        // damaged bytes are found when the frame is read instead of decoding to wrong events.
        _ = Self.setParameter!(context, 201, 1)
    }

    deinit {
        _ = Self.free!(context)
        output.deallocate()
    }

    /// `bytes` as one zstd frame (valid until the next call), or nil on a zstd error.
    public func frame(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        let needed = Self.bound!(bytes.count)
        if output.count < needed {
            output.deallocate()
            output = .allocate(byteCount: needed, alignment: 16)
        }
        let size = Self.compress!(context, output.baseAddress, output.count, bytes.baseAddress, bytes.count)
        if ZstdLibrary.isError!(size) != 0 { return nil }
        return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(output)[0..<size])
    }
}

/// Decompresses single zstd frames whose size they state.
final class ZstdFrameDecompressor {
    private typealias Decompress = @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, Int) -> Int
    private typealias ContentSize = @convention(c) (UnsafeRawPointer?, Int) -> UInt64
    private typealias ErrorName = @convention(c) (Int) -> UnsafePointer<CChar>?
    private static let create = ZstdLibrary.function("ZSTD_createDCtx", as: (@convention(c) () -> OpaquePointer?).self)
    private static let free = ZstdLibrary.function("ZSTD_freeDCtx", as: ZstdLibrary.Free.self)
    private static let decompress = ZstdLibrary.function("ZSTD_decompressDCtx", as: Decompress.self)
    private static let contentSize = ZstdLibrary.function("ZSTD_getFrameContentSize", as: ContentSize.self)
    private static let errorName = ZstdLibrary.function("ZSTD_getErrorName", as: ErrorName.self)

    private let context: OpaquePointer

    init?() {
        guard Self.free != nil, Self.decompress != nil, Self.contentSize != nil, Self.errorName != nil,
              ZstdLibrary.isError != nil, let context = Self.create?() else { return nil }
        self.context = context
    }

    deinit { _ = Self.free!(context) }

    /// The decompressed size a frame states, or nil when it states none (or is not a frame).
    func contentSize(_ frame: UnsafeRawBufferPointer) -> UInt64? {
        let size = Self.contentSize!(frame.baseAddress, frame.count)
        return size >= UInt64.max - 1 ? nil : size
    }

    /// Decompresses one whole frame into `room`; returns the bytes produced.
    func decompress(_ frame: UnsafeRawBufferPointer, into room: UnsafeMutableRawBufferPointer) throws -> Int {
        let size = Self.decompress!(context, room.baseAddress, room.count, frame.baseAddress, frame.count)
        if ZstdLibrary.isError!(size) != 0 {
            throw ZstdError(name: Self.errorName!(size).map { String(cString: $0) } ?? "unknown error")
        }
        return size
    }
}
