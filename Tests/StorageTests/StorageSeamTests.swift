import Core
import Database
import Foundation
import PostgresNIO
import Testing

@testable import Storage

/// The SQL seam other modules build on (migration 0012, docs/storage.md): claim_object's
/// result and refusals, release_object (owner only; renditions and blobs follow),
/// shared_read_allowed (false unless a feature redefines it), and the blob deletion queue.
@Suite struct StorageSeamTests {
    static func claim(_ env: StorageTestEnvironment, _ caller: Caller, name: String?, id: UUID?) async throws -> [String: Any] {
        let text = try await env.database.withCaller(caller) { connection in
            try await connection.scalarText("SELECT storage.claim_object('attachments', $1, $2)::text", [name, id])
        }
        return (try? JSONSerialization.jsonObject(with: Data((text ?? "").utf8))) as? [String: Any] ?? [:]
    }

    @Test func claimReturnsTheAttachmentAndRefusesTwice() async throws {
        try await StorageTestEnvironment.with { env in
            let name = "\(env.aliceFolder)/clip.mp4"
            let clip = try await env.upload(env.alice, bucket: "attachments", name: name, type: "video/mp4", try MediaFixtures.mp4())
            let claimed = try await Self.claim(env, env.alice, name: name, id: nil)
            #expect(claimed["object_id"] as? String == clip.id.uuidString.lowercased())
            #expect(claimed["bucket"] as? String == "attachments" && claimed["path"] as? String == name && claimed["name"] as? String == "clip.mp4")
            #expect(claimed["mime_type"] as? String == "video/mp4" && claimed["size"] as? Int == Int(clip.size))
            #expect(claimed["width"] as? Int == 320 && claimed["height"] as? Int == 240 && (claimed["duration_ms"] as? Int ?? 0) > 1500)
            #expect(claimed["poster_path"] as? String == "\(name).poster.jpg")
            // Absent measurements are JSON null, present as keys.
            #expect(claimed["waveform"] is NSNull && claimed["thumbnail_path"] is NSNull)
            // Already attached: 23505, by path or by id.
            for (byName, byID) in [(name, nil), (nil, clip.id)] as [(String?, UUID?)] {
                let again = try await #require(throws: APIError.self) { try await Self.claim(env, env.alice, name: byName, id: byID) }
                #expect(again.code == "23505" && again.message.contains("attachment: is already attached to a message"))
            }
            let attached = try await env.database.withOwner { connection in
                try await connection.exists("SELECT 1 FROM storage.objects WHERE id = $1 AND attached_at IS NOT NULL", [clip.id])
            }
            #expect(attached)
        }
    }

