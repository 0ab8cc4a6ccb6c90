import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Bounds on what a multipart/form-data body may make the server hold or parse.
public struct MultipartLimits: Sendable, Equatable {
    /// Largest value of one text field, in bytes.
    public var maxFieldBytes: Int
    /// Largest header block of one part (from the end of its boundary to the blank line), in bytes.
    public var maxHeaderBytes: Int
    /// Most header lines in one part.
    public var maxHeadersPerPart: Int
    /// Most parts (text fields and the file) in one body.
    public var maxParts: Int
    /// Most bytes before the opening boundary (the preamble, which is skipped).
    public var maxPreambleBytes: Int

    /// Defaults: fields 64 KiB, part headers 16 KiB, 16 headers a part, 16 parts, preamble 1 KiB.
    public init(
        maxFieldBytes: Int = 65_536, maxHeaderBytes: Int = 16_384, maxHeadersPerPart: Int = 16,
        maxParts: Int = 16, maxPreambleBytes: Int = 1024
    ) {
        self.maxFieldBytes = maxFieldBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeadersPerPart = maxHeadersPerPart
        self.maxParts = maxParts
        self.maxPreambleBytes = maxPreambleBytes
    }
}

/// What a part's headers say about it.
public struct MultipartPartHeaders: Sendable, Equatable {
    /// `name` of its `Content-Disposition: form-data`.
    public var name: String
    /// `filename` of its `Content-Disposition`, if any.
    public var filename: String?
    /// Its `Content-Type` header as sent (trimmed), if any.
    public var contentType: String?

    public init(name: String, filename: String? = nil, contentType: String? = nil) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
    }
}

/// A push parser of a multipart/form-data body (RFC 2046 §5.1, RFC 7578): `append` the body's
/// chunks as they arrive and call `next` until it returns nil after each; `finish` at the end
/// of the body. Part bodies come out as slices of the input as soon as they cannot be the
/// start of a boundary, so the parser holds at most one chunk plus a part's header block or
/// one delimiter's length of lookback (`bufferedBytes`), whatever the size of a part.
///
/// Strict: the boundary must be followed by `--` (close) or optional spaces/tabs and CRLF; the
/// part headers are CRLF-separated with no folding; the epilogue after the close is ignored.
struct MultipartParser {
    enum Event: Equatable {
        /// A part begins; its body follows as `body` events until the next `part` or `end`.
        case part(MultipartPartHeaders)
        /// The next bytes of the current part's body (never empty).
        case body(ByteBuffer)
        /// The closing boundary: nothing follows.
        case end
    }

    private enum State {
        case preamble, afterDelimiter, headers, body, epilogue
    }

    let limits: MultipartLimits
    /// `CRLF--boundary`: every boundary after the first is preceded by CRLF, which belongs to it.
    let delimiter: [UInt8]
    private var buffer: ByteBuffer
    private var state = State.preamble
    /// Preamble bytes dropped so far (counting the virtual CRLF in front of the body).
    private var skipped = 0
    private(set) var parts = 0
    /// The most bytes the parser held at once.
    private(set) var peakBufferedBytes = 0

    /// Throws `MultipartError.invalidBoundary` for a boundary RFC 2046 does not allow.
    init(boundary: String, limits: MultipartLimits) throws(MultipartError) {
        let boundary = try MultipartContentType.validBoundary(Array(boundary.utf8))
        self.limits = limits
        self.delimiter = Array("\r\n--\(boundary)".utf8)
        // A virtual CRLF in front lets an opening boundary at byte 0 match like any other.
        self.buffer = ByteBuffer(bytes: [13, 10])
    }

    /// Bytes held now.
    var bufferedBytes: Int { buffer.readableBytes }

    /// Adds the next chunk of the body.
    mutating func append(_ chunk: ByteBuffer) {
        guard state != .epilogue else { return }
        if buffer.readableBytes == 0 {
            buffer = chunk
        } else {
            if buffer.readerIndex > 4096 && buffer.readerIndex > buffer.readableBytes { buffer.discardReadBytes() }
            buffer.writeImmutableBuffer(chunk)
        }
        peakBufferedBytes = max(peakBufferedBytes, buffer.readableBytes)
    }

