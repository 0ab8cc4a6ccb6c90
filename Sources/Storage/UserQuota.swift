import Database
import Foundation
import PostgresNIO

/// The per-user storage quota (`STORAGE_USER_QUOTA_BYTES`, ``StorageSettings/userQuotaBytes``):
/// the sum of the sizes of a user's uploads in every bucket, and of the lengths of their
/// resumable uploads still receiving. The server's renditions (thumbnails, posters, avatar
/// sizes; rows with a `parent_id`) do not count.
///
/// An upload is checked twice: before any byte is stored, with the size the client declared
/// (``StorageService/quotaRoom(owner:bucket:name:upsert:declaredSize:)``), and at commit,
/// with the stored size, under a per-user advisory lock held to the end of the committing
/// transaction, so parallel uploads of one user cannot overshoot together.
enum UserQuota {
    /// The bytes `owner`'s uploads take (renditions excluded), with the declared lengths of
    /// their resumable uploads still receiving bytes (their chunks take space before any
    /// object exists).
    static func used(_ connection: PostgresConnection, owner: UUID) async throws -> Int64 {
        let rows = try await connection.rows(
            """
            SELECT ((SELECT coalesce(sum(size), 0) FROM storage.objects WHERE owner = $1 AND parent_id IS NULL)
                  + (SELECT coalesce(sum(length), 0) FROM storage.resumable_uploads
                     WHERE owner = $1 AND status = 'receiving' AND expires_at > now()))::bigint
            """, [owner])
        var used: Int64 = 0
        for try await value in rows.decode(Int64.self) { used = value }
        return used
    }

    /// Within the committing transaction: takes the owner's quota lock, then throws
    /// ``StorageError/quotaExceeded(used:quota:)`` when adding `adding` bytes (and dropping the
    /// `replacing` bytes of the version it replaces) would pass `quotaBytes`. Exactly
    /// reaching the quota is allowed.
    static func check(
        _ connection: PostgresConnection, owner: UUID, adding: Int64, replacing: Int64, quotaBytes: Int64
    ) async throws {
        try await lock(connection, owner: owner)
        let used = try await Self.used(connection, owner: owner)
        guard fits(used: used, adding: adding, replacing: replacing, quota: quotaBytes) else {
            throw StorageError.quotaExceeded(used: used, quota: quotaBytes)
        }
    }

    /// Takes `owner`'s quota lock until the end of the transaction (taking it again in the
    /// same transaction is free).
    static func lock(_ connection: PostgresConnection, owner: UUID) async throws {
        try await connection.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", ["storage.quota/\(owner.uuidString.lowercased())"])
    }

    /// The size of `owner`'s object at `bucket`/`name` (0 when there is none): what an upsert
    /// of it frees.
    static func ownedSize(_ connection: PostgresConnection, owner: UUID, bucket: String, name: String) async throws -> Int64 {
        let rows = try await connection.rows(
            "SELECT size FROM storage.objects WHERE bucket_id = $1 AND name = $2 AND owner = $3 AND parent_id IS NULL",
            [bucket, name, owner])
        var size: Int64 = 0
        for try await value in rows.decode(Int64.self) { size = value }
        return size
    }

    /// Whether `used - replacing + adding <= quota` (without overflow; a quota of 0 is none).
    static func fits(used: Int64, adding: Int64, replacing: Int64, quota: Int64) -> Bool {
        guard quota > 0 else { return true }
        let base = max(0, used - max(0, min(replacing, used)))
        let (total, overflow) = base.addingReportingOverflow(max(0, adding))
        return !overflow && total <= quota
    }
}

extension StorageService {
    /// Before an upload stores anything: the bytes `owner` uses and may still add under the
    /// quota (the replaced version's bytes counted as free), or nil when there is no quota.
    /// Throws ``StorageError/quotaExceeded(used:quota:)`` when the declared size does not fit.
    func quotaRoom(owner: UUID?, bucket: String, name: String, upsert: Bool, declaredSize: Int64?) async throws -> (used: Int64, room: Int64)? {
        let quota = settings.userQuotaBytes
        guard quota > 0, let owner else { return nil }
        let (used, replaced) = try await database.withOwner { connection in
            let used = try await UserQuota.used(connection, owner: owner)
            let replaced = upsert ? try await UserQuota.ownedSize(connection, owner: owner, bucket: bucket, name: name) : 0
            return (used, replaced)
        }
        if let declaredSize, !UserQuota.fits(used: used, adding: declaredSize, replacing: replaced, quota: quota) {
            throw StorageError.quotaExceeded(used: used, quota: quota)
        }
        let room = quota - max(0, used - max(0, min(replaced, used)))
        guard room >= 0 else { throw StorageError.quotaExceeded(used: used, quota: quota) }
        return (used, room)
    }
}
