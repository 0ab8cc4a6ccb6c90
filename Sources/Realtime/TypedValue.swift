import Core
import Foundation

/// How a filter compares a column, from the column's PostgreSQL type.
enum ColumnType: String, Sendable, Equatable {
    case uuid
    case number
    case boolean
    case timestamp
    case text
    case json

    /// The comparison for a PostgreSQL type name (`uuid`, `int8`, `timestamptz`, …); nil for a
    /// type filters cannot compare.
    init?(postgres name: String) {
        switch name {
        case "uuid": self = .uuid
        case "int2", "int4", "int8", "numeric", "float4", "float8": self = .number
        case "bool": self = .boolean
        case "timestamp", "timestamptz": self = .timestamp
        case "text", "varchar": self = .text
        case "json", "jsonb": self = .json
        default: return nil
        }
    }

    /// What a literal of this type looks like (error messages).
    var expected: String {
        switch self {
        case .uuid: "a UUID"
        case .number: "a number"
        case .boolean: "a boolean (true, false, t, f, yes, no, on, off, 1, 0)"
        case .timestamp: "an ISO 8601 timestamp (e.g. 2026-01-31T12:00:00Z)"
        case .text: "text"
        case .json: "JSON"
        }
    }
}

/// A filter operand or a record's value, read as its column's type, so that values compare
/// the way PostgreSQL compares them: UUIDs whatever their letter case, numbers by value
/// (`1.0` = `1`), booleans in any of their spellings, timestamps as instants whatever their
/// offset, text code point by code point (`COLLATE "C"`).
enum TypedValue: Sendable, Equatable {
    case uuid(UUID)
    case number(Double)
    case boolean(Bool)
    /// Microseconds since 1970-01-01 00:00 UTC.
    case timestamp(Int64)
    case text(String)
    case json(JSONValue)

    /// Reads a filter literal as the column's type; nil when it is not one.
    static func literal(_ text: String, as type: ColumnType) -> TypedValue? {
        switch type {
        case .uuid: return uuid(text).map(TypedValue.uuid)
        case .number: return number(text).map(TypedValue.number)
        case .boolean: return boolean(text).map(TypedValue.boolean)
        case .timestamp: return Self.timestamp(text).map(TypedValue.timestamp)
        case .text: return .text(text)
        case .json: return (try? JSONValue.parse(text)).map(TypedValue.json)
        }
    }

    /// Reads a record's value as the column's type; nil for `null` (and for a value the
    /// column cannot hold), which compares as SQL `NULL`: unknown.
    static func record(_ value: JSONValue, as type: ColumnType) -> TypedValue? {
        switch (type, value) {
        case (_, .null): return nil
        case (.json, _): return .json(value)
        case (.number, .number(let number)): return number.isFinite ? .number(number) : nil
        case (.boolean, .bool(let flag)): return .boolean(flag)
        case (.text, .number), (.text, .bool): return ChangeFilter.text(value).map(TypedValue.text)
        case (_, .string(let text)): return literal(text, as: type)
        default: return nil
        }
    }

    /// How this value orders against another of the same column; nil when they cannot be
    /// compared (different kinds, or JSON, which only compares for equality).
    func order(against other: TypedValue) -> ComparisonResult? {
        switch (self, other) {
        case (.uuid(let left), .uuid(let right)):
            // Lower-case hex compares like PostgreSQL's byte-wise uuid order.
            return Self.order(left.uuidString.lowercased().utf8, right.uuidString.lowercased().utf8)
        case (.number(let left), .number(let right)):
            return left < right ? .orderedAscending : (left > right ? .orderedDescending : .orderedSame)
        case (.boolean(let left), .boolean(let right)):
            return left == right ? .orderedSame : (right ? .orderedAscending : .orderedDescending)
        case (.timestamp(let left), .timestamp(let right)):
            return left < right ? .orderedAscending : (left > right ? .orderedDescending : .orderedSame)
        case (.text(let left), .text(let right)):
            return Self.order(left.unicodeScalars.map(\.value), right.unicodeScalars.map(\.value))
        case (.json(let left), .json(let right)):
            return left == right ? .orderedSame : nil
        default:
            return nil
        }
    }

    private static func order<S: Sequence>(_ left: S, _ right: S) -> ComparisonResult where S.Element: Comparable {
        if left.elementsEqual(right) { return .orderedSame }
        return left.lexicographicallyPrecedes(right) ? .orderedAscending : .orderedDescending
    }

    // MARK: Literals

