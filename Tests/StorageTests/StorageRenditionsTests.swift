import Core
import Foundation
import Testing

@testable import Storage

/// Server-made renditions and measurements against the real database and ffmpeg: avatar
/// sizes, attachment thumbnails, video posters, voice waveforms; renditions hidden from
/// lists, replaced on upsert, removed with their upload; unreadable media refused with
/// nothing left behind.
@Suite struct StorageRenditionsTests {
    @Test func avatarGetsSquare64And256Renditions() async throws {
        try await StorageTestEnvironment.with { env in
            let name = "\(env.aliceFolder)/avatar.jpg"
            let avatar = try await env.upload(env.alice, bucket: "avatars", name: name, type: "image/jpeg", try MediaFixtures.jpeg(width: 640, height: 480))
            let media = MediaFixtures.media(avatar)
            #expect(media["width"] as? Int == 640 && media["height"] as? Int == 480)
            let sizes = try #require(media["sizes"] as? [String: String])
            #expect(sizes == ["64": "\(name).64.jpg", "256": "\(name).256.jpg"])
            for (size, renditionName) in sizes {
                // Public like the avatar itself, square, a JPEG, and a child of the avatar.
                let rendition = try await env.storage.publicObject(bucket: "avatars", name: renditionName)
                #expect(rendition.parentID == avatar.id && rendition.mimeType == "image/jpeg" && rendition.owner == env.users[0])
                let (width, height) = try await MediaFixtures.dimensions(env.storage, rendition)
                #expect(width == Int(size) && height == Int(size))
            }
            // Lists show the avatar only.
            let listed = try await env.storage.list(
                env.bob, bucket: "avatars", prefix: env.aliceFolder, search: "", limit: 100, offset: 0, sortColumn: "name", ascending: true)
            #expect(listed.map(\.name) == ["avatar.jpg"])
            #expect(env.blobCount == 3)
            #expect(env.processingLeftovers.isEmpty)
        }
    }

