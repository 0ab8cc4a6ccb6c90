/// Why bytes from a Redis server could not be read as RESP. The connection that received them is closed.
public enum RESPDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The first byte of a value is not one of the RESP2/RESP3 type bytes.
    case invalidTypeByte(UInt8)
    /// A length or count line is not a decimal number.
    case invalidLength(type: UInt8, text: String)
    /// A length or count is negative (only `$-1` and `*-1`, RESP2's nulls, are allowed).
    case negativeLength(type: UInt8, length: Int64)
    /// An integer, length or count does not fit in a signed 64-bit integer.
    case integerOverflow(type: UInt8, text: String)
    /// An integer reply (`:`) is not a decimal number.
    case invalidInteger(String)
    /// A double reply (`,`) is not a number, `inf`, `-inf` or `nan`.
    case invalidDouble(String)
    /// A boolean reply (`#`) is neither `t` nor `f`.
    case invalidBoolean(String)
    /// A big number reply (`(`) is not an optionally signed run of decimal digits.
    case invalidBigNumber(String)
    /// A null (`_`) carries text.
    case invalidNull(String)
    /// A verbatim string (`=`) does not start with a three-letter format and a colon.
    case invalidVerbatimString
    /// A line is not ended by CR LF, or a bulk payload is not followed by CR LF.
    case missingCRLF(type: UInt8)
    /// A bulk string, verbatim string or blob error is longer than `RESPDecodingLimits.maximumBulkLength`.
    case bulkTooLong(type: UInt8, length: Int64, maximum: Int)
    /// An array, map, set, push or attribute announces more elements than `RESPDecodingLimits.maximumAggregateCount`.
    case aggregateTooLarge(type: UInt8, count: Int64, maximum: Int)
    /// Aggregates are nested more than `RESPDecodingLimits.maximumDepth` levels deep.
    case nestingTooDeep(maximum: Int)
    /// A simple line (`+`, `-`, `:`, lengths, …) is longer than `RESPDecodingLimits.maximumLineLength` without CR LF.
    case lineTooLong(type: UInt8, maximum: Int)
    /// A streamed string or aggregate (`$?`, `*?`, …), which Redis never sends.
    case streamedTypeNotSupported(type: UInt8)

    /// A sentence naming the type byte and the rule or limit broken.
    public var description: String {
        switch self {
        case .invalidTypeByte(let byte):
            "invalid RESP type byte \(Self.name(byte))"
        case .invalidLength(let type, let text):
            "RESP \(Self.name(type)) length is not a number: '\(text)'"
        case .negativeLength(let type, let length):
            "RESP \(Self.name(type)) length \(length) is negative (only -1 means null, for $ and *)"
        case .integerOverflow(let type, let text):
            "RESP \(Self.name(type)) number '\(text)' does not fit in a signed 64-bit integer"
        case .invalidInteger(let text):
            "RESP integer ':' is not a number: '\(text)'"
        case .invalidDouble(let text):
            "RESP double ',' is not a number: '\(text)'"
        case .invalidBoolean(let text):
            "RESP boolean '#' must be t or f, not '\(text)'"
        case .invalidBigNumber(let text):
            "RESP big number '(' is not a decimal integer: '\(text)'"
        case .invalidNull(let text):
            "RESP null '_' must be empty, not '\(text)'"
        case .invalidVerbatimString:
            "RESP verbatim string '=' must start with a three-letter format and ':'"
        case .missingCRLF(let type):
            "RESP \(Self.name(type)) is not terminated by CR LF"
        case .bulkTooLong(let type, let length, let maximum):
            "RESP \(Self.name(type)) length \(length) exceeds the limit of \(maximum) bytes"
        case .aggregateTooLarge(let type, let count, let maximum):
            "RESP \(Self.name(type)) count \(count) exceeds the limit of \(maximum) elements"
        case .nestingTooDeep(let maximum):
            "RESP aggregates nested more than \(maximum) levels deep"
        case .lineTooLong(let type, let maximum):
            "RESP \(Self.name(type)) line exceeds the limit of \(maximum) bytes without CR LF"
        case .streamedTypeNotSupported(let type):
            "RESP streamed \(Self.name(type)) ('?' length) is not supported"
        }
    }

    /// `'$'` for a printable byte, `0x07` otherwise.
    static func name(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F {
            return "'\(Character(Unicode.Scalar(byte)))'"
        }
        let hex = String(byte, radix: 16, uppercase: true)
        return "0x" + (hex.count < 2 ? "0" + hex : hex)
    }
}