    @Test func claimRefusesWhatIsNotOnesOwnUpload() async throws {
        try await StorageTestEnvironment.with { env in
            let name = "\(env.aliceFolder)/p.jpg"
            let photo = try await env.upload(env.alice, bucket: "attachments", name: name, type: "image/jpeg", try MediaFixtures.jpeg(width: 40, height: 40))
            let notFound = "attachment: no such object among your uploads"
            // Another user, a rendition, a missing name, another bucket: P0002 (a 404 for the client).
            for (caller, byName, byID) in [
                (env.bob, name, nil), (env.bob, nil, photo.id), (env.alice, "\(name).thumb.jpg", nil), (env.alice, "\(env.aliceFolder)/none.jpg", nil),
            ] as [(Caller, String?, UUID?)] {
                let refused = try await #require(throws: APIError.self) { try await Self.claim(env, caller, name: byName, id: byID) }
                #expect(refused.status == .notFound && refused.message == notFound, "\(byName ?? byID?.uuidString ?? "")")
            }
            let avatar = try await env.upload(env.alice, bucket: "avatars", name: "\(env.aliceFolder)/a.jpg", type: "image/jpeg", try MediaFixtures.jpeg(width: 40, height: 40))
            await #expect(throws: APIError.self) { try await Self.claim(env, env.alice, name: nil, id: avatar.id) }
            // Neither or both of path and id: 22023.
            for (byName, byID) in [(nil, nil), (name, photo.id)] as [(String?, UUID?)] {
                let refused = try await #require(throws: APIError.self) { try await Self.claim(env, env.alice, name: byName, id: byID) }
                #expect(refused.status == .badRequest && refused.message.hasPrefix("attachment: "))
            }
            // Anonymous callers have no EXECUTE.
            await #expect(throws: (any Error).self) {
                try await env.database.withCaller(.anonymous) { connection in
                    try await connection.execute("SELECT storage.claim_object('attachments', $1, NULL)", [name])
                }
            }
            // The image's claim carries its thumbnail.
            let claimed = try await Self.claim(env, env.alice, name: nil, id: photo.id)
            #expect(claimed["thumbnail_path"] as? String == "\(name).thumb.jpg" && claimed["width"] as? Int == 40)
        }
    }

    @Test func releaseDeletesTheObjectItsRenditionsAndQueuesTheirBlobs() async throws {
        try await StorageTestEnvironment.with { env in
            let name = "\(env.aliceFolder)/p.jpg"
            let photo = try await env.upload(env.alice, bucket: "attachments", name: name, type: "image/jpeg", try MediaFixtures.jpeg(width: 40, height: 40))
            let thumbnail = try await env.storage.object(env.alice, bucket: "attachments", name: "\(name).thumb.jpg")
            // No request role may call it.
            let denied = try await #require(throws: APIError.self) {
                try await env.database.withCaller(env.alice) { connection in
                    try await connection.execute("SELECT storage.release_object($1)", [photo.id])
                }
            }
            #expect(denied.code == "42501")
            // The owner (chat's SECURITY DEFINER functions) may, attached or not; twice is a no-op.
            _ = try await Self.claim(env, env.alice, name: nil, id: photo.id)
            for _ in 0..<2 {
                try await env.database.withOwner { connection in try await connection.execute("SELECT storage.release_object($1)", [photo.id]) }
            }
            #expect(try await env.rows().isEmpty)
            #expect(try await env.queuedBlobKeys() == [photo.blobKey, thumbnail.blobKey])
            // The janitor deletes the blobs.
            var settings = env.storage.settings
            settings.orphanTTLSeconds = 86_400
            let pass = try await StorageJanitor(database: env.database, backend: env.storage.backend, settings: settings, logger: .init(label: "seam")).runOnce()
            #expect(pass.blobsDeleted == 2)
            #expect(env.blobCount == 0)
        }
    }

    @Test func anAttachedObjectCannotBeReplacedMovedOrRemoved() async throws {
        try await StorageTestEnvironment.with { env in
            let name = "\(env.aliceFolder)/p.jpg"
            let photo = try await env.upload(env.alice, bucket: "attachments", name: name, type: "image/jpeg", try MediaFixtures.jpeg(width: 40, height: 40))
            _ = try await Self.claim(env, env.alice, name: nil, id: photo.id)
            let blobs = env.blobCount
            func expectInUse(_ what: String, _ error: APIError?) {
                #expect(error?.status == .conflict && error?.code == "object_in_use" && error?.field == "path", "\(what): \(String(describing: error))")
                let message = error?.message ?? ""
                #expect(message.hasPrefix("path: \(name)") && message.contains("attached to a message"), "\(what): \(message)")
            }
            let other = try MediaFixtures.jpeg(width: 20, height: 20)
            expectInUse("upsert", await #expect(throws: APIError.self) {
                try await env.upload(env.alice, bucket: "attachments", name: name, type: "image/jpeg", other, upsert: true)
            })
            expectInUse("move", await #expect(throws: APIError.self) {
                try await env.storage.move(env.alice, bucket: "attachments", from: name, to: "\(env.aliceFolder)/q.jpg")
            })
            expectInUse("remove", await #expect(throws: APIError.self) {
                try await env.storage.remove(env.alice, bucket: "attachments", names: [name, "\(name).thumb.jpg"])
            })
            expectInUse("remove the thumbnail", await #expect(throws: APIError.self) {
                try await env.storage.remove(env.alice, bucket: "attachments", names: ["\(name).thumb.jpg"])
            })
            expectInUse("signed upsert URL", await #expect(throws: APIError.self) {
                try await env.storage.signUpload(env.alice, bucket: "attachments", name: name, upsert: true)
            })
            // Even the service role (the storage API's administrator) goes through the message.
            expectInUse("service role", await #expect(throws: APIError.self) {
                try await env.storage.remove(StorageServiceTests.service, bucket: "attachments", names: [name])
            })
            // Nothing changed: the rows, the bytes, no new blob left behind.
            let after = try await env.storage.object(env.alice, bucket: "attachments", name: name)
            #expect(after.version == photo.version && after.etag == photo.etag)
            let rows = try await env.rows().keys.sorted()
            #expect(rows == ["attachments/\(name)", "attachments/\(name).thumb.jpg"], "\(rows)")
            #expect(env.blobCount == blobs)
            // A request role cannot detach it either.
            let detach = await #expect(throws: (any Error).self) {
                try await env.database.withCaller(env.alice) { connection in
                    try await connection.execute("UPDATE storage.objects SET attached_at = NULL WHERE id = $1", [photo.id])
                }
            }
            #expect(detach.flatMap(PostgresErrorText.sqlState) == "55006")
            // A copy is a new, unattached upload.
            let copy = try await env.storage.copy(env.alice, bucket: "attachments", from: name, to: "\(env.aliceFolder)/copy.jpg")
            #expect(try await env.storage.remove(env.alice, bucket: "attachments", names: [copy.name]).contains { $0.name == copy.name })
        }
    }

    @Test func sharedReadIsOffByDefault() async throws {
        try await StorageTestEnvironment.with { env in
            let name = "\(env.aliceFolder)/p.jpg"
            let photo = try await env.upload(env.alice, bucket: "attachments", name: name, type: "image/jpeg", try MediaFixtures.jpeg(width: 40, height: 40))
            let allowed = try await env.database.withCaller(env.bob) { connection in
                try await connection.scalarText("SELECT storage.shared_read_allowed($1)::text", [photo.id])
            }
            #expect(allowed == "false")
            // So the other user reads neither the attachment nor its thumbnail, by any route.
            await #expect(throws: StorageError.objectNotFound) { try await env.storage.object(env.bob, bucket: "attachments", name: name) }
            await #expect(throws: StorageError.objectNotFound) { try await env.storage.object(env.bob, bucket: "attachments", name: "\(name).thumb.jpg") }
            await #expect(throws: StorageError.objectNotFound) {
                try await env.storage.signDownload(env.bob, bucket: "attachments", name: name, expiresIn: 60)
            }
            // The uploader reads both.
            #expect(try await env.storage.object(env.alice, bucket: "attachments", name: "\(name).thumb.jpg").parentID == photo.id)
        }
    }

    @Test func queueAndTriggerNeedTheOwner() async throws {
        try await StorageTestEnvironment.with { env in
            let denied = try await #require(throws: APIError.self) {
                try await env.database.withCaller(env.alice) { connection in
                    try await connection.execute("SELECT * FROM storage.blob_deletions", [])
                }
            }
            #expect(denied.code == "42501")
            // A user's own delete still queues the blob (the trigger runs as the owner).
            let object = try await env.upload(env.alice, bucket: "attachments", name: "\(env.aliceFolder)/a.txt", type: "text/plain", Array("a".utf8))
            try await env.database.withCaller(env.alice) { connection in
                try await connection.execute("DELETE FROM storage.objects WHERE id = $1", [object.id])
            }
            #expect(try await env.queuedBlobKeys() == [object.blobKey])
        }
    }
}
