import Core

/// The size rule of `user_metadata`: it is copied into every access token (and so into every
/// request header of the user), so one request must not be able to make it large.
enum UserMetadata {
    /// Throws 400 `validation_failed` naming `field` when `metadata` encodes to more than
    /// `maxBytes` bytes of compact JSON.
    static func check(_ metadata: [String: JSONValue], field: String, maxBytes: Int) throws {
        let size = JSONValue.object(metadata).jsonText.utf8.count
        guard size <= maxBytes else {
            throw APIError.invalidField(field, "user_metadata must be at most \(maxBytes) bytes as JSON (this would be \(size))")
        }
    }
}
