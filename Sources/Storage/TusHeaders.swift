import Core
import Foundation

/// A TUS request header broke a rule of the protocol (tus.io, 1.0.0): the header and the rule.
public struct TusHeaderError: Error, Sendable, Equatable, CustomStringConvertible {
    public let header: String
    public let rule: String
    public var description: String { "\(header): \(rule)" }
}

/// The decoders of the TUS headers a client sends (`Tus-Resumable`, `Upload-Length`,
/// `Upload-Offset`, `Upload-Metadata`) and of the upload id in the upload URL. Pure
/// functions of client bytes, with the fuzz target `tus-headers`.
public enum TusHeaders {
    /// The protocol version this server speaks.
    public static let version = "1.0.0"
    /// The longest `Upload-Metadata` accepted (user metadata is at most 8 KiB of JSON, about
    /// 11 KiB in base64, plus the names).
    public static let maxMetadataBytes = 16 * 1024
    /// The most pairs `Upload-Metadata` may hold.
    public static let maxMetadataPairs = 32
    /// The longest upload id (base64url of `<bucket>/<name>/<uuid>`: 63 + 1024 + 38 bytes).
    public static let maxUploadIDBytes = 1536

    /// `Tus-Resumable` must name the version this server speaks.
    public static func checkVersion(_ value: String?) throws {
        guard let value else { throw TusHeaderError(header: "Tus-Resumable", rule: "required (\(version))") }
        guard value.trimmingCharacters(in: .whitespaces) == version else {
            throw TusHeaderError(header: "Tus-Resumable", rule: "this server speaks TUS \(version) only")
        }
    }

    /// `Upload-Length` / `Upload-Offset`: a non-negative decimal integer (at most 18 digits,
    /// so it fits Int64 without a trapping conversion).
    public static func byteCount(_ value: String?, header: String) throws -> Int64 {
        guard let value else { throw TusHeaderError(header: header, rule: "required (a non-negative integer)") }
        let digits = value.utf8
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let number = Int64(value)
        else { throw TusHeaderError(header: header, rule: "a non-negative integer of at most 18 digits") }
        return number
    }

    /// `Upload-Metadata`: comma-separated pairs `key base64(value)` (or a key alone for an
    /// empty value). Keys are unique, non-empty ASCII without spaces or commas; values are
    /// canonical padded base64 of UTF-8 text.
    public static func metadata(_ header: String?) throws -> [String: String] {
        guard let header, !header.trimmingCharacters(in: .whitespaces).isEmpty else { return [:] }
        guard header.utf8.count <= maxMetadataBytes else {
            throw TusHeaderError(header: "Upload-Metadata", rule: "at most \(maxMetadataBytes) bytes")
        }
        var pairs: [String: String] = [:]
        for rawPair in Array(header.utf8).split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            let pair = trimmed(rawPair)
            let parts = pair.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
            guard let keyBytes = parts.first, parts.count <= 2 else {
                throw TusHeaderError(header: "Upload-Metadata", rule: "each pair is 'key base64value' separated by commas")
            }
            guard keyBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                throw TusHeaderError(header: "Upload-Metadata", rule: "keys are printable ASCII without spaces")
            }
            let key = String(decoding: keyBytes, as: UTF8.self)
            guard pairs[key] == nil else { throw TusHeaderError(header: "Upload-Metadata", rule: "key '\(key)' appears twice") }
            guard pairs.count < maxMetadataPairs else {
                throw TusHeaderError(header: "Upload-Metadata", rule: "at most \(maxMetadataPairs) pairs")
            }
            var value = ""
            if parts.count == 2 {
                let encoded = String(decoding: parts[1], as: UTF8.self)
                guard let data = Data(base64Encoded: encoded), data.base64EncodedString() == encoded,
                    let text = String(data: data, encoding: .utf8)
                else { throw TusHeaderError(header: "Upload-Metadata", rule: "the value of '\(key)' must be base64 of UTF-8 text") }
                value = text
            }
            pairs[key] = value
        }
        return pairs
    }

    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice = slice.dropLast() }
        return slice
    }

    /// `Upload-Metadata` for a set of pairs (keys sorted; the tests' and clients' form).
    public static func encodeMetadata(_ pairs: [String: String]) -> String {
        pairs.keys.sorted().map { key in
            let value = pairs[key] ?? ""
            return value.isEmpty ? key : "\(key) \(Data(value.utf8).base64EncodedString())"
        }.joined(separator: ",")
    }

    // MARK: Upload ids

    /// What an upload URL's last segment names: as Supabase, base64url (no padding) of
    /// `<bucket>/<object name>/<upload uuid>`.
    public struct UploadID: Sendable, Equatable {
        public var bucket: String
        public var name: String
        public var id: UUID

        public init(bucket: String, name: String, id: UUID) {
            self.bucket = bucket
            self.name = name
            self.id = id
        }

        /// The URL segment.
        public var encoded: String {
            Base64URL.encode("\(bucket)/\(name)/\(id.uuidString.lowercased())".utf8)
        }
    }

    /// Decodes an upload URL's last segment; the bucket and name must pass the storage path
    /// rules (``ObjectPath``). Any failure is a ``TusHeaderError`` (the server answers 404).
    public static func uploadID(_ segment: some StringProtocol) throws -> UploadID {
        let bad = TusHeaderError(header: "upload id", rule: "not an upload URL this server issued")
        guard segment.utf8.count <= maxUploadIDBytes, let data = Base64URL.decodeCanonical(segment),
            let text = String(data: data, encoding: .utf8)
        else { throw bad }
        let bytes = Array(text.utf8)
        guard let firstSlash = bytes.firstIndex(of: UInt8(ascii: "/")), let lastSlash = bytes.lastIndex(of: UInt8(ascii: "/")),
            firstSlash < lastSlash
        else { throw bad }
        let bucketText = String(decoding: bytes[..<firstSlash], as: UTF8.self)
        let nameText = String(decoding: bytes[(firstSlash + 1)..<lastSlash], as: UTF8.self)
        let idText = String(decoding: bytes[(lastSlash + 1)...], as: UTF8.self)
        guard let id = UUID(uuidString: idText), idText == idText.lowercased(),
            let bucket = try? ObjectPath.bucketID(bucketText, field: "bucketName"), bucket == bucketText,
            let name = try? ObjectPath.name(nameText, field: "objectName"), name == nameText
        else { throw bad }
        let decoded = UploadID(bucket: bucket, name: name, id: id)
        // Only the canonical encoding names an upload.
        guard decoded.encoded == segment else { throw bad }
        return decoded
    }
}
