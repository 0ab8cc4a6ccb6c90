import Foundation

// Hand-written JSON text for `JSONValue`, over UTF-8 bytes. Both directions reproduce what
// Foundation's `JSONEncoder` (`JSONBody.encoder`) and `JSONDecoder` did before (swift-foundation
// 6.3.1, FoundationEssentials/JSON), byte for byte and value for value; the differential test
// `JSONValueTextTests` keeps the Foundation versions as its reference. The one intended
// difference: the parser itself never nests deeper than `JSONNesting.maximumDepth`, even when
// the byte scan of `JSONNesting.isTooDeep` was misled by an escape it does not understand.

// MARK: - Writing

extension JSONValue {
    /// Compact JSON text of `value` as `JSONEncoder` with `[.withoutEscapingSlashes,
    /// .sortedKeys]` writes it, or nil where that encoder throws (a NaN or infinite number,
    /// or objects and arrays nested 512 deep).
    static func writeText(_ value: JSONValue) -> String? {
        var writer = JSONTextWriter()
        guard writer.write(value, depth: 0) else { return nil }
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

struct JSONTextWriter {
    /// `JSONWriter.maximumRecursionDepth`: a container at this depth makes the encoder throw.
    static let maximumDepth = 512

    var bytes: [UInt8] = []

    init() {
        bytes.reserveCapacity(256)
    }

    /// Appends `value`; false where the encoder would throw.
    mutating func write(_ value: JSONValue, depth: Int) -> Bool {
        switch value {
        case .null:
            append("null")
        case .bool(let flag):
            append(flag ? "true" : "false")
        case .number(let number):
            return writeNumber(number)
        case .string(let text):
            writeString(text)
        case .array(let items):
            guard depth + 1 < Self.maximumDepth else { return false }
            bytes.append(UInt8(ascii: "["))
            var first = true
            for item in items {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                guard write(item, depth: depth + 1) else { return false }
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            guard depth + 1 < Self.maximumDepth else { return false }
            bytes.append(UInt8(ascii: "{"))
            var first = true
            // Sorted by the first eight bytes as a number, then (on a tie) by all bytes.
            var entries: [(prefix: UInt64, key: String, value: JSONValue)] = []
            entries.reserveCapacity(members.count)
            for (key, member) in members { entries.append((Self.prefix(key), key, member)) }
            entries.sort { $0.prefix != $1.prefix ? $0.prefix < $1.prefix : Self.utf8Precedes($0.key, $1.key) }
            for entry in entries {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                writeString(entry.key)
                bytes.append(UInt8(ascii: ":"))
                guard write(entry.value, depth: depth + 1) else { return false }
            }
            bytes.append(UInt8(ascii: "}"))
        }
        return true
    }

    /// The first eight UTF-8 bytes of `key`, big-endian, zero-padded: a different prefix
    /// orders two keys as their bytes do; an equal one leaves it to ``utf8Precedes(_:_:)``.
    static func prefix(_ key: String) -> UInt64 {
        var value: UInt64 = 0
        var count = 0
        for byte in key.utf8 {
            if count == 8 { break }
            value = value << 8 | UInt64(byte)
            count += 1
        }
        return count == 0 ? 0 : value << (8 * (8 - count))
    }

    /// The encoder's key order: lexicographic by UTF-8 bytes.
    static func utf8Precedes(_ left: String, _ right: String) -> Bool {
        var left = left, right = right
        return left.withUTF8 { a in
            right.withUTF8 { b in
                let shared = min(a.count, b.count)
                if shared > 0, let pa = a.baseAddress, let pb = b.baseAddress {
                    let order = memcmp(pa, pb, shared)
                    if order != 0 { return order < 0 }
                }
                return a.count < b.count
            }
        }
    }

    private mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// `JSONValue.encode(to:)`: whole values below 1e15 as Int64, others as the encoder
    /// writes a Double (its `description` without a trailing ".0"); NaN and infinities throw.
    private mutating func writeNumber(_ number: Double) -> Bool {
        if abs(number) < 1e15, let whole = Int64(exactly: number) {
            // Whole and below 1e15 in magnitude (the checked conversion cannot trap).
            writeInteger(whole)
            return true
        }
        guard number.isFinite else { return false }
        var text = number.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
        return true
    }

    private mutating func writeInteger(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        // At most 15 digits here (|value| < 1e15); 20 covers any UInt64.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                count += 1
                buffer[buffer.count - count] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0 && count < buffer.count
            bytes.append(contentsOf: buffer[(buffer.count - count)...])
        }
    }

    /// The encoder's escaping: `"` and `\` with a backslash, U+0008, U+000C, U+000A,
    /// U+000D, U+0009 as \b \f \n \r \t, other controls below U+0020 as \u00xx (lowercase
    /// hex); `/`, DEL and all non-ASCII characters as they are.
    private mutating func writeString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { source in
            var runStart = 0
            var index = 0
            while index < source.count {
                let byte = source[index]
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                    index += 1
                    continue
                }
                if index > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: source[runStart..<index])) }
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                default:
                    let hex: StaticString = "0123456789abcdef"
                    bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                    hex.withUTF8Buffer { digits in
                        bytes.append(digits[Int(byte >> 4)])
                        bytes.append(digits[Int(byte & 0x0F)])
                    }
                }
                index += 1
                runStart = index
            }
            if index > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: source[runStart..<index])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