    @Test func upsertReplacesRenditionsAndRemoveTakesThemAlong() async throws {
        try await StorageTestEnvironment.with { env in
            let name = "\(env.aliceFolder)/avatar.jpg"
            let first = try await env.upload(env.alice, bucket: "avatars", name: name, type: "image/jpeg", try MediaFixtures.jpeg(width: 300, height: 300))
            let firstSmall = try await env.storage.publicObject(bucket: "avatars", name: "\(name).64.jpg")
            let second = try await env.upload(
                env.alice, bucket: "avatars", name: name, type: "image/jpeg", try MediaFixtures.jpeg(width: 500, height: 400), upsert: true)
            #expect(second.id == first.id)
            #expect(MediaFixtures.media(second)["width"] as? Int == 500)
            let secondSmall = try await env.storage.publicObject(bucket: "avatars", name: "\(name).64.jpg")
            #expect(secondSmall.id != firstSmall.id && secondSmall.parentID == first.id)
            // The old renditions' blobs are gone: one avatar and two sizes remain.
            #expect(try await env.storage.backend.stat(key: firstSmall.blobKey) == nil)
            #expect(env.blobCount == 3)
            #expect(try await env.rows().count == 3)
            // An upload cannot take over a rendition's name.
            let refused = try await #require(throws: APIError.self) {
                try await env.upload(
                    env.alice, bucket: "avatars", name: "\(name).64.jpg", type: "image/jpeg", try MediaFixtures.jpeg(width: 10, height: 10),
                    upsert: true)
            }
            #expect(refused.status == .conflict && refused.message.contains("preview the server made"))
            // Removing the avatar removes its renditions (rows and blobs); only the avatar is reported.
            let removed = try await env.storage.remove(env.alice, bucket: "avatars", names: [name])
            #expect(removed.map(\.name) == [name])
            #expect(try await env.rows().isEmpty)
            #expect(env.blobCount == 0)
        }
    }

    @Test func attachmentImageIsMeasuredWithAThumbnail() async throws {
        try await StorageTestEnvironment.with { env in
            let name = "\(env.aliceFolder)/photo.jpg"
            let photo = try await env.upload(env.alice, bucket: "attachments", name: name, type: "image/jpeg", try MediaFixtures.jpeg(width: 800, height: 400))
            let media = MediaFixtures.media(photo)
            #expect(media["width"] as? Int == 800 && media["height"] as? Int == 400)
            #expect(media["thumbnail"] as? String == "\(name).thumb.jpg")
            let thumbnail = try await env.storage.object(env.alice, bucket: "attachments", name: "\(name).thumb.jpg")
            #expect(thumbnail.parentID == photo.id)
            let (width, height) = try await MediaFixtures.dimensions(env.storage, thumbnail)
            #expect(width == 320 && height == 160)
            // The attachment is private: the other user sees neither the photo nor its thumbnail.
            await #expect(throws: StorageError.objectNotFound) { try await env.storage.object(env.bob, bucket: "attachments", name: "\(name).thumb.jpg") }
            let listed = try await env.storage.list(
                env.alice, bucket: "attachments", prefix: env.aliceFolder, search: "", limit: 100, offset: 0, sortColumn: "name", ascending: true)
            #expect(listed.map(\.name) == ["photo.jpg"])
        }
    }

    @Test func attachmentVideoGetsDurationSizeAndPoster() async throws {
        try await StorageTestEnvironment.with { env in
            let name = "\(env.aliceFolder)/clip.mp4"
            let clip = try await env.upload(env.alice, bucket: "attachments", name: name, type: "video/mp4", try MediaFixtures.mp4())
            let media = MediaFixtures.media(clip)
            #expect(media["width"] as? Int == 320 && media["height"] as? Int == 240)
            let duration = try #require(media["duration_ms"] as? Int)
            #expect((1900...2100).contains(duration))
            #expect(media["poster"] as? String == "\(name).poster.jpg")
            let poster = try await env.storage.object(env.alice, bucket: "attachments", name: "\(name).poster.jpg")
            #expect(poster.mimeType == "image/jpeg" && poster.parentID == clip.id)
            let (width, height) = try await MediaFixtures.dimensions(env.storage, poster)
            #expect(width == 320 && height == 240)
            #expect(clip.mimeType == "video/mp4")
        }
    }

    @Test func voiceMessagesGetDurationAndWaveform() async throws {
        try await StorageTestEnvironment.with { env in
            let ogg = try await env.upload(
                env.alice, bucket: "attachments", name: "\(env.aliceFolder)/voice.ogg", type: "audio/ogg", try MediaFixtures.oggVoice())
            let media = MediaFixtures.media(ogg)
            let duration = try #require(media["duration_ms"] as? Int)
            #expect((1400...1600).contains(duration))
            let waveform = try #require(media["waveform"] as? [Int])
            #expect(waveform.count == 64 && waveform.allSatisfy { (0...255).contains($0) })
            // Loud first half, silent second half.
            #expect(waveform.prefix(28).allSatisfy { $0 > 100 } && waveform.suffix(28).allSatisfy { $0 < 20 })
            #expect(media["width"] == nil && media["poster"] == nil)
            // A browser's WebM voice recording (no picture, no duration in the container):
            // measured as audio by decoding it, no poster.
            let webm = try await env.upload(
                env.alice, bucket: "attachments", name: "\(env.aliceFolder)/voice.webm", type: "audio/webm", try MediaFixtures.webmVoice())
            let webmMedia = MediaFixtures.media(webm)
            #expect((webmMedia["waveform"] as? [Int])?.count == 64 && webmMedia["poster"] == nil && webmMedia["width"] == nil)
            #expect((1400...1600).contains(try #require(webmMedia["duration_ms"] as? Int)))
            #expect(env.blobCount == 2)
        }
    }

    @Test func unreadableMediaIsRefusedAndLeavesNothing() async throws {
        try await StorageTestEnvironment.with { env in
            let broken = try MediaFixtures.brokenMP4()
            let refused = try await #require(throws: APIError.self) {
                try await env.upload(env.alice, bucket: "attachments", name: "\(env.aliceFolder)/broken.mp4", type: "video/mp4", broken)
            }
            #expect(refused.status == .badRequest && refused.code == "invalid_media" && refused.message.hasPrefix("media: "))
            #expect(try await env.rows().isEmpty)
            #expect(env.blobCount == 0)
            #expect(env.processingLeftovers.isEmpty)
            // Other files in attachments are stored as they are, without measurements.
            let text = try await env.upload(env.alice, bucket: "attachments", name: "\(env.aliceFolder)/notes.txt", type: "text/plain", Array("hi".utf8))
            #expect(text.mediaJSON == "{}")
        }
    }

    @Test func renditionNamesMustFit() async throws {
        try await StorageTestEnvironment.with { env in
            // 255 bytes in the last segment leave no room for '.thumb.jpg'.
            let long = "\(env.aliceFolder)/" + String(repeating: "a", count: 251) + ".jpg"
            let refused = try await #require(throws: APIError.self) {
                try await env.upload(env.alice, bucket: "attachments", name: long, type: "image/jpeg", try MediaFixtures.jpeg(width: 20, height: 20))
            }
            #expect(refused.status == .badRequest && refused.field == "path" && refused.message.contains("'.thumb.jpg' rendition"))
            #expect(env.blobCount == 0)
            // A taken rendition name is a clear conflict, and nothing is left behind.
            let name = "\(env.aliceFolder)/p.jpg"
            try await env.upload(env.alice, bucket: "attachments", name: "\(name).thumb.jpg", type: "text/plain", Array("mine".utf8))
            let taken = try await #require(throws: APIError.self) {
                try await env.upload(env.alice, bucket: "attachments", name: name, type: "image/jpeg", try MediaFixtures.jpeg(width: 20, height: 20))
            }
            #expect(taken.status == .conflict && taken.message.contains("is taken by another file"))
            #expect(try await env.rows().count == 1)
            #expect(env.blobCount == 1)
        }
    }

    @Test func moveRenamesTheRenditions() async throws {
        try await StorageTestEnvironment.with { env in
            let from = "\(env.aliceFolder)/a.jpg"
            let to = "\(env.aliceFolder)/moved/b.jpg"
            let avatar = try await env.upload(env.alice, bucket: "avatars", name: from, type: "image/jpeg", try MediaFixtures.jpeg(width: 100, height: 100))
            // A rendition is not moved on its own.
            let refused = try await #require(throws: APIError.self) {
                try await env.storage.move(env.alice, bucket: "avatars", from: "\(from).64.jpg", to: "\(env.aliceFolder)/x.jpg")
            }
            #expect(refused.status == .conflict && refused.message.contains("move that file instead"))
            // Another user cannot move it at all.
            await #expect(throws: StorageError.objectNotFound) { try await env.storage.move(env.bob, bucket: "avatars", from: from, to: to) }
            let moved = try await env.storage.move(env.alice, bucket: "avatars", from: from, to: to)
            #expect(moved.id == avatar.id)
            #expect(MediaFixtures.media(moved)["sizes"] as? [String: String] == ["64": "\(to).64.jpg", "256": "\(to).256.jpg"])
            #expect(try await env.storage.publicObject(bucket: "avatars", name: "\(to).256.jpg").parentID == avatar.id)
            #expect(Set(try await env.rows().keys) == ["avatars/\(to)", "avatars/\(to).64.jpg", "avatars/\(to).256.jpg"])
            // The old name is free again, renditions included.
            try await env.upload(env.alice, bucket: "avatars", name: from, type: "image/jpeg", try MediaFixtures.jpeg(width: 20, height: 20))
            #expect(try await env.rows().count == 6)
            #expect(StorageStore.renamingMedia(#"{"thumbnail":"a.thumb.jpg","width":3}"#, [("a.thumb.jpg", "b.thumb.jpg")]) == #"{"thumbnail":"b.thumb.jpg","width":3}"#)
        }
    }

    @Test func infoResponseCarriesMedia() async throws {
        try await StorageTestEnvironment.with { env in
            let photo = try await env.upload(
                env.alice, bucket: "attachments", name: "\(env.aliceFolder)/i.jpg", type: "image/jpeg", try MediaFixtures.jpeg(width: 40, height: 30))
            let info = StorageController.info(photo)
            let media = try #require(info["media"] as? [String: Any])
            #expect(media["width"] as? Int == 40 && media["height"] as? Int == 30)
        }
    }
}
