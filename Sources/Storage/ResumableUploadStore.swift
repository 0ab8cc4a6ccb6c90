import Core
import Database
import Foundation
import PostgresNIO

/// A resumable upload in progress (a row of `storage.resumable_uploads`).
public struct ResumableUpload: Sendable, Equatable {
    /// Where the upload is in its life.
    public enum Status: String, Sendable {
        /// Accepting PATCHes.
        case receiving
        /// Every byte arrived; the object is being stored.
        case finishing
        /// The object is stored; the row stays until it expires so HEAD can say so.
        case done
    }

    public var id: UUID
    public var bucket: String
    public var name: String
    public var owner: UUID?
    public var upsert: Bool
    public var length: Int64
    public var offset: Int64
    public var mimeType: String
    public var cacheControl: String
    public var metadataJSON: String
    public var status: Status
    public var expiresAt: Date

    /// The upload URL's id segment.
    public var uploadID: TusHeaders.UploadID { .init(bucket: bucket, name: name, id: id) }
}

/// One stored chunk: the bytes `start ..< start + size` of the upload, in blob `blobKey`.
struct ResumablePart: Sendable, Equatable {
    var start: Int64
    var size: Int64
    var blobKey: String
}

/// The SQL of resumable uploads. Requests run as the caller (row-level security: one's own
/// uploads only); the storage janitor removes expired uploads as the owner.
struct ResumableUploadStore: Sendable {
    let database: Database

    static let columns = """
        id, bucket_id, name, owner, upsert, length, "offset", mime_type, cache_control, user_metadata::text, status, expires_at
        """

    static func uploads(from rows: PostgresRowSequence) async throws -> [ResumableUpload] {
        var uploads: [ResumableUpload] = []
        for try await (id, bucket, name, owner, upsert, length, offset, mime, cache, metadata, status, expires) in rows.decode(
            (UUID, String, String, UUID?, Bool, Int64, Int64, String, String, String, String, Date).self)
        {
            uploads.append(
                ResumableUpload(
                    id: id, bucket: bucket, name: name, owner: owner, upsert: upsert, length: length, offset: offset, mimeType: mime,
                    cacheControl: cache, metadataJSON: metadata, status: ResumableUpload.Status(rawValue: status) ?? .receiving,
                    expiresAt: expires))
        }
        return uploads
    }

    /// Records a new upload owned by the caller (nil owner for the service role).
    /// Records a new upload. With `quotaBytes` > 0 its owner's quota must hold it on top of
    /// their stored objects and other unfinished uploads (the object an upsert replaces
    /// counted as free), checked under the owner's quota lock in the inserting transaction,
    /// so parallel creations cannot each pass on their own.
    func create(_ caller: Caller, _ upload: ResumableUpload, quotaBytes: Int64) async throws {
        try await database.withCaller(caller) { connection in
            if quotaBytes > 0, let owner = upload.owner {
                // UserQuota counts the owner's other uploads still receiving as used.
                let replaced = upload.upsert
                    ? try await UserQuota.ownedSize(connection, owner: owner, bucket: upload.bucket, name: upload.name) : 0
                try await UserQuota.check(connection, owner: owner, adding: upload.length, replacing: replaced, quotaBytes: quotaBytes)
            }
            try await connection.execute(
                """
                INSERT INTO storage.resumable_uploads
                    (id, bucket_id, name, owner, upsert, length, mime_type, cache_control, user_metadata, expires_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)
                """,
                [
                    upload.id, upload.bucket, upload.name, upload.owner, upload.upsert, upload.length, upload.mimeType,
                    upload.cacheControl, upload.metadataJSON, upload.expiresAt,
                ])
        }
    }

    /// The caller's upload `id` if it has not expired.
    func upload(_ caller: Caller, id: UUID) async throws -> ResumableUpload? {
        try await database.withCaller(caller) { connection in
            try await Self.uploads(
                from: try await connection.rows(
                    "SELECT \(Self.columns) FROM storage.resumable_uploads WHERE id = $1 AND expires_at > now()", [id])
            ).first
        }
    }

