import Database
import Foundation
import Logging
import PostgresNIO

/// Background clean-up of storage, run by every server instance (docs/storage.md, "Janitor
/// and orphans"). Every ``StorageSettings/janitorIntervalSeconds`` it
///
/// 1. removes orphaned uploads: objects of `attachments` that no feature claimed
///    (`attached_at` is NULL; renditions follow their upload) created and last written more
///    than ``StorageSettings/orphanTTLSeconds`` ago; the trigger on `storage.objects` queues their blobs;
/// 2. removes resumable (TUS) uploads past their expiry; their chunk rows cascade and the
///    trigger on `storage.resumable_upload_parts` queues the chunk blobs;
/// 3. drains `storage.blob_deletions`: deletes each queued blob from the backend (a missing
///    blob counts as deleted) and then its queue row; a failed delete stays queued.
///
/// Instances share the work without coordinating: each batch is taken with
/// `FOR UPDATE SKIP LOCKED`, so two janitors never handle the same row at once.
public struct StorageJanitor: Sendable {
    /// Rows handled per transaction.
    public static let batchSize = 100

    let database: Database
    let backend: any StorageBackend
    let settings: StorageSettings
    let logger: Logger

    public init(database: Database, backend: any StorageBackend, settings: StorageSettings, logger: Logger) {
        self.database = database
        self.backend = backend
        self.settings = settings
        self.logger = logger
    }

    /// What one pass did.
    public struct Pass: Sendable, Equatable {
        /// Orphaned uploads removed (their renditions not counted).
        public var orphansRemoved = 0
        /// Expired resumable uploads removed.
        public var resumableUploadsRemoved = 0
        /// Blobs deleted from the backend (queue rows cleared).
        public var blobsDeleted = 0
        /// Blobs whose delete failed (left queued for the next pass).
        public var blobsFailed = 0
    }

    /// Runs passes every interval until the task is cancelled (graceful shutdown); a failed
    /// pass is logged and the next one runs on time.
    public func run() async {
        let interval = Duration.seconds(max(1, settings.janitorIntervalSeconds))
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            do {
                let pass = try await runOnce()
                if pass != Pass() {
                    logger.info(
                        "storage janitor pass",
                        metadata: [
                            "orphans_removed": "\(pass.orphansRemoved)",
                            "resumable_uploads_removed": "\(pass.resumableUploadsRemoved)", "blobs_deleted": "\(pass.blobsDeleted)",
                            "blobs_failed": "\(pass.blobsFailed)",
                        ])
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("storage janitor pass failed", metadata: ["error": "\(PostgresErrorText.describe(error))"])
            }
        }
    }

    /// One pass: orphans and expired resumable uploads first (their blobs are then queued),
    /// then the deletion queue.
    @discardableResult
    public func runOnce() async throws -> Pass {
        var pass = Pass()
        while !Task.isCancelled {
            let removed = try await removeOrphans()
            pass.orphansRemoved += removed
            if removed < Self.batchSize { break }
        }
        while !Task.isCancelled {
            let removed = try await removeExpiredResumableUploads()
            pass.resumableUploadsRemoved += removed
            if removed < Self.batchSize { break }
        }
        while !Task.isCancelled {
            let (deleted, failed, taken) = try await drainBatch()
            pass.blobsDeleted += deleted
            pass.blobsFailed += failed
            // A batch with failures is not retried in this pass (the backend may be down).
            if taken < Self.batchSize || failed > 0 { break }
        }
        return pass
    }

    /// Deletes one batch of orphaned uploads; returns how many.
    func removeOrphans() async throws -> Int {
        try await deleteBatch(
            """
            DELETE FROM storage.objects WHERE id IN (
                SELECT id FROM storage.objects
                WHERE bucket_id = 'attachments' AND attached_at IS NULL AND parent_id IS NULL
                  AND created_at < now() - make_interval(secs => $1)
                  -- An upsert keeps created_at: the replacing upload is as young as updated_at.
                  AND updated_at < now() - make_interval(secs => $1)
                ORDER BY created_at
                LIMIT $2
                FOR UPDATE SKIP LOCKED)
            RETURNING id
            """, [Double(max(0, settings.orphanTTLSeconds)), Self.batchSize])
    }

    /// Deletes one batch of resumable uploads past their expiry (the rows a client can no
    /// longer reach: HEAD and PATCH answer 404); returns how many.
    func removeExpiredResumableUploads() async throws -> Int {
        try await deleteBatch(
            """
            DELETE FROM storage.resumable_uploads WHERE id IN (
                SELECT id FROM storage.resumable_uploads WHERE expires_at <= now()
                ORDER BY expires_at
                LIMIT $1
                FOR UPDATE SKIP LOCKED)
            RETURNING id
            """, [Self.batchSize])
    }

    /// Runs one `DELETE … RETURNING id` as the owner; returns how many rows went.
    private func deleteBatch(_ sql: String, _ binds: [(any PostgresEncodable & Sendable)?]) async throws -> Int {
        try await database.withOwner { connection in
            var count = 0
            for try await _ in try await connection.rows(sql, binds).decode(UUID.self) { count += 1 }
            return count
        }
    }

    /// Takes one batch of queued blob keys (locked, skipping other janitors' rows), deletes
    /// the blobs and clears the rows of those that went. Returns (deleted, failed, taken).
    func drainBatch() async throws -> (Int, Int, Int) {
        try await database.withOwner { connection in
            let rows = try await connection.rows(
                "SELECT blob_key FROM storage.blob_deletions ORDER BY queued_at LIMIT $1 FOR UPDATE SKIP LOCKED", [Self.batchSize])
            var keys: [String] = []
            for try await key in rows.decode(String.self) { keys.append(key) }
            var deleted: [String] = []
            var failed = 0
            for key in keys {
                do {
                    try await backend.delete(key: key)
                    deleted.append(key)
                } catch {
                    failed += 1
                    logger.warning("storage janitor: could not delete blob", metadata: ["key": "\(key)", "error": "\(error)"])
                }
            }
            if !deleted.isEmpty {
                try await connection.execute("DELETE FROM storage.blob_deletions WHERE blob_key = ANY($1)", [deleted])
            }
            return (deleted.count, failed, keys.count)
        }
    }
}
