import NIOCore

/// What a backend knows about one stored blob.
public struct StoredBlob: Sendable, Equatable {
    /// Size in bytes.
    public var size: Int64
    /// Lower-case hex MD5 of the bytes (the S3 ETag of a single-part object; storage's `eTag`).
    public var md5: String

    public init(size: Int64, md5: String) {
        self.size = size
        self.md5 = md5
    }
}

/// Where object bytes live. Keys are opaque, already-validated strings chosen by the storage
/// service (never a client path as such); metadata lives in PostgreSQL, not here.
///
/// Every write is atomic: a reader sees the old bytes or the complete new bytes, never a
/// part. Bodies stream in both directions, so an object's size never decides memory.
public protocol StorageBackend: Sendable {
    /// Stores `body` under `key`, replacing what was there only once the whole body arrived.
    /// `maxBytes` ends the write with `BlobTooLarge` as soon as more arrives; nothing is left behind.
    func write(key: String, body: some AsyncSequence<ByteBuffer, any Error> & Sendable, maxBytes: Int64) async throws -> StoredBlob

    /// Streams the bytes of `key` (all of them, or `range`, a byte range within the blob) to `consume`, in order.
    /// Throws `BlobNotFound` before calling `consume` when there is no such blob.
    func read(key: String, range: Range<Int64>?, consume: (ByteBuffer) async throws -> Void) async throws

    /// The blob's size and MD5, or nil when there is none.
    func stat(key: String) async throws -> StoredBlob?

    /// Copies a blob to a new key (atomic at the destination). Throws `BlobNotFound`.
    func copy(from source: String, to destination: String) async throws

    /// Removes a blob; removing a missing blob is not an error.
    func delete(key: String) async throws
}

/// The blob asked for does not exist.
public struct BlobNotFound: Error, Sendable {
    public let key: String
    public init(key: String) { self.key = key }
}

/// A write was larger than the limit it was given.
public struct BlobTooLarge: Error, Sendable {
    public let limit: Int64
    public init(limit: Int64) { self.limit = limit }
}
