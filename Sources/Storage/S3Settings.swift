/// Where and how `S3Backend` reaches an S3-compatible service (path-style URLs:
/// `endpoint/bucket/key`). Environment names: `S3_ENDPOINT`, `S3_REGION`, `S3_BUCKET`,
/// `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY`, `S3_PART_SIZE_BYTES`, `S3_REQUEST_TIMEOUT_SECONDS`.
public struct S3Settings: Sendable, Equatable {
    /// S3's smallest part (every part but the last must be at least this large).
    public static let minimumPartSize = 5 * 1024 * 1024
    /// S3's largest part.
    public static let maximumPartSize = 5 * 1024 * 1024 * 1024
    /// The default part size, also the largest body sent in one PUT.
    public static let defaultPartSize = 8 * 1024 * 1024

    /// `http(s)://host[:port][/prefix]`, without the bucket.
    public var endpoint: String
    /// Signing region, e.g. `us-east-1`.
    public var region: String
    public var bucket: String
    public var accessKeyID: String
    public var secretAccessKey: String
    /// Bodies up to this size go in one PUT; larger ones in parts of this size (5 MiB…5 GiB).
    public var partSizeBytes: Int
    /// Deadline for each request's response head (and for a whole part or small-object upload).
    public var requestTimeoutSeconds: Int64

    public init(
        endpoint: String,
        region: String = "us-east-1",
        bucket: String,
        accessKeyID: String,
        secretAccessKey: String,
        partSizeBytes: Int = S3Settings.defaultPartSize,
        requestTimeoutSeconds: Int64 = 120
    ) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.partSizeBytes = partSizeBytes
        self.requestTimeoutSeconds = requestTimeoutSeconds
    }

    /// Reads the `S3_*` variables from `environment`; throws `S3SettingsError` naming a missing
    /// or malformed one.
    public init(environment: [String: String]) throws {
        func required(_ name: String) throws -> String {
            guard let value = environment[name], !value.isEmpty else { throw S3SettingsError(variable: name, problem: "is not set") }
            return value
        }
        func integer(_ name: String, default value: Int64) throws -> Int64 {
            guard let text = environment[name], !text.isEmpty else { return value }
            guard let number = Int64(text), number > 0 else { throw S3SettingsError(variable: name, problem: "is not a positive integer") }
            return number
        }
        let partSize = try integer("S3_PART_SIZE_BYTES", default: Int64(S3Settings.defaultPartSize))
        guard let part = Int(exactly: partSize) else {
            throw S3SettingsError(variable: "S3_PART_SIZE_BYTES", problem: "is too large")
        }
        self.init(
            endpoint: try required("S3_ENDPOINT"),
            region: environment["S3_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? "us-east-1",
            bucket: try required("S3_BUCKET"),
            accessKeyID: try required("S3_ACCESS_KEY_ID"),
            secretAccessKey: try required("S3_SECRET_ACCESS_KEY"),
            partSizeBytes: part,
            requestTimeoutSeconds: try integer("S3_REQUEST_TIMEOUT_SECONDS", default: 120)
        )
    }
}

/// An S3 setting is missing or malformed.
public struct S3SettingsError: Error, Sendable, CustomStringConvertible {
    public let variable: String
    public let problem: String
    public var description: String { "\(variable) \(problem)" }
}
