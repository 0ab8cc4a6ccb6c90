import Core
import Database
import Foundation
import Logging
import NIOCore
import Testing

@testable import Storage

/// The storage janitor against the real database and the local backend: orphaned uploads
/// older than the TTL go (blobs and renditions included), attached and younger ones and
/// other buckets stay; the deletion queue drains (a missing blob counts as deleted, a failed
/// delete stays queued); two janitors share a queue; the loop stops when cancelled.
@Suite struct StorageJanitorTests {
    static let ttl = 3600

    static func janitor(_ env: StorageTestEnvironment, backend: (any StorageBackend)? = nil, interval: Int = 60) -> StorageJanitor {
        var settings = env.storage.settings
        settings.orphanTTLSeconds = ttl
        settings.janitorIntervalSeconds = interval
        var logger = Logger(label: "janitor-test")
        logger.logLevel = .critical
        return StorageJanitor(database: env.database, backend: backend ?? env.storage.backend, settings: settings, logger: logger)
    }

    /// Moves an object's creation and last write `seconds` into the past.
    static func age(_ env: StorageTestEnvironment, bucket: String, name: String, seconds: Int) async throws {
        try await env.database.withOwner { connection in
            try await connection.execute(
                """
                UPDATE storage.objects SET created_at = now() - make_interval(secs => $3), updated_at = now() - make_interval(secs => $3)
                WHERE bucket_id = $1 AND name = $2
                """,
                [bucket, name, Double(seconds)])
        }
    }

    @Test func anUpsertOfAnOldNameIsAsYoungAsItsNewBytes() async throws {
        try await StorageTestEnvironment.with { env in
            let name = "\(env.aliceFolder)/draft.txt"
            try await env.upload(env.alice, bucket: "attachments", name: name, type: "text/plain", Array("old".utf8))
            try await Self.age(env, bucket: "attachments", name: name, seconds: Self.ttl + 5)
            // Replaced just now: created_at stays old, but the upload is new.
            try await env.upload(env.alice, bucket: "attachments", name: name, type: "text/plain", Array("new".utf8), upsert: true)
            #expect(try await Self.janitor(env).runOnce().orphansRemoved == 0)
            #expect(try await env.rows().keys.contains("attachments/\(name)"))
        }
    }

