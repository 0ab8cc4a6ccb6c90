import Core
import Foundation

/// What the `attachment` argument of `send_message_v1` names: one of the caller's uploads in
/// the `attachments` bucket, by object id or by path. Only the shape is checked here; the
/// database claims the object (ownership, renditions, one message per object, the kind's
/// MIME types: migration 0013) and stores the claim as the message's attachment.
enum AttachmentReference: Equatable, Sendable {
    case object(UUID)
    case path(String)

    /// The only bucket messages attach from.
    static let bucket = "attachments"
    /// Longest object name storage accepts (bytes of UTF-8).
    static let maximumPathBytes = 1024

    /// Reads the forms clients send: `"<path>"`, `"attachments/<path>"`, an object with
    /// `id` or `object_id` (a uuid; it wins when a path is given too, as in an upload's
    /// `{id, path, fullPath}`), or one with `path`, `name`, `full_path` or `fullPath` and an
    /// optional `bucket` (which must be `attachments`). Anything else is a 400 naming
    /// `attachment`.
    static func parse(_ value: JSONValue) throws -> AttachmentReference {
        switch value {
        case .string(let text):
            return .path(try objectName(text))
        case .object(let members):
            if let bucket = members["bucket"], bucket != .string(Self.bucket) {
                throw APIError.invalidField("attachment", "bucket must be \"\(Self.bucket)\"")
            }
            for key in ["object_id", "id"] {
                guard let id = members[key] else { continue }
                guard case .string(let text) = id, let uuid = UUID(uuidString: text) else {
                    throw APIError.invalidField("attachment", "\(key) must be the uploaded object's id (a uuid)")
                }
                return .object(uuid)
            }
            var found: String?
            for key in ["path", "name", "full_path", "fullPath"] {
                guard let member = members[key] else { continue }
                guard case .string(let text) = member else {
                    throw APIError.invalidField("attachment", "\(key) must be a string: the object's path in \(Self.bucket)")
                }
                let name = try objectName(text)
                if let found, found != name {
                    throw APIError.invalidField("attachment", "names two different objects")
                }
                found = name
            }
            guard let found else {
                throw APIError.invalidField("attachment", "must name your upload: {\"path\": \"<path>\"} or {\"id\": \"<object id>\"}")
            }
            return .path(found)
        default:
            throw APIError.invalidField(
                "attachment", "must be the path of your upload in \(Self.bucket) (a string) or an object with its path or id")
        }
    }

    /// An object name in the bucket, without an `attachments/` prefix; NFC as storage keeps
    /// names; 1 to 1024 bytes, no control characters, not starting with `/`.
    static func objectName(_ text: String) throws -> String {
        // Prefixes are compared as bytes: as Characters, a '/' followed by a combining mark
        // is not a '/' (the object-path finding of docs/fuzzing.md).
        let prefix = Array((Self.bucket + "/").utf8)
        let bytes = Array(text.utf8)
        let name = bytes.starts(with: prefix) ? String(decoding: bytes.dropFirst(prefix.count), as: UTF8.self) : text
        let normalised = name.precomposedStringWithCanonicalMapping
        guard !normalised.isEmpty, normalised.utf8.count <= Self.maximumPathBytes else {
            throw APIError.invalidField("attachment", "path must be 1 to \(Self.maximumPathBytes) bytes")
        }
        guard !normalised.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }), normalised.utf8.first != UInt8(ascii: "/") else {
            throw APIError.invalidField("attachment", "path must be an object name: no control characters, no leading /")
        }
        return normalised
    }

    /// The reference as the messages trigger reads it: `{"object_id": …}` or
    /// `{"bucket": "attachments", "path": …}`.
    var databaseValue: JSONValue {
        switch self {
        case .object(let id):
            return .object(["object_id": .string(id.uuidString.lowercased())])
        case .path(let name):
            return .object(["bucket": .string(Self.bucket), "path": .string(name)])
        }
    }
}

/// A message kind a client may send. `audio` is the spec's name and is treated as `voice`
/// (both are stored as sent).
enum MessageKind: String, CaseIterable, Sendable {
    case text, image, video, file, voice, audio

    /// The `kind` argument (absent or null: text). `call` and `system` messages are written
    /// by the server only.
    static func parse(_ value: String?) throws -> MessageKind {
        guard let value else { return .text }
        if value == "call" || value == "system" {
            throw APIError.invalidField("kind", "\(value) messages are written by the server; send one of " + allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard let kind = MessageKind(rawValue: value) else {
            throw APIError.invalidField("kind", "must be one of " + allCases.map(\.rawValue).joined(separator: ", "))
        }
        return kind
    }
}
