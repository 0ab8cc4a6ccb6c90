import Core

/// The errors of the storage API, in Supabase Storage's vocabulary: the APIError's code is
/// storage's `error` name and its status the `statusCode` the body reports (the storage
/// error shape answers most of them with HTTP 400, see ``ErrorShape/storage``).
public enum StorageError {
    public static let objectNotFound = APIError(status: .notFound, code: "not_found", message: "Object not found")
    public static let bucketNotFound = APIError(status: .notFound, code: "Bucket not found", message: "Bucket not found")
    public static let duplicate = APIError(status: .conflict, code: "Duplicate", message: "The resource already exists")
    public static let rowLevelSecurity = APIError(
        status: .forbidden, code: "Unauthorized", message: "new row violates row-level security policy")

    /// The object (or the upload) is larger than `limit` bytes.
    public static func tooLarge(limit: Int64) -> APIError {
        APIError(
            status: .contentTooLarge, code: "Payload too large",
            message: "The object exceeded the maximum allowed size (\(limit) bytes)")
    }

    /// The upload would take its owner past ``StorageSettings/userQuotaBytes``: 413 with the
    /// bytes already used (uploads only) and the quota.
    public static func quotaExceeded(used: Int64, quota: Int64) -> APIError {
        APIError(
            status: .contentTooLarge, code: "quota_exceeded",
            message: "storage quota exceeded: \(used) of \(quota) bytes used")
    }

    /// A video or audio upload that ffmpeg could not read (or a rendition of it could not be
    /// made): 400 `invalid_media`, nothing stored.
    public static func invalidMedia(_ reason: String) -> APIError {
        APIError(status: .badRequest, code: "invalid_media", message: "media: \(reason)")
    }

    /// A name the server needs for a rendition (`<name>.thumb.jpg`, …) is taken by another
    /// object, or the upload's name is one of the server's renditions.
    public static func renditionName(_ name: String, _ rule: String) -> APIError {
        var error = APIError(status: .conflict, code: "Duplicate", message: "path: \(name) \(rule)")
        error.field = "path"
        return error
    }

    /// The object is attached to a chat message (migration 0015): it cannot be replaced,
    /// moved or removed through storage. `message` is the database's, naming the path.
    public static func attached(_ message: String) -> APIError {
        var error = APIError(status: .conflict, code: "object_in_use", message: message)
        error.field = "path"
        return error
    }

    /// A request value broke a rule: 400 naming the field and the rule.
    public static func invalid(_ field: String, _ rule: String) -> APIError {
        var error = APIError(status: .badRequest, code: "InvalidRequest", message: "\(field): \(rule)")
        error.field = field
        return error
    }

    /// The object's MIME type is not one the bucket accepts.
    public static func mimeNotAllowed(_ mime: String, allowed: [String]) -> APIError {
        APIError(
            status: .unsupportedMediaType, code: "invalid_mime_type",
            message: "mime type \(mime) is not supported (this bucket accepts \(allowed.joined(separator: ", ")))")
    }

    /// A signed URL's token is expired, malformed or signed for another object.
    public static func invalidToken(_ message: String) -> APIError {
        APIError(status: .badRequest, code: "InvalidJWT", message: message)
    }

    public static let invalidSignature = APIError(status: .badRequest, code: "InvalidSignature", message: "Invalid signature")

    /// The caller needs to be a signed-in user or the service role.
    public static let signInRequired = APIError(
        status: .forbidden, code: "Unauthorized", message: "sign in required: anonymous callers cannot write to storage")
}
