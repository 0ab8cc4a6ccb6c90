/// Why a multipart/form-data upload (its `Content-Type` header or its body) was rejected.
/// `description` names what is wrong, e.g. "multipart: part headers exceed 16 KiB".
public enum MultipartError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The media type is not `multipart/form-data` (the type as sent).
    case notFormData(String)
    /// The `Content-Type` header does not follow the RFC 9110 grammar (what is wrong).
    case malformedContentType(String)
    /// The `Content-Type` header has no `boundary` parameter.
    case missingBoundary
    /// The boundary is not a valid RFC 2046 boundary (what is wrong).
    case invalidBoundary(String)
    /// More than `limit` bytes came before the opening boundary.
    case preambleTooLong(limit: Int)
    /// The body ended before the opening boundary.
    case missingOpeningBoundary
    /// A boundary was followed by something other than `--` or optional spaces and CRLF.
    case badBoundaryLine
    /// A part's header block is longer than `limit` bytes.
    case headersTooLarge(limit: Int)
    /// A part has more than `limit` header lines.
    case tooManyHeaders(limit: Int)
    /// A part header line is malformed (what is wrong).
    case malformedHeader(String)
    /// A part has no `Content-Disposition` header.
    case missingContentDisposition
    /// A part's `Content-Disposition` is not `form-data` (the type as sent).
    case notFormDataDisposition(String)
    /// A part's `Content-Disposition` has no (or an empty) `name`.
    case missingPartName
    /// A part repeats a header that may appear once (its name).
    case duplicateHeader(String)
    /// The body has more than `limit` parts.
    case tooManyParts(limit: Int)
    /// A text field is longer than `limit` bytes.
    case fieldTooLarge(name: String, limit: Int)
    /// A text field is not UTF-8.
    case fieldNotUTF8(name: String)
    /// Two parts have the same name.
    case duplicateField(String)
    /// More than one part has the file's name.
    case duplicateFilePart(String)
    /// No part has the file's name.
    case missingFilePart(String)
    /// The body ended before the closing boundary (inside a part or its headers).
    case missingClosingBoundary
    /// The upload was read from two tasks at once.
    case concurrentRead

    public var description: String {
        switch self {
        case .notFormData(let type): "multipart: Content-Type is \(Self.quoted(type)), not multipart/form-data"
        case .malformedContentType(let what): "multipart: malformed Content-Type: \(what)"
        case .missingBoundary: "multipart: Content-Type has no boundary parameter"
        case .invalidBoundary(let what): "multipart: invalid boundary: \(what)"
        case .preambleTooLong(let limit): "multipart: no opening boundary within the first \(Self.size(limit))"
        case .missingOpeningBoundary: "multipart: missing opening boundary"
        case .badBoundaryLine: "multipart: boundary not followed by CRLF or --"
        case .headersTooLarge(let limit): "multipart: part headers exceed \(Self.size(limit))"
        case .tooManyHeaders(let limit): "multipart: more than \(limit) headers in a part"
        case .malformedHeader(let what): "multipart: malformed part header: \(what)"
        case .missingContentDisposition: "multipart: part has no Content-Disposition header"
        case .notFormDataDisposition(let type): "multipart: Content-Disposition is \(Self.quoted(type)), not form-data"
        case .missingPartName: "multipart: Content-Disposition has no name"
        case .duplicateHeader(let name): "multipart: part has more than one \(name) header"
        case .tooManyParts(let limit): "multipart: more than \(limit) parts"
        case .fieldTooLarge(let name, let limit): "multipart: field \(Self.quoted(name)) exceeds \(Self.size(limit))"
        case .fieldNotUTF8(let name): "multipart: field \(Self.quoted(name)) is not UTF-8"
        case .duplicateField(let name): "multipart: more than one part named \(Self.quoted(name))"
        case .duplicateFilePart(let name): "multipart: more than one file part named \(Self.quoted(name))"
        case .missingFilePart(let name): "multipart: no part named \(name)"
        case .missingClosingBoundary: "multipart: missing closing boundary"
        case .concurrentRead: "multipart: the upload was read from two tasks at once"
        }
    }

    /// `n` as "16 KiB" when it is a whole number of KiB, else "n bytes".
    static func size(_ n: Int) -> String {
        n >= 1024 && n % 1024 == 0 ? "\(n / 1024) KiB" : "\(n) bytes"
    }

    /// A client-chosen name, quoted and cut to 64 characters for the message.
    static func quoted(_ text: String) -> String {
        text.count > 64 ? "\"\(text.prefix(64))…\"" : "\"\(text)\""
    }
}
