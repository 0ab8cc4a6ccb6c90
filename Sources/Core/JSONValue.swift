import Foundation

/// Any JSON value, for free-form fields such as `user_metadata`.
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            // Guarded: only whole values below 1e15 (never NaN or infinite) become Int64.
            if value.rounded() == value, abs(value) < 1e15 {
                try container.encode(Int64(value))
            } else {
                try container.encode(value)
            }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The object's members, or nil if this is not an object.
    public var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// Text nested deeper than ``JSONNesting/maximumDepth`` (``parse(_:)`` refuses it).
    public struct TooDeep: Error, Equatable {}

    /// Parses JSON text into a value; text nested deeper than ``JSONNesting/maximumDepth``
    /// throws ``TooDeep`` before any decoding. Accepts what `JSONDecoder` accepts and gives
    /// the same value (JSONValue+Text.swift), without its cost.
    public static func parse(_ text: String) throws -> JSONValue {
        var text = text
        // The same scan over the same bytes, through a buffer rather than String.UTF8View.
        guard !text.withUTF8({ JSONNesting.isTooDeep($0) }) else { throw TooDeep() }
        return try parseText(text)
    }

    /// Compact JSON text of this value: byte for byte what ``JSONBody/encoder`` writes
    /// (sorted keys, slashes unescaped), and "null" where it would throw (NaN, infinity).
    public var jsonText: String {
        Self.writeText(self) ?? "null"
    }
}
