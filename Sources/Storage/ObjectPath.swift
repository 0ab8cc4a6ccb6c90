import Core
import Foundation

/// The rules every bucket id and object name passes before it reaches the database or a
/// backend: names are NFC-normalised UTF-8, `/`-separated, with no empty, `.` or `..`
/// segment and no control character; at most 1024 bytes, 255 per segment.
public enum ObjectPath {
    public static let maximumNameBytes = 1024
    public static let maximumSegmentBytes = 255

    /// A validated bucket id (`[A-Za-z0-9_.-]`, 1–63 characters, not `.` or `..`).
    public static func bucketID(_ text: some StringProtocol, field: String = "bucketId") throws -> String {
        let id = String(text)
        guard (1...63).contains(id.utf8.count) else {
            throw StorageError.invalid(field, "a bucket id has 1 to 63 characters")
        }
        guard id.utf8.allSatisfy(isBucketByte), id != ".", id != ".." else {
            throw StorageError.invalid(field, "a bucket id may contain only letters, digits, '_', '.' and '-' (and is not '.' or '..')")
        }
        return id
    }

    private static func isBucketByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// The object name of URL path segments as sent (each percent-decoded, then joined with `/`).
    public static func name(urlSegments segments: [Substring], field: String = "path") throws -> String {
        guard !segments.isEmpty else { throw StorageError.invalid(field, "an object path is required after the bucket") }
        var decoded: [String] = []
        decoded.reserveCapacity(segments.count)
        for segment in segments {
            decoded.append(try percentDecoded(segment, field: field))
        }
        return try name(decoded.joined(separator: "/"), field: field)
    }

    /// A validated object name from text that is not percent-encoded (JSON bodies).
    public static func name(_ text: String, field: String = "path") throws -> String {
        guard !text.isEmpty else { throw StorageError.invalid(field, "an object name must not be empty") }
        for scalar in text.unicodeScalars where scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) {
            throw StorageError.invalid(field, "an object name must not contain control characters (found U+\(String(scalar.value, radix: 16, uppercase: true)))")
        }
        let normalised = text.precomposedStringWithCanonicalMapping
        guard normalised.utf8.count <= maximumNameBytes else {
            throw StorageError.invalid(field, "an object name is at most \(maximumNameBytes) bytes of UTF-8 (this one has \(normalised.utf8.count))")
        }
        // Segments are cut at every '/' byte, not at '/' characters: a '/' followed by a
        // combining mark is one Character, so `split(separator: "/")` would let `../\u{301}x`
        // or `/\u{301}x` through as one segment (fuzz target object-path).
        for segment in normalised.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            if segment.isEmpty {
                throw StorageError.invalid(field, "an object name must not start or end with '/' or contain '//' (empty segment)")
            }
            if segment.elementsEqual(".".utf8) || segment.elementsEqual("..".utf8) {
                throw StorageError.invalid(field, "an object name must not contain '.' or '..' segments")
            }
            if segment.count > maximumSegmentBytes {
                throw StorageError.invalid(field, "each segment of an object name is at most \(maximumSegmentBytes) bytes of UTF-8")
            }
        }
        return normalised
    }

    /// A folder prefix for listing: `""` for the bucket root, else a valid name (a trailing
    /// `/` is allowed and dropped).
    public static func folder(_ text: String, field: String = "prefix") throws -> String {
        // Trailing '/' scalars are dropped one scalar at a time: `hasSuffix("/")` compares
        // Characters, and a prepended mark such as U+0600 joins the '/' after it into one
        // Character, so `"\u{600}/"` would keep its slash (fuzz target object-path).
        var scalars = text.unicodeScalars[...]
        while scalars.last == "/" { scalars = scalars.dropLast() }
        if scalars.isEmpty { return "" }
        return try name(String(String.UnicodeScalarView(scalars)), field: field)
    }

    /// Percent-decodes one URL segment; malformed escapes and bytes that are not UTF-8 are refused.
    static func percentDecoded(_ segment: Substring, field: String) throws -> String {
        let bytes = Array(segment.utf8)
        guard bytes.contains(UInt8(ascii: "%")) else { return String(segment) }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                    throw StorageError.invalid(field, "a '%' in the path must be followed by two hexadecimal digits")
                }
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(byte)
                index += 1
            }
        }
        guard let text = String(validating: output, as: UTF8.self) else {
            throw StorageError.invalid(field, "the percent-decoded path is not valid UTF-8")
        }
        return text
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The URL form of a name: each segment percent-encoded (unreserved characters kept),
    /// segments cut at '/' bytes as in ``name(_:field:)``.
    public static func urlEncoded(_ name: String) -> String {
        let digits = Array("0123456789ABCDEF".unicodeScalars)
        var output = ""
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                output.unicodeScalars.append("%")
                output.unicodeScalars.append(digits[Int(byte >> 4)])
                output.unicodeScalars.append(digits[Int(byte & 0x0f)])
            }
        }
        return output
    }
}

/// MIME types: their syntax and the bucket rules (`image/*` wildcards).
public enum MimeType {
    /// The media type without parameters, lower-cased (`text/plain;charset=UTF-8` → `text/plain`).
    public static func essence(_ value: String) -> String {
        let base = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return base.trimmingCharacters(in: .whitespaces).lowercased()
    }

    /// A validated Content-Type for an object (type/subtype with optional parameters, printable ASCII, ≤ 255).
    public static func validated(_ value: String, field: String) throws -> String {
        let value = value.trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty, value.utf8.count <= 255, value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else {
            throw StorageError.invalid(field, "a content type is 1 to 255 printable ASCII characters such as image/png")
        }
        let parts = essence(value).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isTokenByte) }) else {
            throw StorageError.invalid(field, "a content type has the form type/subtype, such as image/png (got '\(value)')")
        }
        return value
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$&^_.+-".utf8.contains(byte)
        }
    }

    /// Whether `mime` is allowed by `allowed` (nil or empty: everything).
    public static func isAllowed(_ mime: String, by allowed: [String]?) -> Bool {
        guard let allowed, !allowed.isEmpty else { return true }
        let type = essence(mime)
        return allowed.contains { pattern in
            let pattern = essence(pattern)
            if pattern == "*/*" || pattern == "*" { return true }
            if pattern.hasSuffix("/*") {
                return type.hasPrefix(pattern.dropLast())
            }
            return pattern == type
        }
    }
}
