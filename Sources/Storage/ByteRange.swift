/// An HTTP `Range` request header (RFC 9110 §14.1.2, §14.2) resolved against an object's size.
///
/// Choices (each allowed by RFC 9110):
/// - A header that is absent, not syntactically a `bytes` ranges-specifier (bad syntax or
///   another unit), or that asks for more than one range is **ignored**: the whole object is
///   served with 200 (§14.2: a server MAY ignore Range; no multipart/byteranges responses).
/// - One range that is invalid (`last-pos` < `first-pos`) or unsatisfiable (`first-pos` ≥
///   size, suffix length 0) is **unsatisfiable**: 416 with `Content-Range: bytes */size`.
/// - A suffix range of an empty object (`bytes=-n`, n > 0) is ignored (200 with the empty
///   body), since no 206 `Content-Range` can describe zero bytes.
/// Numbers of any length are read with saturation at `Int64.max`, which cannot change the
/// outcome (a first position that large is past any object's end; a last position or suffix
/// length that large covers the whole object).
public enum ByteRange: Equatable, Sendable {
    /// Serve these bytes with 206 (`Content-Range` from `contentRange(of:size:)`).
    case partial(Range<Int64>)
    /// Answer 416 with `Content-Range: bytes */size`.
    case unsatisfiable
    /// Serve the whole object with 200.
    case ignore

    /// Resolves the `Range` header value `header` against an object of `size` bytes (a
    /// negative size counts as 0).
    public static func resolve(_ header: String?, size: Int64) -> ByteRange {
        guard let header else { return .ignore }
        let size = max(size, 0)
        let bytes = Array(header.utf8)
        guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")),
            String(decoding: bytes[..<equals], as: UTF8.self).lowercased() == "bytes"
        else { return .ignore }
        // range-set = 1#range-spec: commas with optional whitespace, empty elements not counted.
        let specs = bytes[(equals + 1)...].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            .map(trimmed).filter { !$0.isEmpty }
        guard specs.count == 1, let spec = specs.first, let parsed = Spec(spec) else { return .ignore }
        switch parsed {
        case .from(let first, let last):
            if let last, last < first { return .unsatisfiable }
            guard first < size else { return .unsatisfiable }
            let end = min(last ?? (size - 1), size - 1)  // first < size, so size - 1 >= 0
            return .partial(first..<(end + 1))
        case .suffix(let length):
            guard length > 0 else { return .unsatisfiable }
            guard size > 0 else { return .ignore }
            return .partial(max(0, size - length)..<size)  // size - length >= -Int64.max: no overflow
        }
    }

    /// `bytes first-last/size` for a 206 answer (`range` as `resolve` returns it: not empty).
    public static func contentRange(of range: Range<Int64>, size: Int64) -> String {
        "bytes \(range.lowerBound)-\(range.upperBound &- 1)/\(size)"
    }

    /// `bytes */size` for a 416 answer.
    public static func unsatisfiedContentRange(size: Int64) -> String { "bytes */\(size)" }

    /// One range-spec: `first-[last]` or `-suffix`.
    private enum Spec {
        case from(Int64, Int64?)
        case suffix(Int64)

        init?(_ spec: ArraySlice<UInt8>) {
            guard let dash = spec.firstIndex(of: UInt8(ascii: "-")) else { return nil }
            let before = spec[..<dash]
            let after = spec[(dash + 1)...]
            if before.isEmpty {
                guard let length = ByteRange.number(after) else { return nil }
                self = .suffix(length)
            } else {
                guard let first = ByteRange.number(before) else { return nil }
                if after.isEmpty {
                    self = .from(first, nil)
                } else {
                    guard let last = ByteRange.number(after) else { return nil }
                    self = .from(first, last)
                }
            }
        }
    }

    /// 1*DIGIT, saturating at `Int64.max`; nil if empty or not all digits.
    static func number(_ digits: ArraySlice<UInt8>) -> Int64? {
        guard !digits.isEmpty else { return nil }
        var value: Int64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflowTimes) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowSum) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            value = overflowTimes || overflowSum ? Int64.max : sum
        }
        return value
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var bytes = bytes
        while let byte = bytes.first, byte == 0x20 || byte == 0x09 { bytes = bytes.dropFirst() }
        while let byte = bytes.last, byte == 0x20 || byte == 0x09 { bytes = bytes.dropLast() }
        return bytes
    }
}
