import Foundation

/// A keyset-pagination position: the sort timestamp (exactly as PostgreSQL printed it) and
/// the row id that breaks ties. Lists never use OFFSET.
///
/// Clients only ever see it signed (``payload`` plus a MAC, made by the Database module's
/// `CursorCodec`), so the values here are always ones the server produced; the shape checks
/// in ``init(payload:)`` are a second line of defence.
public struct KeysetCursor: Sendable, Equatable {
    /// The timestamp text, cast back with `::timestamptz` so no precision is lost.
    public var timestamp: String
    public var id: UUID

    public init(timestamp: String, id: UUID) {
        self.timestamp = timestamp
        self.id = id
    }

    /// The text that is signed and handed out: `<timestamp>|<id>`.
    public var payload: String {
        "\(timestamp)|\(id.uuidString.lowercased())"
    }

    /// Parses ``payload``; nil unless it has the shape the server writes.
    public init?(payload: String) {
        guard let separator = payload.lastIndex(of: "|"),
            let id = UUID(uuidString: String(payload[payload.index(after: separator)...]))
        else { return nil }
        let timestamp = payload[..<separator]
        guard (19...40).contains(timestamp.unicodeScalars.count),
            timestamp.unicodeScalars.allSatisfy({ "0123456789-:. +T".unicodeScalars.contains($0) })
        else { return nil }
        self.timestamp = String(timestamp)
        self.id = id
    }

    /// Longest cursor text looked at; anything longer is not one the server issued.
    public static let maximumSignedLength = 256

    /// The signed text handed to clients: `base64url(payload) "." base64url(mac)`, unpadded.
    public static func signedText(payload: Data, mac: Data) -> String {
        Base64URL.encode(payload) + "." + Base64URL.encode(mac)
    }

    /// The payload and MAC bytes of a signed text; nil unless it has that shape.
    public static func signedParts(_ text: String) -> (payload: Data, mac: Data)? {
        guard text.utf8.count <= maximumSignedLength else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Base64URL.decodeCanonical(parts[0]), let mac = Base64URL.decodeCanonical(parts[1])
        else { return nil }
        return (payload, mac)
    }

    /// The error for any cursor the server did not issue; `field` names the argument.
    public static func invalid(_ field: String) -> APIError {
        APIError.invalidField(field, "must be a cursor returned by a previous page")
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
