import Core
import Database
import Foundation
import Testing
import TestSupport

@testable import Reels

/// update_reel, delete_reel, get_my_reels and get_reel, and the media links of a ready reel.
@Suite struct ReelsUploadManageTests {
    @Test func theAuthorChangesCaptionAndVisibilityOthersCannot() async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            let other = try await ReelsFixture.user(env.database)
            let reel = try await ReelsFixture.reel(env.database, author: author, caption: "#old")
            let changed = try await env.call(
                "update_reel", #"{"reel_id":"\#(reel)","caption":"New #Tag and #tag2","visibility":"private"}"#, author)
            #expect(changed["caption"] == .string("New #Tag and #tag2"))
            #expect(changed["hashtags"] == .array([.string("tag"), .string("tag2")]))
            #expect(changed["visibility"] == .string("private"))
            let onlyVisibility = try await env.call("update_reel", #"{"reel_id":"\#(reel)","visibility":"public"}"#, author)
            #expect(onlyVisibility["caption"] == .string("New #Tag and #tag2"))
            #expect(await env.error("update_reel", #"{"reel_id":"\#(reel)","visibility":"all"}"#, author)?.field == "visibility")
            let refused = await env.error("update_reel", #"{"reel_id":"\#(reel)","caption":"mine now"}"#, other)
            #expect(refused?.status == .notFound)
            #expect(await env.error("delete_reel", #"{"reel_id":"\#(reel)"}"#, other)?.status == .notFound)
            #expect(await env.error("get_reel", #"{"reel_id":"\#(UUID())"}"#, other)?.code == "PGRST116")
        }
    }

    @Test func aNewCaptionWithABlockedWordSendsAnApprovedReelBackToReview() async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            let reel = try await ReelsFixture.reel(env.database, author: author, caption: "fine")
            try await env.database.withOwner { connection in
                try await connection.execute("UPDATE reels.moderation_settings SET caption_blocklist = ARRAY['spam']", [])
            }
            let kept = try await env.call("update_reel", #"{"reel_id":"\#(reel)","caption":"still fine"}"#, author)
            #expect(kept["moderation"] == .string("approved"))
            let demoted = try await env.call("update_reel", #"{"reel_id":"\#(reel)","caption":"buy #Spam now"}"#, author)
            #expect(demoted["moderation"] == .string("pending"))
            // A clean caption does not approve it again: that is the moderators' decision.
            let still = try await env.call("update_reel", #"{"reel_id":"\#(reel)","caption":"clean again"}"#, author)
            #expect(still["moderation"] == .string("pending"))
        }
    }

    @Test func aPrivateReelIsNotFoundForOthersAndVisibleToItsAuthor() async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            let other = try await ReelsFixture.user(env.database)
            let hidden = try await ReelsFixture.reel(env.database, author: author, visibility: "private")
            let open = try await ReelsFixture.reel(env.database, author: author)
            #expect(try await env.call("get_reel", #"{"reel_id":"\#(hidden)"}"#, author)["id"] == .string(hidden.uuidString.lowercased()))
            #expect(await env.error("get_reel", #"{"reel_id":"\#(hidden)"}"#, other)?.status == .notFound)
            #expect(try await env.call("get_reel", #"{"reel_id":"\#(open)"}"#, other)["id"] == .string(open.uuidString.lowercased()))
        }
    }

    @Test func myReelsListEveryStateNewestFirstPageByPage() async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            let other = try await ReelsFixture.user(env.database)
            var made: [UUID] = []
            for (index, state) in ["uploaded", "processing", "ready", "failed", "ready"].enumerated() {
                made.append(try await ReelsFixture.reel(env.database, author: author, state: state, createdAt: Date(timeIntervalSinceNow: Double(index))))
            }
            _ = try await ReelsFixture.reel(env.database, author: other)
            var seen: [String] = []
            var cursor: String?
            repeat {
                let before = cursor.map { #","before":"\#($0)""# } ?? ""
                let page = try await env.call("get_my_reels", #"{"limit":2\#(before)}"#, author)
                guard case .array(let reels) = page["reels"] else { Issue.record("no reels"); return }
                #expect(reels.count <= 2)
                seen += reels.compactMap { if case .string(let id) = $0.objectValue?["id"] { id } else { nil } }
                if case .string(let next) = page["next"] { cursor = next } else { cursor = nil }
            } while cursor != nil
            #expect(seen == made.reversed().map { $0.uuidString.lowercased() })
            #expect(await env.error("get_my_reels", #"{"limit":51}"#, author)?.field == "limit")
            #expect(await env.error("get_my_reels", #"{"before":"forged"}"#, author)?.field == "before")
        }
    }

