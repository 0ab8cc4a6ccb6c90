import Foundation
import Testing
import TestSupport

/// Who may read a reel (migration 0018), enforced by row-level security whatever the
/// service asks for.
@Suite struct ReelsSchemaTests {
    @Test func onlyReadyApprovedReelsReachOthersWhileTheAuthorSeesAll() async throws {
        try await TestDatabase.withDatabase { db in
            let author = try await ReelsFixture.user(db)
            let viewer = try await ReelsFixture.user(db)
            let ready = try await ReelsFixture.reel(db, author: author)
            let pending = try await ReelsFixture.reel(db, author: author, moderation: "pending")
            let rejected = try await ReelsFixture.reel(db, author: author, moderation: "rejected")
            let processing = try await ReelsFixture.reel(db, author: author, state: "processing")
            #expect(try await ReelsFixture.visibleReels(db, viewer) == [ready])
            #expect(try await ReelsFixture.visibleReels(db, author) == [ready, pending, rejected, processing])
        }
    }

    @Test func visibilityFollowersPrivateAccountsAndBlocksHold() async throws {
        try await TestDatabase.withDatabase { db in
            let author = try await ReelsFixture.user(db)
            let follower = try await ReelsFixture.user(db)
            let requested = try await ReelsFixture.user(db)
            let stranger = try await ReelsFixture.user(db)
            try await ReelsFixture.follow(db, follower, author)
            try await ReelsFixture.follow(db, requested, author, status: "pending")
            let open = try await ReelsFixture.reel(db, author: author)
            let forFollowers = try await ReelsFixture.reel(db, author: author, visibility: "followers")
            _ = try await ReelsFixture.reel(db, author: author, visibility: "private")
            #expect(try await ReelsFixture.visibleReels(db, follower) == [open, forFollowers])
            #expect(try await ReelsFixture.visibleReels(db, requested) == [open])
            #expect(try await ReelsFixture.visibleReels(db, stranger) == [open])

            try await ReelsFixture.block(db, author, stranger)
            #expect(try await ReelsFixture.visibleReels(db, stranger).isEmpty)

            let closed = try await ReelsFixture.user(db, isPrivate: true)
            let closedReel = try await ReelsFixture.reel(db, author: closed)
            try await ReelsFixture.follow(db, follower, closed)
            #expect(try await ReelsFixture.visibleReels(db, follower).contains(closedReel))
            #expect(try await !ReelsFixture.visibleReels(db, requested).contains(closedReel))
        }
    }

    @Test func clientRolesCannotWriteReels() async throws {
        try await TestDatabase.withDatabase { db in
            let author = try await ReelsFixture.user(db)
            let reel = try await ReelsFixture.reel(db, author: author, moderation: "pending")
            await #expect(throws: (any Error).self) {
                try await db.withCaller(author) { connection in
                    try await connection.execute("UPDATE reels.reels SET moderation = 'approved' WHERE id = $1", [reel])
                }
            }
        }
    }
}