    /// A UUID as PostgreSQL reads one: any letter case, optional braces, hyphens optional
    /// (between groups of four digits).
    static func uuid(_ text: String) -> UUID? {
        if let exact = UUID(uuidString: text) { return exact }
        var body = Substring(text)
        if body.hasPrefix("{"), body.hasSuffix("}"), body.count >= 2 { body = body.dropFirst().dropLast() }
        guard !body.hasPrefix("-"), !body.hasSuffix("-"), !body.contains("--") else { return nil }
        let digits = body.filter { $0 != "-" }
        guard digits.count == 32, digits.allSatisfy(\.isHexDigit) else { return nil }
        let characters = Array(digits)
        let grouped = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }.joined(separator: "-")
        return UUID(uuidString: grouped)
    }

    /// A decimal number: optional sign, digits with an optional fraction, optional exponent.
    static func number(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var sawDigit = false
        var sawDot = false
        var sawExponent = false
        var previous: Character?
        for character in trimmed {
            switch character {
            case "0"..."9": sawDigit = true
            case ".": guard !sawDot, !sawExponent else { return nil }; sawDot = true
            case "e", "E": guard sawDigit, !sawExponent else { return nil }; sawExponent = true
            case "+", "-": guard previous == nil || previous == "e" || previous == "E" else { return nil }
            default: return nil
            }
            previous = character
        }
        guard sawDigit, let value = Double(trimmed), value.isFinite else { return nil }
        return value
    }

    /// A boolean in one of PostgreSQL's spellings.
    static func boolean(_ text: String) -> Bool? {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "t", "true", "y", "yes", "on", "1": true
        case "f", "false", "n", "no", "off", "0": false
        default: nil
        }
    }

    /// An ISO 8601 / PostgreSQL timestamp, `YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][Z|±HH[[:]MM]]`,
    /// as microseconds since 1970 UTC. Without an offset the time is UTC.
    static func timestamp(_ text: String) -> Int64? {
        var reader = DigitReader(Array(text.trimmingCharacters(in: .whitespaces).utf8))
        guard let year = reader.digits(4), reader.skip("-"), let month = reader.digits(2), reader.skip("-"),
            let day = reader.digits(2), (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        var micros: Int64 = 0
        if reader.skip("T") || reader.skip("t") || reader.skip(" ") {
            guard let hour = reader.digits(2), reader.skip(":"), let minute = reader.digits(2), hour < 24, minute < 60 else { return nil }
            var second = 0
            var fraction: Int64 = 0
            if reader.skip(":") {
                guard let whole = reader.digits(2), whole < 60 else { return nil }
                second = whole
                if reader.skip(".") || reader.skip(",") {
                    guard let parsed = reader.fractionMicroseconds() else { return nil }
                    fraction = parsed
                }
            }
            micros = Int64((hour * 60 + minute) * 60 + second) * 1_000_000 + fraction
            _ = reader.skip(" ")
            if reader.skip("Z") || reader.skip("z") {
                // UTC
            } else if let sign = reader.sign() {
                guard let hours = reader.digits(2), hours <= 15 else { return nil }
                _ = reader.skip(":")
                let minutes = reader.digits(2) ?? 0
                guard minutes < 60 else { return nil }
                micros -= sign * Int64(hours * 60 + minutes) * 60_000_000
            }
        }
        guard reader.atEnd else { return nil }
        return daysFromCivil(year: year, month: month, day: day) * 86_400_000_000 + micros
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (years 0…9999 here).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let shifted = Int64(month <= 2 ? year - 1 : year)
        let era = (shifted >= 0 ? shifted : shifted - 399) / 400
        let yearOfEra = shifted - era * 400
        let dayOfYear = (153 * Int64(month > 2 ? month - 3 : month + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// Reads fixed-width ASCII fields from the front of a timestamp.
private struct DigitReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position == bytes.count }

    /// Consumes `character` if it is next.
    mutating func skip(_ character: Character) -> Bool {
        guard position < bytes.count, let ascii = character.asciiValue, bytes[position] == ascii else { return false }
        position += 1
        return true
    }

    /// Consumes a `+` (1) or `-` (-1) if one is next.
    mutating func sign() -> Int64? {
        if skip("+") { return 1 }
        if skip("-") { return -1 }
        return nil
    }

    /// Exactly `count` decimal digits.
    mutating func digits(_ count: Int) -> Int? {
        guard bytes.count - position >= count else { return nil }
        var value = 0
        for byte in bytes[position..<(position + count)] {
            guard (48...57).contains(byte) else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        position += count
        return value
    }

    /// One or more fraction digits as microseconds, rounded half up at the seventh digit
    /// (further digits are read and ignored).
    mutating func fractionMicroseconds() -> Int64? {
        var micros: Int64 = 0
        var read = 0
        var roundUp = false
        while position < bytes.count, (48...57).contains(bytes[position]) {
            let digit = Int64(bytes[position] - 48)
            if read < 6 { micros = micros * 10 + digit } else if read == 6 { roundUp = digit >= 5 }
            read += 1
            position += 1
        }
        guard read > 0 else { return nil }
        for _ in read..<max(read, 6) { micros *= 10 }
        return micros + (roundUp ? 1 : 0)
    }
}
