@testable import Chat
import Core
import Database
import Foundation
import PostgresNIO
import Realtime
import Testing
import TestSupport

/// Image, video, file and voice messages (issue 13, item 5; migration 0013): the claim of
/// the sender's upload, the kind/MIME rule, idempotent retries, the release on deletion and
/// who may read the object. Uploads are made as storage would record them (rows in
/// storage.objects); the HTTP path is covered by Tests/e2e/test_chat_attachments.py.
@Suite struct ChatAttachmentsTests {
    /// An upload of `owner`'s as storage records it; returns its id.
    static func upload(
        _ database: Database, _ owner: Caller, _ file: String, mime: String, media: String = "{}", bucket: String = "attachments",
        parent: UUID? = nil
    ) async throws -> UUID {
        try await database.withOwner { connection in
            let rows = try await connection.rows("""
                INSERT INTO storage.objects (bucket_id, name, owner, size, mime_type, cache_control, etag, version, media, parent_id)
                VALUES ($1, $2, $3, 1234, $4, 'max-age=3600', md5($2), gen_random_uuid(), $5::jsonb, $6) RETURNING id
                """, [bucket, owner.id + "/" + file, owner.userID, mime, media, parent])
            for try await id in rows.decode(UUID.self) { return id }
            throw APIError.notFound("no row")
        }
    }

    static func send(
        _ f: ChatFixture, _ caller: Caller, _ chat: String, kind: String, attachment: Any?, body: String? = nil, clientID: UUID = UUID()
    ) async throws -> [String: Any] {
        var arguments: [String: Any] = ["conversation_id": chat, "client_msg_id": clientID.uuidString, "kind": kind]
        if let attachment { arguments["attachment"] = attachment }
        if let body { arguments["body"] = body }
        return try await f.object(caller, "send_message_v1", arguments)
    }

    /// Whether `caller` can see the object's row (storage's read policy, as every storage read does).
    static func canRead(_ database: Database, _ caller: Caller, _ object: UUID) async throws -> Bool {
        try await database.withCaller(caller) { connection in
            try await connection.exists("SELECT 1 FROM storage.objects WHERE id = $1", [object])
        }
    }

    static func count(_ database: Database, _ sql: String, _ values: [(any PostgresEncodable & Sendable)?]) async throws -> Int {
        try await database.withOwner { connection in
            for try await n in try await connection.rows(sql, values).decode(Int.self) { return n }
            return 0
        }
    }

    static func field(_ error: APIError) -> String? { error.field }