    @Test func aReadyReelCarriesMediaLinksThatOpenItsOutputs() async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            let reel = try await ReelsFixture.reel(env.database, author: author)
            let prefix = "\(reel.uuidString.lowercased())/\(UUID().uuidString.lowercased())"
            try await env.database.withOwner { connection in
                try await connection.execute("UPDATE reels.reels SET media_prefix = $2 WHERE id = $1", [reel, prefix])
            }
            let record = try await env.call("get_reel", #"{"reel_id":"\#(reel)"}"#, author)
            guard let media = record["media"]?.objectValue, case .string(let hls) = media["hls"] else {
                Issue.record("no media in \(record)")
                return
            }
            #expect(hls.hasPrefix("/reels/v1/media/") && hls.hasSuffix("/master.m3u8"))
            #expect(media["mp4"] == .string(hls.replacingOccurrences(of: "master.m3u8", with: "video.mp4")))
            #expect(media["poster"] == .string(hls.replacingOccurrences(of: "master.m3u8", with: "poster.jpg")))
            let routes = ReelMediaRoutes(database: env.database, storage: env.storage, media: env.uploads.media)
            guard let (tokenText, file) = ReelMediaRoutes.split(hls) else { Issue.record("link does not split"); return }
            #expect(file == "master.m3u8")
            let token = try await env.uploads.media.verify(tokenText)
            #expect(token.prefix == prefix)
            #expect(try await routes.isServable(token))
            // Rejected by moderation, or replaced by another attempt: the old link opens nothing.
            try await env.database.withOwner { connection in
                try await connection.execute("UPDATE reels.reels SET moderation = 'rejected' WHERE id = $1", [reel])
            }
            #expect(try await !routes.isServable(token))
            #expect(try await env.call("get_reel", #"{"reel_id":"\#(reel)"}"#, author)["media"] == .null)
        }
    }

    @Test func deletingAReelRemovesRowJobsOriginalAndEveryOutput() async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            let path = try await env.upload(author, UploadClips.good, name: "gone.mp4")
            let record = try await env.call("create_reel", #"{"object_path":"\#(path)"}"#, author)
            guard case .string(let id) = record["id"], let reel = UUID(uuidString: id) else { Issue.record("no id"); return }
            for name in ["a1/master.m3u8", "a1/720p/index.m3u8", "a1/720p/seg_0.m4s", "a1/poster.jpg", "a2/video.mp4"] {
                try await env.storeMedia("\(id)/\(name)", Array("output \(name)".utf8))
            }
            let keep = "\(UUID().uuidString.lowercased())/a1/master.m3u8"
            try await env.storeMedia(keep, Array("another reel".utf8))
            let answer = try await env.call("delete_reel", #"{"reel_id":"\#(id)"}"#, author)
            #expect(answer["deleted"] == .bool(true))
            #expect(try await env.count("SELECT count(*) FROM reels.reels WHERE id = $1", reel) == 0)
            #expect(try await env.count("SELECT count(*) FROM reels.jobs WHERE reel_id = $1", reel) == 0)
            #expect(try await !env.originalExists(path))
            let left = try await env.uploads.mediaNames(under: id + "/", depth: 0)
            #expect(left.isEmpty)
            #expect((try? await env.storage.object(ReelsUploads.service, bucket: "reels-media", name: keep)) != nil)
            #expect(await env.error("delete_reel", #"{"reel_id":"\#(id)"}"#, author)?.status == .notFound)
        }
    }

    @Test func clientsCannotReadOthersOriginalsNorWriteReelsMedia() async throws {
        try await UploadEnvironment.run { env in
            let author = try await ReelsFixture.user(env.database)
            let other = try await ReelsFixture.user(env.database)
            let path = try await env.upload(author, UploadClips.good, name: "private.mp4")
            #expect((try? await env.storage.object(other, bucket: "reels", name: path)) == nil)
            #expect((try? await env.storage.object(author, bucket: "reels", name: path)) != nil)
            let name = "\(author.userID!.uuidString.lowercased())/x.m3u8"
            await #expect(throws: (any Error).self) {
                _ = try await env.storage.upload(
                    author, bucket: "reels-media", name: name, upsert: false, content: .init(mimeType: "text/plain"),
                    body: UploadEnvironment.body(Array("x".utf8)))
            }
        }
    }
}
