/// Brotli (RFC 7932) through `libbrotlienc.so.1` (Debian's libbrotli1), opened at run time so
/// neither the build nor the server needs libbrotli-dev; without it the web app is served
/// with gzip only.
struct BrotliEncoder: Sendable {
    // encode.h: BrotliEncoderCompress(int quality, int lgwin, BrotliEncoderMode mode,
    //   size_t input_size, const uint8_t* input, size_t* encoded_size, uint8_t* encoded) -> BROTLI_BOOL
    private typealias Compress = @convention(c) (
        Int32, Int32, Int32, UInt, UnsafePointer<UInt8>?, UnsafeMutablePointer<UInt>?, UnsafeMutablePointer<UInt8>?
    ) -> Int32
    private typealias MaxCompressedSize = @convention(c) (UInt) -> UInt

    private let encode: Compress
    private let maxCompressedSize: MaxCompressedSize

    /// The encoder, or nil when libbrotlienc is not installed.
    static func load() -> BrotliEncoder? {
        guard let library = DynamicLibrary(["libbrotlienc.so.1", "libbrotlienc.so", "libbrotlienc.1.dylib", "libbrotlienc.dylib"]),
            let encode = library.function("BrotliEncoderCompress", as: Compress.self),
            let maxCompressedSize = library.function("BrotliEncoderMaxCompressedSize", as: MaxCompressedSize.self)
        else { return nil }
        return BrotliEncoder(encode: encode, maxCompressedSize: maxCompressedSize)
    }

    /// `input` compressed at the highest quality (11) with the text model, or nil on failure.
    func compress(_ input: [UInt8]) -> [UInt8]? {
        let bound = Int(maxCompressedSize(UInt(input.count)))
        guard bound > 0 else { return nil }
        var output = [UInt8](repeating: 0, count: bound)
        var length = UInt(bound)
        let ok = output.withUnsafeMutableBufferPointer { buffer in
            input.withUnsafeBufferPointer { source in
                encode(11, 22, 1, UInt(input.count), source.baseAddress, &length, buffer.baseAddress)  // lgwin 22, BROTLI_MODE_TEXT
            }
        }
        guard ok == 1, length <= UInt(bound) else { return nil }
        return Array(output[..<Int(length)])
    }
}
