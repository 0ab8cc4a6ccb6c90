/// The S3 peer refused or failed an operation.
public struct S3Error: Error, Sendable, CustomStringConvertible {
    /// What `S3Backend` was doing, e.g. `UploadPart` or `GetObject`.
    public let operation: String
    /// The object key involved, when there is one.
    public let key: String?
    /// HTTP status of the answer (0 when the answer itself was unusable).
    public let status: Int
    /// S3's error code (`NoSuchBucket`, `AccessDenied`, …), or a description of the problem.
    public let code: String
    public let message: String

    public init(operation: String, key: String?, status: Int, code: String, message: String) {
        self.operation = operation
        self.key = key
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String {
        var text = "S3 \(operation) failed"
        if let key { text += " for key \"\(key)\"" }
        text += ": \(code)"
        if status != 0 { text += " (HTTP \(status))" }
        if !message.isEmpty { text += ": \(message)" }
        return text
    }
}
