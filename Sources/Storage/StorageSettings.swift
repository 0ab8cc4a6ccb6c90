import Foundation

/// The storage module's settings (docs/configuration.md, "Storage").
public struct StorageSettings: Sendable {
    /// Where object bytes live.
    public enum BackendKind: String, Sendable {
        /// A directory on this machine (`STORAGE_DIR`, default `<data dir>/storage`).
        case local
        /// An S3-compatible service (`S3_*`).
        case s3
    }

    /// `STORAGE_BACKEND`.
    public var backend = BackendKind.local
    /// `STORAGE_DIR`: the local backend's directory (nil: `<data dir>/storage`).
    public var directory: String?
    /// `S3_*` when `STORAGE_BACKEND=s3`.
    public var s3: S3Settings?
    /// `STORAGE_MAX_UPLOAD_BYTES`: the largest object any bucket accepts (a bucket's own
    /// `file_size_limit` can only lower it). Default 500 MiB.
    public var maxUploadBytes: Int64 = 500 * 1024 * 1024
    /// `STORAGE_SIGNED_URL_MAX_EXPIRY_SECONDS`: the longest `expiresIn` of a signed URL (default 7 days).
    public var signedURLMaxExpirySeconds = 604_800
    /// `STORAGE_SIGNED_UPLOAD_EXPIRY_SECONDS`: how long a signed upload URL stays valid (default 2 h, as Supabase).
    public var signedUploadExpirySeconds = 7200
    /// `STORAGE_WRITES_PER_MINUTE`: uploads, moves, copies, removals and signed upload URLs
    /// per signed-in user per minute (a token bucket of this size refilled over a minute).
    public var writesPerMinute = 120
    /// Where uploaded images are kept while they are re-encoded (the original and the
    /// result, removed afterwards); nil: the system's temporary directory. The server uses
    /// `<storage dir>/processing`.
    public var processingDirectory: String?
    /// `STORAGE_USER_QUOTA_BYTES`: the bytes one user may keep stored across all buckets
    /// (uploads only; the server's renditions do not count). 0: unlimited. Default 1 GiB.
    public var userQuotaBytes: Int64 = 1 << 30
    /// `STORAGE_JANITOR_INTERVAL_SECONDS`: how often ``StorageJanitor`` deletes queued blobs
    /// and orphaned uploads (default 60).
    public var janitorIntervalSeconds = 60
    /// `STORAGE_ORPHAN_TTL_SECONDS`: how long an upload to `attachments` may stay unattached
    /// (not claimed by a message) before the janitor removes it (default 1 day).
    public var orphanTTLSeconds = 86_400
    /// `STORAGE_RESUMABLE_TTL_SECONDS`: how long an unfinished resumable (TUS) upload is kept
    /// after its last chunk (default 1 day).
    public var resumableUploadTTLSeconds = 86_400

    public init() {}
}
