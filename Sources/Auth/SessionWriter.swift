import Core
import Foundation

/// Writes the JSON of the two objects every sign-in and refresh produces — the access
/// token's claims and the session response — straight into bytes.
///
/// Profiling the release server (issue 12) showed Foundation's `JSONEncoder` (and the
/// `Calendar` and `String(format:)` behind each timestamp) as the largest share of the CPU a
/// refresh costs once its database work was one statement. The output is the same JSON as
/// `JSONBody.encoder` writes for these types (keys sorted, absent optionals omitted,
/// timestamps as ``Timestamp/format(_:)``); a test compares the two.
struct SessionWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
    }

    /// The claims of an access token.
    static func claims(_ claims: AccessTokenClaims) -> [UInt8] {
        var writer = SessionWriter(capacity: 512)
        writer.write(claims)
        return writer.bytes
    }

    /// The session response of `POST /verify` and `POST /token`.
    static func session(_ session: SessionJSON) -> Data {
        var writer = SessionWriter(capacity: 1536)
        writer.write(session)
        return Data(writer.bytes)
    }

    mutating func write(_ claims: AccessTokenClaims) {
        raw("{\"aal\":"); string(claims.aal)
        raw(",\"amr\":[")
        for (index, amr) in claims.amr.enumerated() {
            if index > 0 { raw(",") }
            raw("{\"method\":"); string(amr.method)
            raw(",\"timestamp\":"); integer(amr.timestamp)
            raw("}")
        }
        raw("],\"app_metadata\":"); value(claims.app_metadata)
        raw(",\"aud\":"); string(claims.aud)
        raw(",\"email\":"); string(claims.email)
        raw(",\"exp\":"); integer(claims.exp)
        raw(",\"iat\":"); integer(claims.iat)
        raw(",\"is_anonymous\":"); bool(claims.is_anonymous)
        raw(",\"iss\":"); string(claims.iss)
        raw(",\"phone\":"); string(claims.phone)
        raw(",\"role\":"); string(claims.role)
        raw(",\"session_id\":"); string(claims.session_id)
        raw(",\"sub\":"); string(claims.sub)
        raw(",\"user_metadata\":"); value(claims.user_metadata)
        raw("}")
    }

    mutating func write(_ session: SessionJSON) {
        raw("{\"access_token\":"); string(session.access_token)
        raw(",\"expires_at\":"); integer(session.expires_at)
        raw(",\"expires_in\":"); integer(session.expires_in)
        raw(",\"refresh_token\":"); string(session.refresh_token)
        raw(",\"token_type\":"); string(session.token_type)
        raw(",\"user\":"); write(session.user)
        raw("}")
    }

    mutating func write(_ user: UserJSON) {
        raw("{\"app_metadata\":"); value(user.app_metadata)
        raw(",\"aud\":"); string(user.aud)
        if let date = user.banned_until { raw(",\"banned_until\":"); timestamp(date) }
        if let date = user.confirmation_sent_at { raw(",\"confirmation_sent_at\":"); timestamp(date) }
        if let date = user.confirmed_at { raw(",\"confirmed_at\":"); timestamp(date) }
        raw(",\"created_at\":"); timestamp(user.created_at)
        raw(",\"email\":"); string(user.email)
        raw(",\"id\":"); string(user.id)
        raw(",\"identities\":[")
        for (index, identity) in user.identities.enumerated() {
            if index > 0 { raw(",") }
            raw("{\"created_at\":"); timestamp(identity.created_at)
            raw(",\"id\":"); string(identity.id)
            raw(",\"identity_data\":"); value(identity.identity_data)
            raw(",\"identity_id\":"); string(identity.identity_id)
            if let date = identity.last_sign_in_at { raw(",\"last_sign_in_at\":"); timestamp(date) }
            raw(",\"provider\":"); string(identity.provider)
            raw(",\"updated_at\":"); timestamp(identity.updated_at)
            raw(",\"user_id\":"); string(identity.user_id)
            raw("}")
        }
        raw("],\"is_anonymous\":"); bool(user.is_anonymous)
        if let date = user.last_sign_in_at { raw(",\"last_sign_in_at\":"); timestamp(date) }
        if let phone = user.new_phone { raw(",\"new_phone\":"); string(phone) }
        raw(",\"phone\":"); string(user.phone)
        if let date = user.phone_change_sent_at { raw(",\"phone_change_sent_at\":"); timestamp(date) }
        if let date = user.phone_confirmed_at { raw(",\"phone_confirmed_at\":"); timestamp(date) }
        raw(",\"role\":"); string(user.role)
        raw(",\"updated_at\":"); timestamp(user.updated_at)
        raw(",\"user_metadata\":"); value(user.user_metadata)
        raw("}")
    }

    // MARK: values

    private mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private mutating func bool(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }

    private mutating func integer(_ value: Int) {
        bytes.append(contentsOf: String(value).utf8)
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\b \f \n \r \t` or
    /// `\u00XX`, everything else (including `/` and non-ASCII) as is.
    private mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x08: raw("\\b")
            case 0x0C: raw("\\f")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0x00..<0x20:
                raw("\\u00")
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Any JSON value (metadata): objects with keys in code-point order, as `.sortedKeys`.
    private mutating func value(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let flag): bool(flag)
        case .number(let number):
            // Whole values below 1e15 are written as integers (JSONValue's own rule); any other
            // number goes through the shared encoder so its digits match exactly.
            if abs(number) < 1e15, let whole = Int64(exactly: number) {
                bytes.append(contentsOf: String(whole).utf8)
            } else {
                bytes.append(contentsOf: (try? JSONBody.encoder.encode(value)) ?? Data("null".utf8))
            }
        case .string(let text): string(text)
        case .array(let items):
            raw("[")
            for (index, item) in items.enumerated() {
                if index > 0 { raw(",") }
                self.value(item)
            }
            raw("]")
        case .object(let members):
            raw("{")
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { raw(",") }
                string(key)
                raw(":")
                self.value(members[key] ?? .null)
            }
            raw("}")
        }
    }

    /// ``Timestamp/format(_:)`` (`2026-01-01T00:00:00.123456Z`) in quotes, written by Core
    /// straight into the bytes.
    private mutating func timestamp(_ date: Date) {
        bytes.append(UInt8(ascii: "\""))
        Timestamp.append(date, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }
}
