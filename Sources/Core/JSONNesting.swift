import Foundation

/// The nesting bound for JSON a client sends.
///
/// Foundation's `JSONDecoder` decodes ``JSONValue`` in time roughly cubic in the nesting
/// depth (a 3 KB frame nested 500 deep took 1.8 s of CPU in a debug build), so every entry
/// point refuses deeper text with a byte scan before decoding. No request of this API
/// needs more than a few levels; 32 leaves room for free-form metadata and payloads.
public enum JSONNesting {
    /// Most levels of objects and arrays one JSON text may nest.
    public static let maximumDepth = 32

    /// The rule a too-deep text breaks, for error messages.
    public static let rule = "must not nest objects and arrays more than \(maximumDepth) levels deep"

    /// Whether `data` (JSON text) nests objects and arrays deeper than ``maximumDepth``: the
    /// scan below over its contiguous bytes (iterating `Data` itself costs several times more).
    public static func isTooDeep(_ data: Data) -> Bool {
        data.withUnsafeBytes { isTooDeep($0) }
    }

    /// Whether `bytes` (JSON text) nests objects and arrays deeper than ``maximumDepth``.
    /// Linear in the length; brackets inside strings do not count. Malformed text is left
    /// to the decoder that reads it next.
    public static func isTooDeep<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth > maximumDepth { return true }
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
        }
        return false
    }
}