    @Test func everyKindCarriesTheClaimedObjectInResultHistoryRealtimeAndInbox() async throws {
        try await TestDatabase.withDatabase { database in
            let recorder = ChangeRecorder()
            let f = ChatFixture(database, publisher: recorder)
            let a = try await f.user("att_a"), b = try await f.user("att_b")
            let dm = try await f.dm(a, b)
            let photo = try await Self.upload(database, a, "photo.png", mime: "image/png", media: #"{"width": 640, "height": 480, "thumbnail": "\#(a.id)/photo.png.thumb.jpg"}"#)
            _ = try await Self.upload(database, a, "clip.mp4", mime: "video/mp4", media: #"{"width": 320, "height": 240, "duration_ms": 2000}"#)
            _ = try await Self.upload(database, a, "doc.pdf", mime: "application/pdf")
            let voice = try await Self.upload(database, a, "voice.ogg", mime: "audio/ogg", media: #"{"duration_ms": 1500, "waveform": [0, 128, 255]}"#)
            _ = try await Self.upload(database, a, "song.mp3", mime: "audio/mpeg")
            _ = try await Self.upload(database, a, "rec.webm", mime: "video/webm", media: #"{"duration_ms": 900}"#)

            // Every reference form of the contract.
            let sent: [(String, Any, String)] = [
                ("image", a.id + "/photo.png", "image/png"),
                ("video", ["fullPath": "attachments/" + a.id + "/clip.mp4"], "video/mp4"),
                ("file", ["bucket": "attachments", "path": a.id + "/doc.pdf"], "application/pdf"),
                ("voice", ["object_id": voice.uuidString], "audio/ogg"),
                ("audio", "attachments/" + a.id + "/song.mp3", "audio/mpeg"),
                ("voice", ["name": a.id + "/rec.webm"], "video/webm"),
            ]
            for (kind, reference, _) in sent {
                let result = try await Self.send(f, a, dm, kind: kind, attachment: reference, body: kind == "image" ? "  look  " : nil)
                #expect(result["message_id"] is String)
            }
            let history = try await f.messages(b, dm)
            #expect(history.map { $0["kind"] as? String } == sent.map(\.0))
            #expect(history.map { ($0["attachment"] as? [String: Any])?["mime_type"] as? String } == sent.map(\.2))
            let image = try #require(history.first?["attachment"] as? [String: Any])
            #expect(history.first?["body"] as? String == "look")
            #expect(image["object_id"] as? String == photo.uuidString.lowercased())
            #expect(image["bucket"] as? String == "attachments")
            #expect(image["path"] as? String == a.id + "/photo.png")
            #expect(image["name"] as? String == "photo.png")
            #expect(image["size"] as? Int == 1234)
            #expect(image["width"] as? Int == 640 && image["height"] as? Int == 480)
            #expect(image["thumbnail_path"] as? String == a.id + "/photo.png.thumb.jpg")
            #expect(image["poster_path"] is NSNull)
            let voiceAttachment = try #require(history[3]["attachment"] as? [String: Any])
            #expect(voiceAttachment["duration_ms"] as? Int == 1500)
            #expect(voiceAttachment["waveform"] as? [Int] == [0, 128, 255])
            #expect(history[1]["body"] as? String == "")

            // Realtime carries the same attachment.
            let inserts = recorder.all.filter { $0.table == "messages" && $0.type == .insert }
            #expect(inserts.count == sent.count)
            let record = try #require(inserts.first?.record?.objectValue)
            #expect(record["kind"] == .string("image"))
            #expect(record["attachment"]?.objectValue?["mime_type"] == .string("image/png"))
            #expect(record["attachment"]?.objectValue?["width"] == .number(640))

            // The inbox preview of a caption-less message still says what it is.
            let inbox = try await f.inbox(b)
            let row = try #require((inbox["items"] as? [[String: Any]])?.first)
            let preview = try #require(row["last_message"] as? [String: Any])
            #expect(preview["kind"] as? String == "voice")
            #expect(preview["body"] as? String == "")
            #expect((preview["attachment"] as? [String: Any])?["name"] as? String == "rec.webm")
            #expect((preview["attachment"] as? [String: Any])?["waveform"] == nil)
            // Claimed objects are marked attached (the orphan sweep leaves them alone).
            #expect(try await Self.count(database, "SELECT count(*)::int FROM storage.objects WHERE owner = $1 AND attached_at IS NOT NULL", [a.userID]) == 6)
        }
    }

    @Test func refusalsAre400sNamingTheFieldAndClaimNothing() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("atr_a"), b = try await f.user("atr_b")
            let dm = try await f.dm(a, b)
            let clip = try await Self.upload(database, a, "clip.mp4", mime: "video/mp4", media: #"{"width": 2, "height": 2}"#)
            let theirs = try await Self.upload(database, b, "theirs.png", mime: "image/png")
            let photo = try await Self.upload(database, a, "photo.png", mime: "image/png")
            _ = try await Self.upload(database, a, "photo.png.thumb.jpg", mime: "image/jpeg", parent: photo)
            _ = try await Self.upload(database, a, "avatar.png", mime: "image/png", bucket: "avatars")

            func refusal(_ kind: String, _ attachment: Any?, body: String? = nil) async throws -> APIError {
                try await #require(throws: APIError.self) { _ = try await Self.send(f, a, dm, kind: kind, attachment: attachment, body: body) }
            }
            // Missing, and on a text message.
            var error = try await refusal("image", nil)
            #expect(error.status == .badRequest && error.field == "attachment")
            error = try await refusal("video", NSNull())
            #expect(error.field == "attachment")
            error = try await refusal("text", a.id + "/photo.png", body: "hi")
            #expect(error.field == "attachment" && error.message.contains("text message"))
            // Not the caller's upload; a rendition; another bucket.
            error = try await refusal("image", ["id": theirs.uuidString])
            #expect(error == APIError.invalidField("attachment", "no such object among your uploads"))
            error = try await refusal("image", b.id + "/theirs.png")
            #expect(error == APIError.invalidField("attachment", "no such object among your uploads"))
            error = try await refusal("image", a.id + "/photo.png.thumb.jpg")
            #expect(error == APIError.invalidField("attachment", "no such object among your uploads"))
            error = try await refusal("image", ["bucket": "avatars", "path": a.id + "/avatar.png"])
            #expect(error.field == "attachment" && error.message.contains("bucket"))
            error = try await refusal("image", a.id + "/avatar.png")
            #expect(error == APIError.invalidField("attachment", "no such object among your uploads"))
            // Kind versus the sniffed type; the failed send leaves the object unclaimed.
            error = try await refusal("image", ["object_id": clip.uuidString])
            #expect(error == APIError.invalidField("kind", "an image message needs an image attachment (this one is video/mp4)"))
            error = try await refusal("voice", ["object_id": clip.uuidString])
            #expect(error == APIError.invalidField("kind", "a voice message needs an audio attachment (this one is video/mp4)"))
            #expect(try await Self.count(database, "SELECT count(*)::int FROM storage.objects WHERE id = $1 AND attached_at IS NULL", [clip]) == 1)
            _ = try await Self.send(f, a, dm, kind: "video", attachment: ["object_id": clip.uuidString])
            // Already attached.
            error = try await refusal("video", ["object_id": clip.uuidString])
            #expect(error == APIError.invalidField("attachment", "is already attached to a message"))
            // Malformed references and kinds.
            let malformed: [Any] = [
                1e300, -1e19, 7, true, [a.id + "/photo.png"], "", "attachments/", "/abs/path.png", "/\u{64F}s", "a\u{0}b.png",
                String(repeating: "x", count: 1025), ["id": 5], ["id": "not-a-uuid"], ["object_id": ["nested": [1, 2]]], [:] as [String: Any],
                ["path": ["deep": [[[["x"]]]]]], ["path": a.id + "/photo.png", "name": a.id + "/other.png"], ["bucket": 1, "path": "x"],
            ]
            for reference in malformed {
                error = try await refusal("image", reference)
                #expect(error.status == .badRequest, "\(reference)")
                #expect(error.field == "attachment", "\(reference)")
            }
            for kind in ["sticker", "system", "IMAGE", ""] {
                error = try await refusal(kind, a.id + "/photo.png")
                #expect(error.field == "kind")
            }
            error = try await refusal("image", a.id + "/photo.png", body: String(repeating: "я", count: 4001))
            #expect(error.field == "body")
            // Deep nesting is refused before it is decoded.
            let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
            let body = #"{"conversation_id":"\#(dm)","client_msg_id":"\#(UUID().uuidString)","kind":"image","attachment":\#(deep)}"#
            await #expect(throws: APIError.self) {
                _ = try await f.registry.call(RPCCall(name: "send_message_v1", arguments: Data(body.utf8), caller: a))
            }
            // Nothing above was sent except the one video, and only it is claimed.
            #expect(try await f.messages(a, dm).count == 1)
            #expect(try await Self.count(database, "SELECT count(*)::int FROM storage.objects WHERE attached_at IS NOT NULL", []) == 1)
        }
    }

    @Test func aRetryReturnsTheOriginalAndClaimsNothing() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("ati_a"), b = try await f.user("ati_b")
            let dm = try await f.dm(a, b)
            _ = try await Self.upload(database, a, "p.png", mime: "image/png")
            let clientID = UUID()
            let first = try await Self.send(f, a, dm, kind: "image", attachment: a.id + "/p.png", clientID: clientID)
            let retry = try await Self.send(f, a, dm, kind: "image", attachment: a.id + "/p.png", clientID: clientID)
            #expect(first["message_id"] as? String == retry["message_id"] as? String)
            // Concurrent retries of one new message: one message, no "already attached".
            _ = try await Self.upload(database, a, "q.png", mime: "image/png")
            let other = UUID()
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<6 {
                    group.addTask { try await Self.send(f, a, dm, kind: "image", attachment: a.id + "/q.png", clientID: other)["message_id"] as? String ?? "" }
                }
                var ids = Set<String>()
                for try await id in group { ids.insert(id) }
                return ids
            }
            #expect(ids.count == 1)
            #expect(try await f.messages(b, dm).count == 2)
        }
    }

    @Test func deletingTheMessageReleasesTheObjectAndItsBlobs() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("atd_a"), b = try await f.user("atd_b")
            let dm = try await f.dm(a, b)
            let photo = try await Self.upload(database, a, "p.png", mime: "image/png")
            let thumb = try await Self.upload(database, a, "p.png.thumb.jpg", mime: "image/jpeg", parent: photo)
            let id = try #require(try await Self.send(f, a, dm, kind: "image", attachment: a.id + "/p.png")["message_id"] as? String)
            let versions = try await database.withOwner { connection in
                var keys: [String] = []
                for try await v in try await connection.rows("SELECT 'attachments/' || version FROM storage.objects WHERE id = ANY($1)", [[photo, thumb]]).decode(String.self) {
                    keys.append(v)
                }
                return keys
            }
            #expect(versions.count == 2)
            let tombstone = try await f.object(a, "delete_message", ["message_id": id])
            #expect(tombstone["attachment"] is NSNull)
            #expect(tombstone["deleted_at"] is String)
            #expect(try await Self.count(database, "SELECT count(*)::int FROM storage.objects WHERE id = ANY($1)", [[photo, thumb]]) == 0)
            #expect(try await Self.count(database, "SELECT count(*)::int FROM storage.blob_deletions WHERE blob_key = ANY($1)", [versions]) == 2)
            // Deleting again is the same tombstone.
            #expect(try await f.object(a, "delete_message", ["message_id": id])["attachment"] is NSNull)
            // A message row that goes with its conversation takes its object along.
            let group = try #require(try await f.call(a, "create_group_chat", ["title": "g"]) as? String)
            let doc = try await Self.upload(database, a, "d.pdf", mime: "application/pdf")
            _ = try await Self.send(f, a, group, kind: "file", attachment: ["id": doc.uuidString])
            try await f.call(a, "leave_conversation", ["conversation_id": group])
            #expect(try await Self.count(database, "SELECT count(*)::int FROM storage.objects WHERE id = $1", [doc]) == 0)
        }
    }

    @Test func currentMembersReadTheObjectAndItsRenditionsExMembersAndOutsidersDoNot() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("atm_a"), b = try await f.user("atm_b"), c = try await f.user("atm_c"), d = try await f.user("atm_d")
            let group = try #require(try await f.call(a, "create_group_chat", ["title": "g", "member_ids": [b.id, c.id]]) as? String)
            let photo = try await Self.upload(database, a, "p.png", mime: "image/png")
            let thumb = try await Self.upload(database, a, "p.png.thumb.jpg", mime: "image/jpeg", parent: photo)
            // Not shared before the message.
            #expect(try await Self.canRead(database, b, photo) == false)
            let id = try #require(try await Self.send(f, a, group, kind: "image", attachment: a.id + "/p.png")["message_id"] as? String)
            for member in [a, b, c] {
                #expect(try await Self.canRead(database, member, photo))
                #expect(try await Self.canRead(database, member, thumb))
            }
            #expect(try await Self.canRead(database, d, photo) == false)
            #expect(try await Self.canRead(database, d, thumb) == false)
            // Reading is all a member gets: no write, no delete of another's upload.
            let changed = try await database.withCaller(b) { connection in
                try await connection.exists("UPDATE storage.objects SET name = name || 'x' WHERE id = $1 RETURNING 1", [photo])
            }
            #expect(changed == false)
            try await f.call(a, "remove_chat_member", ["conversation_id": group, "user_id": b.id])
            #expect(try await Self.canRead(database, b, photo) == false)
            #expect(try await Self.canRead(database, b, thumb) == false)
            #expect(try await Self.canRead(database, c, photo))
            try await f.call(c, "leave_conversation", ["conversation_id": group])
            #expect(try await Self.canRead(database, c, photo) == false)
            _ = try await f.object(a, "delete_message", ["message_id": id])
            #expect(try await Self.canRead(database, a, photo) == false)
        }
    }

    @Test func avatarURLsMayBeRelativeToThisServersPublicAvatars() async throws {
        try await TestDatabase.withDatabase { database in
            let f = ChatFixture(database)
            let a = try await f.user("atv_a")
            func set(_ url: String) async throws {
                try await database.withCaller(a) { connection in
                    try await connection.execute("UPDATE public.profiles SET avatar_url = $2 WHERE id = $1", [a.userID, url])
                }
            }
            try await set("/storage/v1/object/public/avatars/\(a.id)/avatar-1.jpg")
            try await set("https://example.com/a.jpg")
            for bad in ["/storage/v1/object/public/avatars/../x.jpg", "/storage/v1/object/public/avatars/a b.jpg",
                        "/storage/v1/object/public/attachments/x.jpg", "/storage/v1/object/public/avatars/", "javascript:alert(1)",
                        "/storage/v1/object/public/avatars/" + String(repeating: "x", count: 2048)] {
                await #expect(throws: APIError.self, "\(bad)") { try await set(bad) }
            }
            let group = try #require(try await f.call(a, "create_group_chat", ["title": "g"]) as? String)
            try await database.withCaller(a) { connection in
                try await connection.execute("UPDATE public.conversations SET avatar_url = '/storage/v1/object/public/avatars/g.png' WHERE id = $1", [UUID(uuidString: group)])
            }
        }
    }
}