    /// The next event, or nil when more input is needed (or after `end`).
    mutating func next() throws(MultipartError) -> Event? {
        while true {
            switch state {
            case .epilogue:
                buffer.clear()
                return nil
            case .preamble:
                if let at = find(delimiter, within: buffer.readableBytes) {
                    // The real preamble is what precedes the delimiter, less the virtual CRLF.
                    guard skipped + at <= Self.plus(limits.maxPreambleBytes, 2) else { throw .preambleTooLong(limit: limits.maxPreambleBytes) }
                    buffer.moveReaderIndex(forwardBy: at + delimiter.count)
                    state = .afterDelimiter
                    continue
                }
                let drop = buffer.readableBytes - retainedSuffix()
                buffer.moveReaderIndex(forwardBy: drop)
                skipped += drop
                guard skipped <= Self.plus(limits.maxPreambleBytes, 2) else { throw .preambleTooLong(limit: limits.maxPreambleBytes) }
                return nil
            case .afterDelimiter:
                guard let first = byte(at: 0) else { return nil }
                if first == UInt8(ascii: "-") {
                    guard let second = byte(at: 1) else { return nil }
                    if second == UInt8(ascii: "-") {
                        state = .epilogue
                        buffer.clear()
                        return .end
                    }
                }
                parts += 1
                guard parts <= limits.maxParts else { throw .tooManyParts(limit: limits.maxParts) }
                state = .headers
            case .headers:
                guard let headers = try headerBlock() else { return nil }
                state = .body
                return .part(headers)
            case .body:
                if let at = find(delimiter, within: buffer.readableBytes) {
                    if at > 0, let slice = buffer.readSlice(length: at) { return .body(slice) }
                    buffer.moveReaderIndex(forwardBy: delimiter.count)
                    state = .afterDelimiter
                    continue
                }
                let ready = buffer.readableBytes - retainedSuffix()
                guard ready > 0, let slice = buffer.readSlice(length: ready) else { return nil }
                return .body(slice)
            }
        }
    }

    /// The body ended: throws unless the closing boundary was seen.
    func finish() throws(MultipartError) {
        switch state {
        case .epilogue: return
        case .preamble: throw .missingOpeningBoundary
        case .afterDelimiter, .headers, .body: throw .missingClosingBoundary
        }
    }

    /// `a + b`, saturating (limits may be set to `Int.max`).
    private static func plus(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : sum
    }

    private func byte(at offset: Int) -> UInt8? {
        offset < buffer.readableBytes ? buffer.getInteger(at: buffer.readerIndex + offset, as: UInt8.self) : nil
    }

    /// Parses the header block once its blank line is within the first `maxHeaderBytes + 4`
    /// bytes. Every decision depends only on those bytes, so it does not depend on chunking.
    private mutating func headerBlock() throws(MultipartError) -> MultipartPartHeaders? {
        let cap = Self.plus(limits.maxHeaderBytes, 4)
        let window = min(buffer.readableBytes, cap)
        // The rest of the boundary line: optional transport padding (spaces, tabs), then CRLF.
        var index = 0
        while index < window, let next = byte(at: index), next == 0x20 || next == 0x09 { index += 1 }
        if index < window {
            guard byte(at: index) == 13 else { throw .badBoundaryLine }
            if index + 1 < window, byte(at: index + 1) != 10 { throw .badBoundaryLine }
        }
        guard let end = find([13, 10, 13, 10], within: window) else {
            if window >= cap { throw .headersTooLarge(limit: limits.maxHeaderBytes) }
            return nil
        }
        guard let block = buffer.readBytes(length: end) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return try MultipartHeaderBlock.parse(block, limits: limits)
    }

    /// Offset of the first occurrence of `needle` lying wholly within the first `count` readable bytes.
    private func find(_ needle: [UInt8], within count: Int) -> Int? {
        guard count >= needle.count, let first = needle.first else { return nil }
        return buffer.withUnsafeReadableBytes { raw -> Int? in
            guard let base = raw.baseAddress else { return nil }
            let last = count - needle.count  // the last offset where the needle fits
            var offset = 0
            while offset <= last {
                guard let hit = memchr(base + offset, Int32(first), last - offset + 1) else { return nil }
                let at = base.distance(to: UnsafeRawPointer(hit))
                let matches = needle.withUnsafeBytes { bytes in bytes.baseAddress.map { memcmp(base + at, $0, needle.count) == 0 } ?? false }
                if matches { return at }
                offset = at + 1
            }
            return nil
        }
    }

    /// Length of the longest end of the buffer that could begin a delimiter (shorter than one):
    /// the bytes that must wait for the next chunk.
    private func retainedSuffix() -> Int {
        let count = buffer.readableBytes
        return buffer.withUnsafeReadableBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            var length = min(count, delimiter.count - 1)
            while length > 0 {
                let start = count - length
                if raw[start] == delimiter[0] {
                    let matches = delimiter.withUnsafeBytes { bytes in bytes.baseAddress.map { memcmp(base + start, $0, length) == 0 } ?? false }
                    if matches { return length }
                }
                length -= 1
            }
            return 0
        }
    }
}

