import Configuration
import Core

extension StorageSettings {
    /// Reads `STORAGE_*` and, with `STORAGE_BACKEND=s3`, the `S3_*` variables
    /// (docs/configuration.md, "Storage"). Each error names the variable.
    public init(reader: ConfigReader) throws {
        self.init()
        let kind = reader.string(forKey: "storage.backend", default: "local")
        guard let backend = BackendKind(rawValue: kind.lowercased()) else {
            throw ConfigurationError("STORAGE_BACKEND must be local or s3, not '\(kind)'")
        }
        self.backend = backend
        directory = reader.nonEmptyString("storage.dir")
        maxUploadBytes = Int64(
            try reader.integer("storage.maxUploadBytes", variable: "STORAGE_MAX_UPLOAD_BYTES", default: 500 * 1024 * 1024, in: 1...(50 << 30)))
        signedURLMaxExpirySeconds = try reader.integer(
            "storage.signedUrlMaxExpirySeconds", variable: "STORAGE_SIGNED_URL_MAX_EXPIRY_SECONDS", default: 604_800, in: 1...31_536_000)
        signedUploadExpirySeconds = try reader.integer(
            "storage.signedUploadExpirySeconds", variable: "STORAGE_SIGNED_UPLOAD_EXPIRY_SECONDS", default: 7200, in: 60...604_800)
        writesPerMinute = try reader.integer("storage.writesPerMinute", variable: "STORAGE_WRITES_PER_MINUTE", default: 120, in: 1...100_000)
        userQuotaBytes = Int64(
            try reader.integer("storage.userQuotaBytes", variable: "STORAGE_USER_QUOTA_BYTES", default: 1 << 30, in: 0...(1 << 50)))
        janitorIntervalSeconds = try reader.integer(
            "storage.janitorIntervalSeconds", variable: "STORAGE_JANITOR_INTERVAL_SECONDS", default: 60, in: 1...86_400)
        orphanTTLSeconds = try reader.integer(
            "storage.orphanTtlSeconds", variable: "STORAGE_ORPHAN_TTL_SECONDS", default: 86_400, in: 60...31_536_000)
        resumableUploadTTLSeconds = try reader.integer(
            "storage.resumableTtlSeconds", variable: "STORAGE_RESUMABLE_TTL_SECONDS", default: 86_400, in: 1...2_592_000)
        if backend == .s3 {
            s3 = try S3Settings(reader: reader)
        }
    }
}

extension S3Settings {
    /// The `S3_*` variables, checked as ``init(environment:)`` does.
    public init(reader: ConfigReader) throws {
        let keys: [(ConfigKey, String, Bool)] = [
            ("s3.endpoint", "S3_ENDPOINT", false), ("s3.region", "S3_REGION", false), ("s3.bucket", "S3_BUCKET", false),
            ("s3.accessKeyId", "S3_ACCESS_KEY_ID", false), ("s3.secretAccessKey", "S3_SECRET_ACCESS_KEY", true),
            ("s3.partSizeBytes", "S3_PART_SIZE_BYTES", false), ("s3.requestTimeoutSeconds", "S3_REQUEST_TIMEOUT_SECONDS", false),
        ]
        var environment: [String: String] = [:]
        for (key, name, secret) in keys {
            environment[name] = reader.string(forKey: key, isSecret: secret)
        }
        do {
            try self.init(environment: environment)
        } catch {
            throw ConfigurationError("STORAGE_BACKEND=s3: \(error)")
        }
    }
}