// MARK: - Parsing

/// JSON text that `JSONValue.parse` does not accept.
struct JSONTextError: Error {}

extension JSONValue {
    /// Parses UTF-8 JSON text as `JSONDecoder().decode(JSONValue.self, from:)` did, after the
    /// nesting scan: a UTF-8 byte order mark is skipped; text whose first bytes contain NUL
    /// in the patterns of RFC 4627 §3 is read as UTF-16 or UTF-32 (the decoder's encoding
    /// detection); fragments, trailing commas in arrays and objects are accepted; for a
    /// repeated key the first member wins and the later values are only scanned, not read.
    static func parseText(_ text: String) throws -> JSONValue {
        var text = text
        if let transcoded = try JSONTextParser.transcodedIfNotUTF8(&text) {
            var transcoded = transcoded
            return try transcoded.withUTF8 { try JSONTextParser.parseDocument($0) }
        }
        return try text.withUTF8 { buffer in
            // A UTF-8 byte order mark is skipped.
            if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF {
                return try JSONTextParser.parseDocument(UnsafeBufferPointer(rebasing: buffer[3...]))
            }
            return try JSONTextParser.parseDocument(buffer)
        }
    }
}

/// A recursive-descent parser over UTF-8 bytes. Every read is bounds-checked through
/// ``byte(at:)``; nesting is bounded by `JSONNesting.maximumDepth`.
struct JSONTextParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    /// Reused for strings with escapes.
    var scratch: [UInt8] = []

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The decoder's encoding detection (`JSONDecoder.withUTF8Representation`): text whose
    /// first four (or two) bytes have NUL in one of the RFC 4627 patterns is UTF-16 or
    /// UTF-32 and is transcoded; nil for UTF-8 (the only possibility otherwise, as the text
    /// is a Swift string).
    static func transcodedIfNotUTF8(_ text: inout String) throws -> String? {
        try text.withUTF8 { buffer -> String? in
            let b0: UInt8? = buffer.count > 0 ? buffer[0] : nil
            let b1: UInt8? = buffer.count > 1 ? buffer[1] : nil
            guard b0 == 0 || b1 == 0 else { return nil }
            let b2: UInt8? = buffer.count > 2 ? buffer[2] : nil
            let b3: UInt8? = buffer.count > 3 ? buffer[3] : nil
            // 0xFE and 0xFF never occur in UTF-8, so the byte-order-mark patterns cannot match.
            let encoding: String.Encoding
            switch (b0, b1, b2, b3) {
            case let (0, 0, 0, .some(nz)) where nz != 0: encoding = .utf32BigEndian
            case let (0, .some(nz1), 0, .some(nz2)) where nz1 != 0 && nz2 != 0: encoding = .utf16BigEndian
            case let (.some(nz), 0, 0, 0) where nz != 0: encoding = .utf32LittleEndian
            case let (.some(nz1), 0, .some(nz2), 0) where nz1 != 0 && nz2 != 0: encoding = .utf16LittleEndian
            case let (0, .some(nz), nil, nil) where nz != 0: encoding = .utf16BigEndian
            case let (.some(nz), 0, nil, nil) where nz != 0: encoding = .utf16LittleEndian
            default: return nil
            }
            guard let string = String(bytes: Array(buffer), encoding: encoding) else { throw JSONTextError() }
            return string
        }
    }

    /// One JSON value, with only whitespace around it.
    static func parseDocument(_ bytes: UnsafeBufferPointer<UInt8>) throws -> JSONValue {
        var parser = JSONTextParser(bytes)
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw JSONTextError() }
        return value
    }

    @inline(__always)
    func byte(at position: Int) -> UInt8? {
        position >= 0 && position < bytes.count ? bytes[position] : nil
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while let byte = byte(at: index), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
            index += 1
        }
    }

    /// The next byte that is not whitespace (not consumed), or a throw at the end.
    @inline(__always)
    mutating func nextToken() throws -> UInt8 {
        skipWhitespace()
        guard let byte = byte(at: index) else { throw JSONTextError() }
        return byte
    }

    // MARK: Values that are read

    mutating func parseValue(depth: Int) throws -> JSONValue {
        switch try nextToken() {
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "{"):
            return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth + 1)
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = index
            skipNumber()
            return .number(try Self.number(UnsafeBufferPointer(rebasing: bytes[start..<index])))
        default:
            throw JSONTextError()
        }
    }

    mutating func parseArray(depth: Int) throws -> JSONValue {
        guard depth <= JSONNesting.maximumDepth else { throw JSONValue.TooDeep() }
        index += 1  // "["
        var items: [JSONValue] = []
        if try nextToken() == UInt8(ascii: "]") {
            index += 1
            return .array(items)
        }
        while true {
            items.append(try parseValue(depth: depth))
            if try afterElement(closing: UInt8(ascii: "]")) { return .array(items) }
        }
    }

    mutating func parseObject(depth: Int) throws -> JSONValue {
        guard depth <= JSONNesting.maximumDepth else { throw JSONValue.TooDeep() }
        index += 1  // "{"
        var members: [String: JSONValue] = [:]
        if try nextToken() == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            guard try nextToken() == UInt8(ascii: "\"") else { throw JSONTextError() }
            let key = try parseString()
            guard try nextToken() == UInt8(ascii: ":") else { throw JSONTextError() }
            index += 1
            if members[key] == nil {
                members[key] = try parseValue(depth: depth)
            } else {
                // The decoder keeps the first member and never reads a repeated key's value.
                try skipValue(depth: depth)
            }
            if try afterElement(closing: UInt8(ascii: "}")) { return .object(members) }
        }
    }

    /// After an element: `,` (then a further element, or a trailing comma before the
    /// closing bracket, which the decoder accepts) or the closing bracket. True when closed.
    mutating func afterElement(closing: UInt8) throws -> Bool {
        let byte = try nextToken()
        if byte == closing {
            index += 1
            return true
        }
        guard byte == UInt8(ascii: ",") else { throw JSONTextError() }
        index += 1
        if try nextToken() == closing {
            index += 1
            return true
        }
        return false
    }

    mutating func expect(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        for offset in 0..<count {
            // `offset` is below the literal's length.
            guard byte(at: index + offset) == word.utf8Start[offset] else { throw JSONTextError() }
        }
        index += count
    }

    // MARK: Values that are only scanned

    /// What the decoder's scanner checks of a value it never reads (a repeated key's value):
    /// structure, literals, string ends and escape shapes; numbers are any run of
    /// `0-9 . + - e E`, string contents are not checked.
    mutating func skipValue(depth: Int) throws {
        switch try nextToken() {
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "{"):
            guard depth + 1 <= JSONNesting.maximumDepth else { throw JSONValue.TooDeep() }
            index += 1
            if try nextToken() == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                guard try nextToken() == UInt8(ascii: "\"") else { throw JSONTextError() }
                _ = try scanString()
                guard try nextToken() == UInt8(ascii: ":") else { throw JSONTextError() }
                index += 1
                try skipValue(depth: depth + 1)
                if try afterElement(closing: UInt8(ascii: "}")) { return }
            }
        case UInt8(ascii: "["):
            guard depth + 1 <= JSONNesting.maximumDepth else { throw JSONValue.TooDeep() }
            index += 1
            if try nextToken() == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                try skipValue(depth: depth + 1)
                if try afterElement(closing: UInt8(ascii: "]")) { return }
            }
        case UInt8(ascii: "t"):
            try expect("true")
        case UInt8(ascii: "f"):
            try expect("false")
        case UInt8(ascii: "n"):
            try expect("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            skipNumber()
        default:
            throw JSONTextError()
        }
    }

    /// The scanner's extent of a number: its first byte, then any of `0-9 . + - e E`.
    mutating func skipNumber() {
        index += 1
        while let byte = byte(at: index) {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "-"),
                UInt8(ascii: "e"), UInt8(ascii: "E"):
                index += 1
            default:
                return
            }
        }
    }

    /// The scanner's extent of a string starting at the opening quote at `index`: up to the
    /// next quote not escaped, where a backslash takes the next byte, and `\u` four more
    /// bytes that must not be a quote. Returns the contents' range and whether it has escapes;
    /// `index` ends after the closing quote.
    mutating func scanString() throws -> (range: Range<Int>, escaped: Bool) {
        index += 1  // opening quote
        let start = index
        var escaped = false
        while let byte = byte(at: index) {
            if byte == UInt8(ascii: "\"") {
                let range = start..<index
                index += 1
                return (range, escaped)
            }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                guard let next = self.byte(at: index + 1) else { throw JSONTextError() }
                index += 2
                if next == UInt8(ascii: "u") {
                    guard index + 4 <= bytes.count else { throw JSONTextError() }
                    for offset in 0..<4 where self.byte(at: index + offset) == UInt8(ascii: "\"") {
                        throw JSONTextError()
                    }
                    index += 4
                }
            } else {
                index += 1
            }
        }
        throw JSONTextError()
    }

    // MARK: Strings

    /// A string at `index` (the opening quote), read as the decoder reads it: control
    /// characters below U+0020 refused, the escapes of RFC 8259, surrogate pairs joined, a
    /// lone surrogate refused, `\u0000` allowed.
    mutating func parseString() throws -> String {
        let (range, escaped) = try scanString()
        let contents = UnsafeBufferPointer(rebasing: bytes[range])
        if !escaped {
            for byte in contents where byte < 0x20 { throw JSONTextError() }
            return String(decoding: contents, as: UTF8.self)
        }
        scratch.removeAll(keepingCapacity: true)
        var position = 0
        func at(_ offset: Int) -> UInt8? { offset >= 0 && offset < contents.count ? contents[offset] : nil }
        while let byte = at(position) {
            if byte < 0x20 { throw JSONTextError() }
            guard byte == UInt8(ascii: "\\") else {
                scratch.append(byte)
                position += 1
                continue
            }
            guard let escape = at(position + 1) else { throw JSONTextError() }
            position += 2
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(escape)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                let unit = try Self.hex4(at(position), at(position + 1), at(position + 2), at(position + 3))
                position += 4
                let scalar: Unicode.Scalar
                if UTF16.isLeadSurrogate(unit) {
                    guard at(position) == UInt8(ascii: "\\"), at(position + 1) == UInt8(ascii: "u") else { throw JSONTextError() }
                    let trail = try Self.hex4(at(position + 2), at(position + 3), at(position + 4), at(position + 5))
                    guard UTF16.isTrailSurrogate(trail) else { throw JSONTextError() }
                    position += 6
                    let value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(trail) - 0xDC00)
                    guard let joined = Unicode.Scalar(value) else { throw JSONTextError() }
                    scalar = joined
                } else {
                    guard let single = Unicode.Scalar(unit) else { throw JSONTextError() }
                    scalar = single
                }
                scratch.append(contentsOf: scalar.utf8)
            default:
                throw JSONTextError()
            }
        }
        return String(decoding: scratch, as: UTF8.self)
    }

    /// Four hex digits (either case), as the decoder's `_parseHexIntegerDigits`.
    static func hex4(_ a: UInt8?, _ b: UInt8?, _ c: UInt8?, _ d: UInt8?) throws -> UInt16 {
        func nibble(_ digit: UInt8?) throws -> UInt16 {
            switch digit {
            case .some(let d) where d >= UInt8(ascii: "0") && d <= UInt8(ascii: "9"): return UInt16(d &- UInt8(ascii: "0"))
            case .some(let d) where d >= UInt8(ascii: "a") && d <= UInt8(ascii: "f"): return UInt16(d &- UInt8(ascii: "a") &+ 10)
            case .some(let d) where d >= UInt8(ascii: "A") && d <= UInt8(ascii: "F"): return UInt16(d &- UInt8(ascii: "A") &+ 10)
            default: throw JSONTextError()
            }
        }
        return try nibble(a) << 12 | nibble(b) << 8 | nibble(c) << 4 | nibble(d)
    }

    // MARK: Numbers

    /// Exact powers of ten for the fast path (10^22 is the largest exact Double power).
    static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// The number a token (the scanner's extent) stands for, as the decoder reads it: the
    /// RFC 8259 grammar, correctly rounded to Double, refused when it overflows to infinity
    /// or underflows to zero from non-zero digits.
    static func number(_ token: UnsafeBufferPointer<UInt8>) throws -> Double {
        func at(_ offset: Int) -> UInt8? { offset >= 0 && offset < token.count ? token[offset] : nil }
        func digit(_ byte: UInt8?) -> UInt64? {
            guard let byte, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            return UInt64(byte &- UInt8(ascii: "0"))
        }
        var position = 0
        let negative = at(0) == UInt8(ascii: "-")
        if negative { position += 1 }

        // Up to 19 significant digits go into `mantissa`; the value is mantissa × 10^scale
        // unless digits were dropped (then the slow path reads the text).
        var mantissa: UInt64 = 0
        var kept = 0
        var dropped = false
        var scale = 0

        guard let first = digit(at(position)) else { throw JSONTextError() }
        position += 1
        if first != 0 {
            mantissa = first
            kept = 1
            while let next = digit(at(position)) {
                position += 1
                if kept < 19 {
                    mantissa = mantissa &* 10 &+ next
                    kept += 1
                } else {
                    dropped = true
                    scale += 1
                }
            }
        }
        if at(position) == UInt8(ascii: ".") {
            position += 1
            guard digit(at(position)) != nil else { throw JSONTextError() }
            while let next = digit(at(position)) {
                position += 1
                if kept == 0 && next == 0 {
                    scale -= 1  // a leading zero of the fraction
                } else if kept < 19 {
                    mantissa = mantissa &* 10 &+ next
                    kept += 1
                    scale -= 1
                } else {
                    dropped = true
                }
            }
        }
        if at(position) == UInt8(ascii: "e") || at(position) == UInt8(ascii: "E") {
            position += 1
            var exponentNegative = false
            if at(position) == UInt8(ascii: "+") || at(position) == UInt8(ascii: "-") {
                exponentNegative = at(position) == UInt8(ascii: "-")
                position += 1
            }
            guard digit(at(position)) != nil else { throw JSONTextError() }
            var exponent = 0
            while let next = digit(at(position)) {
                position += 1
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(next) }
            }
            scale += exponentNegative ? -exponent : exponent
        }
        guard position == token.count else { throw JSONTextError() }

        let magnitude: Double
        if !dropped, mantissa <= (1 << 53), scale >= -22, scale <= 22 {
            // Clinger's fast path: both operands are exact, so the one operation rounds correctly.
            let base = Double(mantissa)
            magnitude = scale >= 0 ? base * powersOfTen[scale] : base / powersOfTen[-scale]
        } else {
            let text = String(decoding: UnsafeBufferPointer(rebasing: token[(negative ? 1 : 0)...]), as: UTF8.self)
            guard let parsed = Double(text) else { throw JSONTextError() }
            magnitude = parsed
        }
        guard magnitude.isFinite else { throw JSONTextError() }
        guard magnitude != 0 || isTrueZero(token) else { throw JSONTextError() }
        return negative ? -magnitude : magnitude
    }

    /// The decoder's test (`JSONDecoderImpl.isTrueZero`) of whether a token that became 0
    /// was written as zero rather than underflowing: the first digit 1-9 or `e`/`E` decides.
    /// It reads whole groups of four bytes forwards but the last one to three bytes
    /// backwards, so "0e2" counts as an underflow (an error) while "0e12" is zero; kept as is.
    static func isTrueZero(_ token: UnsafeBufferPointer<UInt8>) -> Bool {
        func check(_ offset: Int) -> Bool? {
            guard offset >= 0 && offset < token.count else { return nil }
            switch token[offset] {
            case UInt8(ascii: "1")...UInt8(ascii: "9"): return false
            case UInt8(ascii: "e"), UInt8(ascii: "E"): return true
            default: return nil
            }
        }
        var start = 0
        while token.count - start >= 4 {
            for offset in start..<(start + 4) {
                if let decided = check(offset) { return decided }
            }
            start += 4
        }
        for offset in stride(from: token.count - 1, through: start, by: -1) {
            if let decided = check(offset) { return decided }
        }
        return true
    }
}