/// The header block of one part: the rest of the boundary line, then `Name: value` lines.
enum MultipartHeaderBlock {
    static func parse(_ block: [UInt8], limits: MultipartLimits) throws(MultipartError) -> MultipartPartHeaders {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var index = 0
        while index + 1 < block.count {
            if block[index] == 13 && block[index + 1] == 10 {
                lines.append(block[start..<index])
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        lines.append(block[start...])
        // lines[0] is the transport padding after the boundary (checked by the parser).
        let headerLines = lines.dropFirst()
        guard headerLines.count <= limits.maxHeadersPerPart else { throw .tooManyHeaders(limit: limits.maxHeadersPerPart) }
        var disposition: String?
        var contentType: String?
        for line in headerLines {
            let (name, value) = try header(line)
            switch name.lowercased() {
            case "content-disposition":
                guard disposition == nil else { throw .duplicateHeader("Content-Disposition") }
                disposition = value
            case "content-type":
                guard contentType == nil else { throw .duplicateHeader("Content-Type") }
                contentType = value
            default:
                continue
            }
        }
        guard let disposition else { throw .missingContentDisposition }
        let (name, filename) = try dispositionParameters(disposition)
        return MultipartPartHeaders(name: name, filename: filename, contentType: contentType)
    }

    /// One `Name: value` line: a token name, a value without control characters (HTAB
    /// allowed), trimmed, UTF-8.
    static func header(_ line: ArraySlice<UInt8>) throws(MultipartError) -> (String, String) {
        guard let first = line.first else { throw .malformedHeader("empty line") }
        guard first != 0x20 && first != 0x09 else { throw .malformedHeader("folded header line") }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .malformedHeader("line without a colon") }
        let nameBytes = line[line.startIndex..<colon]
        guard !nameBytes.isEmpty, nameBytes.allSatisfy(MultipartContentType.isTokenCharacter) else {
            throw .malformedHeader("invalid header name")
        }
        let name = String(decoding: nameBytes, as: UTF8.self)
        var value = line[(colon + 1)...]
        while let byte = value.first, byte == 0x20 || byte == 0x09 { value = value.dropFirst() }
        while let byte = value.last, byte == 0x20 || byte == 0x09 { value = value.dropLast() }
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            throw .malformedHeader("control character in \(name)")
        }
        guard let text = String(validating: value, as: UTF8.self) else { throw .malformedHeader("\(name) is not UTF-8") }
        return (name, text)
    }

    /// `form-data; name="..."; filename="..."` (RFC 7578 §4.2); other parameters (e.g.
    /// `filename*`) are ignored, repeated ones rejected.
    static func dispositionParameters(_ value: String) throws(MultipartError) -> (name: String, filename: String?) {
        var scanner = MultipartContentType.Scanner(bytes: Array(value.utf8))
        let type = String(decoding: scanner.token(), as: UTF8.self)
        guard type.lowercased() == "form-data" else { throw .notFormDataDisposition(type.isEmpty ? value : type) }
        var parameters: [String: String] = [:]
        while true {
            scanner.skipWhitespace()
            if scanner.atEnd { break }
            guard scanner.take(UInt8(ascii: ";")) else { throw .malformedHeader("expected ; in Content-Disposition") }
            scanner.skipWhitespace()
            if scanner.atEnd { break }
            let key = String(decoding: scanner.token(), as: UTF8.self).lowercased()
            guard !key.isEmpty else { throw .malformedHeader("Content-Disposition parameter without a name") }
            scanner.skipWhitespace()
            guard scanner.take(UInt8(ascii: "=")) else { throw .malformedHeader("Content-Disposition parameter without =") }
            scanner.skipWhitespace()
            let bytes: [UInt8]
            if scanner.peek == UInt8(ascii: "\"") {
                guard let quoted = scanner.quotedString() else { throw .malformedHeader("unterminated quoted-string in Content-Disposition") }
                bytes = quoted
            } else {
                bytes = scanner.token()
                guard !bytes.isEmpty else { throw .malformedHeader("Content-Disposition parameter without a value") }
            }
            guard parameters[key] == nil else { throw .malformedHeader("Content-Disposition repeats \(key)") }
            guard let text = String(validating: bytes, as: UTF8.self) else { throw .malformedHeader("Content-Disposition \(key) is not UTF-8") }
            parameters[key] = text
        }
        guard let name = parameters["name"], !name.isEmpty else { throw .missingPartName }
        return (name, parameters["filename"])
    }
}
