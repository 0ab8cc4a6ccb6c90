/// The `Content-Type` header of a multipart/form-data upload.
public enum MultipartContentType {
    /// The boundary of `multipart/form-data; boundary=...` (token or quoted-string, RFC 9110
    /// §5.6.6; media type and parameter names case-insensitive; other parameters ignored).
    /// The boundary itself must be 1–70 RFC 2046 `bchars` not ending in a space.
    /// Throws `MultipartError` naming what is wrong.
    public static func boundary(_ contentType: String) throws(MultipartError) -> String {
        var scanner = Scanner(bytes: Array(contentType.utf8))
        scanner.skipWhitespace()
        let type = scanner.token()
        guard !type.isEmpty, scanner.take(UInt8(ascii: "/")) else {
            throw .notFormData(String(decoding: scanner.bytes.prefix(64), as: UTF8.self))
        }
        let subtype = scanner.token()
        let mediaType = String(decoding: type, as: UTF8.self) + "/" + String(decoding: subtype, as: UTF8.self)
        guard mediaType.lowercased() == "multipart/form-data" else { throw .notFormData(mediaType) }
        var boundary: String?
        while true {
            scanner.skipWhitespace()
            if scanner.atEnd { break }
            guard scanner.take(UInt8(ascii: ";")) else { throw .malformedContentType("expected ; between parameters") }
            scanner.skipWhitespace()
            if scanner.atEnd { break }  // a trailing ";" is harmless
            let name = scanner.token()
            guard !name.isEmpty else { throw .malformedContentType("parameter without a name") }
            guard scanner.take(UInt8(ascii: "=")) else { throw .malformedContentType("parameter without =") }
            let value: [UInt8]
            if scanner.peek == UInt8(ascii: "\"") {
                guard let quoted = scanner.quotedString() else { throw .malformedContentType("unterminated or invalid quoted-string") }
                value = quoted
            } else {
                value = scanner.token()
                guard !value.isEmpty else { throw .malformedContentType("parameter without a value") }
            }
            guard String(decoding: name, as: UTF8.self).lowercased() == "boundary" else { continue }
            guard boundary == nil else { throw .malformedContentType("boundary given twice") }
            boundary = try validBoundary(value)
        }
        guard let boundary else { throw .missingBoundary }
        return boundary
    }

    /// Checks RFC 2046 §5.1.1: 1–70 of DIGIT ALPHA `'()+_,-./:=?` and space, not ending in a space.
    static func validBoundary(_ bytes: [UInt8]) throws(MultipartError) -> String {
        guard !bytes.isEmpty else { throw .invalidBoundary("empty") }
        guard bytes.count <= 70 else { throw .invalidBoundary("longer than 70 characters") }
        guard bytes.allSatisfy(isBoundaryCharacter) else { throw .invalidBoundary("character outside RFC 2046 bchars") }
        guard bytes.last != UInt8(ascii: " ") else { throw .invalidBoundary("ends in a space") }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func isBoundaryCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): true
        default: Array("'()+_,-./:=? ".utf8).contains(byte)
        }
    }

    /// RFC 9110 `tchar`.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// A cursor over header bytes for the RFC 9110 parameter grammar.
    struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index >= bytes.count }
        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            index += 1
            return true
        }

        mutating func skipWhitespace() {
            while let byte = peek, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
        }

        mutating func token() -> [UInt8] {
            let start = index
            while let byte = peek, MultipartContentType.isTokenCharacter(byte) { index += 1 }
            return Array(bytes[start..<index])
        }

        /// A quoted-string with its quoted-pairs resolved; nil if unterminated or holding a control character.
        mutating func quotedString() -> [UInt8]? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            var value: [UInt8] = []
            while let byte = peek {
                index += 1
                switch byte {
                case UInt8(ascii: "\""): return value
                case UInt8(ascii: "\\"):
                    guard let escaped = peek, Self.isQuotedText(escaped) || escaped == UInt8(ascii: "\"") || escaped == UInt8(ascii: "\\") else { return nil }
                    index += 1
                    value.append(escaped)
                default:
                    guard Self.isQuotedText(byte) else { return nil }
                    value.append(byte)
                }
            }
            return nil
        }

        /// `qdtext` of RFC 9110: HTAB, SP and visible characters but `"` and `\`, and obs-text.
        static func isQuotedText(_ byte: UInt8) -> Bool {
            byte == 0x09 || byte == 0x20 || (byte >= 0x21 && byte != 0x22 && byte != 0x5C && byte != 0x7F)
        }
    }
}