    @Test func orphansOlderThanTheTTLAreRemoved() async throws {
        try await StorageTestEnvironment.with { env in
            let folder = env.aliceFolder
            let text = Array("x".utf8)
            for name in ["old.txt", "attached.txt", "young.txt"] {
                try await env.upload(env.alice, bucket: "attachments", name: "\(folder)/\(name)", type: "text/plain", text)
            }
            let photo = try await env.upload(
                env.alice, bucket: "attachments", name: "\(folder)/old.jpg", type: "image/jpeg", try MediaFixtures.jpeg(width: 50, height: 50))
            let avatar = try await env.upload(
                env.alice, bucket: "avatars", name: "\(folder)/a.jpg", type: "image/jpeg", try MediaFixtures.jpeg(width: 50, height: 50))
            for name in ["old.txt", "attached.txt", "old.jpg"] {
                try await Self.age(env, bucket: "attachments", name: "\(folder)/\(name)", seconds: Self.ttl + 5)
            }
            // Just inside the TTL: stays.
            try await Self.age(env, bucket: "attachments", name: "\(folder)/young.txt", seconds: Self.ttl - 60)
            try await Self.age(env, bucket: "avatars", name: "\(folder)/a.jpg", seconds: Self.ttl * 10)
            // A message claimed this one.
            _ = try await env.database.withCaller(env.alice) { connection in
                try await connection.scalarText("SELECT storage.claim_object('attachments', $1, NULL)::text", ["\(folder)/attached.txt"])
            }
            let before = env.blobCount
            #expect(before == 3 + 2 + 3)
            let pass = try await Self.janitor(env).runOnce()
            #expect(pass.orphansRemoved == 2)
            #expect(pass.blobsDeleted == 3, "old.txt, old.jpg and its thumbnail")
            let remaining = Set(try await env.rows().keys)
            #expect(remaining == [
                "attachments/\(folder)/attached.txt", "attachments/\(folder)/young.txt", "avatars/\(folder)/a.jpg",
                "avatars/\(folder)/a.jpg.64.jpg", "avatars/\(folder)/a.jpg.256.jpg",
            ])
            #expect(env.blobCount == before - 3)
            #expect(try await env.storage.backend.stat(key: photo.blobKey) == nil)
            #expect(try await env.storage.backend.stat(key: avatar.blobKey) != nil)
            #expect(try await env.queuedBlobKeys().isEmpty)
            // Nothing left to do.
            #expect(try await Self.janitor(env).runOnce() == StorageJanitor.Pass())
        }
    }

    @Test func queueDrainsMissingBlobsAndKeepsFailures() async throws {
        try await StorageTestEnvironment.with { env in
            // Deleting rows queues their blobs (here as the owner, as SQL elsewhere might).
            let object = try await env.upload(env.alice, bucket: "attachments", name: "\(env.aliceFolder)/a.txt", type: "text/plain", Array("a".utf8))
            try await env.database.withOwner { connection in
                try await connection.execute("DELETE FROM storage.objects WHERE id = $1", [object.id])
                try await connection.execute("INSERT INTO storage.blob_deletions (blob_key) VALUES ('attachments/missing-blob')", [])
            }
            #expect(try await env.queuedBlobKeys() == [object.blobKey, "attachments/missing-blob"])
            // A backend that fails every delete: nothing is cleared.
            let failing = try await Self.janitor(env, backend: FailingDeletes(base: env.storage.backend)).runOnce()
            #expect(failing.blobsDeleted == 0 && failing.blobsFailed == 2)
            #expect(try await env.queuedBlobKeys().count == 2)
            #expect(env.blobCount == 1)
            // The real backend: the blob goes, the missing one counts as deleted.
            let pass = try await Self.janitor(env).runOnce()
            #expect(pass.blobsDeleted == 2 && pass.blobsFailed == 0)
            #expect(try await env.queuedBlobKeys().isEmpty)
            #expect(env.blobCount == 0)
        }
    }

    @Test func twoJanitorsShareTheQueue() async throws {
        try await StorageTestEnvironment.with { env in
            let count = 250
            try await env.database.withOwner { connection in
                try await connection.execute(
                    "INSERT INTO storage.blob_deletions (blob_key) SELECT 'attachments/gone-' || i FROM generate_series(1, $1) AS i", [count])
            }
            async let first = Self.janitor(env).runOnce()
            async let second = Self.janitor(env).runOnce()
            let passes = try await [first, second]
            #expect(passes.map(\.blobsDeleted).reduce(0, +) == count)
            #expect(try await env.queuedBlobKeys().isEmpty)
        }
    }

    @Test func theLoopRunsOnItsIntervalAndStopsWhenCancelled() async throws {
        try await StorageTestEnvironment.with { env in
            let janitor = Self.janitor(env, interval: 1)
            let task = Task { await janitor.run() }
            try await env.database.withOwner { connection in
                try await connection.execute("INSERT INTO storage.blob_deletions (blob_key) VALUES ('attachments/later')", [])
            }
            var drained = false
            for _ in 0..<50 where !drained {
                try await Task.sleep(for: .milliseconds(100))
                drained = try await env.queuedBlobKeys().isEmpty
            }
            #expect(drained)
            task.cancel()
            let clock = ContinuousClock()
            let stopped = await clock.measure { await task.value }
            #expect(stopped < .seconds(2))
        }
    }
}

/// A backend whose deletes fail (a backend outage).
struct FailingDeletes: StorageBackend {
    let base: any StorageBackend

    struct Outage: Error {}

    func write(key: String, body: some AsyncSequence<ByteBuffer, any Error> & Sendable, maxBytes: Int64) async throws -> StoredBlob {
        try await base.write(key: key, body: body, maxBytes: maxBytes)
    }

    func read(key: String, range: Range<Int64>?, consume: (ByteBuffer) async throws -> Void) async throws {
        try await base.read(key: key, range: range, consume: consume)
    }

    func stat(key: String) async throws -> StoredBlob? { try await base.stat(key: key) }

    func copy(from source: String, to destination: String) async throws { try await base.copy(from: source, to: destination) }

    func delete(key: String) async throws { throw Outage() }
}
