import NIOCore

/// One value of the Redis serialization protocol, RESP3 (and the RESP2 subset).
///
/// RESP2 replies map onto the same cases: a RESP2 null bulk string or null array is `.null`.
public enum RESPValue: Sendable, Hashable {
    /// `+OK`: a short, line-delimited text.
    case simpleString(String)
    /// `-ERR …` or a RESP3 blob error (`!`): an error reply, with its code word first.
    case error(String)
    /// `:42`: a signed 64-bit integer.
    case integer(Int64)
    /// `$3\r\nfoo`: binary-safe bytes.
    case bulkString(ByteBuffer)
    /// `_`, or RESP2's `$-1` / `*-1`.
    case null
    /// `*…`: an ordered list.
    case array([RESPValue])
    /// `%…`: key-value pairs. A key sent twice keeps its last value.
    case map([RESPValue: RESPValue])
    /// `~…`: an unordered collection, kept in the order the server sent it.
    case set([RESPValue])
    /// `,3.14`, including `inf`, `-inf` and `nan`.
    case double(Double)
    /// `#t` / `#f`.
    case boolean(Bool)
    /// `(3492890328409238509324850943850943825024385`: an integer of any size, as its decimal text.
    case bigNumber(String)
    /// `=15\r\ntxt:Some string`: text for humans; the three-letter format and its colon are removed.
    case verbatimString(String)
    /// `>…`: an out-of-band message, such as a pub/sub message on a RESP3 connection.
    case push([RESPValue])
}

extension RESPValue {
    /// The text of a simple string, bulk string (decoded as UTF-8) or verbatim string; nil otherwise.
    public var string: String? {
        switch self {
        case .simpleString(let text), .verbatimString(let text): text
        case .bulkString(let bytes): String(buffer: bytes)
        default: nil
        }
    }

    /// The value of an integer reply, or of a simple or bulk string holding a decimal 64-bit integer; nil otherwise.
    public var int: Int64? {
        switch self {
        case .integer(let value): value
        case .simpleString(let text): Int64(text)
        case .bulkString(let bytes): Int64(String(buffer: bytes))
        default: nil
        }
    }

    /// The elements of an array, set or push; nil otherwise.
    public var array: [RESPValue]? {
        switch self {
        case .array(let values), .set(let values), .push(let values): values
        default: nil
        }
    }

    /// The bytes of a bulk string, or the UTF-8 of a simple or verbatim string; nil otherwise.
    public var bytes: ByteBuffer? {
        switch self {
        case .bulkString(let bytes): bytes
        case .simpleString(let text), .verbatimString(let text): ByteBuffer(string: text)
        default: nil
        }
    }

    /// Whether this is `.null`.
    public var isNull: Bool {
        if case .null = self { true } else { false }
    }
}

extension RESPValue: CustomStringConvertible {
    /// A short rendering for logs and test failures.
    public var description: String {
        switch self {
        case .simpleString(let text): "+\(text)"
        case .error(let text): "-\(text)"
        case .integer(let value): ":\(value)"
        case .bulkString(let bytes): "$\"\(String(buffer: bytes))\""
        case .null: "null"
        case .array(let values): "[" + values.map(\.description).joined(separator: ", ") + "]"
        case .map(let pairs): "{" + pairs.map { "\($0.key): \($0.value)" }.sorted().joined(separator: ", ") + "}"
        case .set(let values): "~[" + values.map(\.description).joined(separator: ", ") + "]"
        case .double(let value): ",\(value)"
        case .boolean(let value): value ? "#t" : "#f"
        case .bigNumber(let text): "(\(text)"
        case .verbatimString(let text): "=\"\(text)\""
        case .push(let values): ">[" + values.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
