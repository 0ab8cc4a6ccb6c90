import Foundation

/// An opaque keyset-pagination cursor: the sort timestamp (exactly as PostgreSQL printed
/// it) and the row id that break ties. Lists never use OFFSET.
public struct KeysetCursor: Sendable, Equatable {
    /// The timestamp text, cast back with `::timestamptz` so no precision is lost.
    public var timestamp: String
    public var id: UUID

    public init(timestamp: String, id: UUID) {
        self.timestamp = timestamp
        self.id = id
    }

    /// The opaque form handed to clients.
    public var encoded: String {
        Data("\(timestamp)|\(id.uuidString.lowercased())".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Decodes a client-sent cursor; `field` names the argument in the error.
    public init(decoding text: String, field: String = "cursor") throws {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
            let decoded = String(data: data, encoding: .utf8),
            let separator = decoded.lastIndex(of: "|"),
            let id = UUID(uuidString: String(decoded[decoded.index(after: separator)...])),
            (19...40).contains(decoded[..<separator].count),
            decoded[..<separator].allSatisfy({ "0123456789-:. +T".contains($0) })
        else {
            throw APIError.invalidField(field, "must be a cursor returned by a previous page")
        }
        self.timestamp = String(decoded[..<separator])
        self.id = id
    }
}

/// Page-size rules shared by every list.
public enum PageSize {
    /// Validates an optional `limit` argument: default when absent, else within 1...maximum.
    public static func resolve(_ limit: Int?, default defaultValue: Int, maximum: Int, field: String = "limit") throws -> Int {
        guard let limit else { return defaultValue }
        guard (1...maximum).contains(limit) else {
            throw APIError.invalidField(field, "must be between 1 and \(maximum)")
        }
        return limit
    }
}