    /// Records a stored chunk and advances the offset past it, only if the upload is still
    /// receiving at `start` and the chunk fits its length; nil otherwise (the chunk was not
    /// recorded). Returns the upload as it is now.
    func appendPart(_ caller: Caller, id: UUID, part: ResumablePart, expiresAt: Date) async throws -> ResumableUpload? {
        try await database.withCaller(caller) { connection in
            let advanced = try await Self.uploads(
                from: try await connection.rows(
                    """
                    UPDATE storage.resumable_uploads SET "offset" = "offset" + $3, expires_at = greatest(expires_at, $4)
                    WHERE id = $1 AND "offset" = $2 AND status = 'receiving' AND expires_at > now() AND "offset" + $3 <= length
                    RETURNING \(Self.columns)
                    """, [id, part.start, part.size, expiresAt])
            ).first
            guard let advanced else { return nil }
            try await connection.execute(
                "INSERT INTO storage.resumable_upload_parts (upload_id, start, size, blob_key) VALUES ($1, $2, $3, $4)",
                [id, part.start, part.size, part.blobKey])
            return advanced
        }
    }

    /// How long a finishing upload is left to the request finishing it before another may
    /// take it over (that request's process may have died).
    static let finishingTakeover: TimeInterval = 15 * 60

    /// Moves a complete upload from `receiving` to `finishing` (or takes over one left
    /// finishing for ``finishingTakeover``); false when another request is finishing it.
    func claimFinishing(_ caller: Caller, id: UUID) async throws -> Bool {
        try await database.withCaller(caller) { connection in
            try await connection.exists(
                """
                UPDATE storage.resumable_uploads SET status = 'finishing', finishing_since = now()
                WHERE id = $1 AND "offset" = length
                  AND (status = 'receiving' OR (status = 'finishing' AND finishing_since < now() - make_interval(secs => $2)))
                RETURNING 1
                """, [id, Self.finishingTakeover])
        }
    }

    /// After the object is stored: the upload is `done` and its chunk rows are gone, in one
    /// transaction (each deleted chunk row queues its blob for the storage janitor).
    func complete(_ caller: Caller, id: UUID) async throws {
        try await database.withCaller(caller) { connection in
            try await connection.execute("DELETE FROM storage.resumable_upload_parts WHERE upload_id = $1", [id])
            try await connection.execute("UPDATE storage.resumable_uploads SET status = 'done' WHERE id = $1", [id])
        }
    }

    /// Sets the status (after finishing: `done`, or back to `receiving` to let a retry finish it).
    func setStatus(_ caller: Caller, id: UUID, _ status: ResumableUpload.Status) async throws {
        try await database.withCaller(caller) { connection in
            try await connection.execute("UPDATE storage.resumable_uploads SET status = $2 WHERE id = $1", [id, status.rawValue])
        }
    }

    /// The chunks of an upload in byte order (as the owner: the service reads them to finish or discard it).
    func parts(id: UUID) async throws -> [ResumablePart] {
        try await database.withOwner { connection in
            var parts: [ResumablePart] = []
            for try await (start, size, key) in try await connection.rows(
                "SELECT start, size, blob_key FROM storage.resumable_upload_parts WHERE upload_id = $1 ORDER BY start", [id]
            ).decode((Int64, Int64, String).self) {
                parts.append(ResumablePart(start: start, size: size, blobKey: key))
            }
            return parts
        }
    }

    /// How many chunks an upload has.
    func partCount(id: UUID) async throws -> Int {
        try await database.withOwner { connection in
            var count = 0
            for try await value in try await connection.rows(
                "SELECT count(*)::int FROM storage.resumable_upload_parts WHERE upload_id = $1", [id]
            ).decode(Int.self) {
                count = value
            }
            return count
        }
    }

    /// Deletes the upload row (and its part rows) as the owner.
    func remove(id: UUID) async throws {
        try await database.withOwner { connection in
            try await connection.execute("DELETE FROM storage.resumable_uploads WHERE id = $1", [id])
        }
    }
}
