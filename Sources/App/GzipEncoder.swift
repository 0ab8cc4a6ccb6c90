/// gzip (RFC 1952) through the system's zlib, `libz.so.1` opened at run time: `compress2` at
/// level 9, its zlib framing swapped for gzip's header and CRC-32/size trailer.
struct GzipEncoder: Sendable {
    // zlib.h: uLong is C `unsigned long` (UInt on LP64), uInt is `unsigned int`.
    private typealias Compress2 = @convention(c) (
        UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt>?, UnsafePointer<UInt8>?, UInt, Int32
    ) -> Int32
    private typealias CompressBound = @convention(c) (UInt) -> UInt
    private typealias CRC32 = @convention(c) (UInt, UnsafePointer<UInt8>?, UInt32) -> UInt

    private let compress2: Compress2
    private let compressBound: CompressBound
    private let crc32: CRC32

    /// The encoder, or nil when zlib cannot be loaded.
    static func load() -> GzipEncoder? {
        guard let zlib = DynamicLibrary(["libz.so.1", "libz.so", "libz.1.dylib", "libz.dylib"]),
            let compress2 = zlib.function("compress2", as: Compress2.self),
            let compressBound = zlib.function("compressBound", as: CompressBound.self),
            let crc32 = zlib.function("crc32", as: CRC32.self)
        else { return nil }
        return GzipEncoder(compress2: compress2, compressBound: compressBound, crc32: crc32)
    }

    /// `input` as a gzip member, or nil if zlib fails.
    func compress(_ input: [UInt8]) -> [UInt8]? {
        guard input.count < Int(UInt32.max) else { return nil }
        let capacity = Int(compressBound(UInt(input.count)))
        var zlibStream = [UInt8](repeating: 0, count: capacity)
        var length = UInt(capacity)
        let status = zlibStream.withUnsafeMutableBufferPointer { output in
            input.withUnsafeBufferPointer { source in
                compress2(output.baseAddress, &length, source.baseAddress, UInt(input.count), 9)
            }
        }
        // zlib framing: 2 header bytes (no preset dictionary from compress2), deflate data,
        // 4 bytes of Adler-32.
        guard status == 0, length >= 6, length <= UInt(capacity), zlibStream[1] & 0x20 == 0 else { return nil }
        let crc = UInt32(truncatingIfNeeded: input.withUnsafeBufferPointer { crc32(0, $0.baseAddress, UInt32(input.count)) })
        var gzip: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]  // deflate, no name, no mtime, best, Unix
        gzip.reserveCapacity(Int(length) + 12)
        gzip += zlibStream[2..<(Int(length) - 4)]
        gzip += littleEndian(crc) + littleEndian(UInt32(truncatingIfNeeded: input.count))
        return gzip
    }

    private func littleEndian(_ value: UInt32) -> [UInt8] {
        [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: value >> $0) }
    }
}
