import Database
import Foundation
import PostgresNIO
import Testing
import TestSupport

@testable import Reels

/// The job queue's semantics on a real database (migration 0019, ``ReelJobsQueue``).
@Suite struct ReelJobsTests {
    private func queue(_ database: Database, lease: Int = 30, retryBase: Int = 10) -> ReelJobsQueue {
        ReelJobsQueue(database: database, leaseSeconds: lease, retryBaseSeconds: retryBase)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    @Test func enqueueKeepsOneLiveJobPerReelAndClaimMarksTheReelProcessing() async throws {
        try await TestDatabase.withDatabase { db in
            let author = try await ReelsFixture.user(db)
            let reel = try await ReelJobsFixture.queuedReel(db, author: author)
            try await db.withOwner { connection in try await ReelJobs.enqueue(reel: reel, on: connection) }
            let count = try await db.withOwner { connection in try await connection.scalarText("SELECT count(*)::text FROM reels.jobs", []) }
            #expect(count == "1")
            let job = try #require(try await queue(db).claim(worker: "w1"))
            #expect(job.reelID == reel && job.attempts == 1 && job.previousAttemptID == nil && job.authorID == author.userID)
            #expect(job.mediaPrefix == reel.uuidString.lowercased() + "/" + job.attemptID.uuidString.lowercased())
            #expect(try await ReelJobsFixture.reelState(db, reel).state == "processing")
            #expect(try await queue(db).claim(worker: "w2") == nil)
        }
    }

    @Test func enqueueNotifiesTheWorkers() async throws {
        try await TestDatabase.withDatabase { db in
            let author = try await ReelsFixture.user(db)
            let received = try await db.client.withConnection { listener in
                try await listener.listen(on: "reels_jobs") { notifications in
                    _ = try await ReelJobsFixture.queuedReel(db, author: author)
                    for try await notification in notifications { return notification.payload }
                    return ""
                }
            }
            #expect(UUID(uuidString: received) != nil)
        }
    }

    @Test func claimSkipsAJobLockedByAnotherTransaction() async throws {
        try await TestDatabase.withDatabase { db in
            let author = try await ReelsFixture.user(db)
            let first = try await ReelJobsFixture.queuedReel(db, author: author)
            try await db.withOwner { connection in try await connection.execute("UPDATE reels.jobs SET run_after = now() - interval '1 minute' WHERE reel_id = $1", [first]) }
            let second = try await ReelJobsFixture.queuedReel(db, author: author)
            let (locked, lockedSignal) = AsyncStream<Void>.makeStream()
            let (release, releaseSignal) = AsyncStream<Void>.makeStream()
            let holder = Task {
                try await db.withOwner { connection in
                    try await connection.execute("SELECT 1 FROM reels.jobs WHERE reel_id = $1 FOR UPDATE", [first])
                    lockedSignal.yield()
                    for await _ in release { break }
                }
            }
            for await _ in locked { break }
            let claimed = try await queue(db).claim(worker: "w1")
            #expect(claimed?.reelID == second)
            releaseSignal.yield()
            try await holder.value
            #expect(try await queue(db).claim(worker: "w2")?.reelID == first)
        }
    }

    @Test func anExpiredLeaseIsTakenOverAndTheFirstHolderLosesIt() async throws {
        try await TestDatabase.withDatabase { db in
            let author = try await ReelsFixture.user(db)
            let reel = try await ReelJobsFixture.queuedReel(db, author: author)
            // A 3 s lease: on a loaded machine the claim, heartbeat and second claim took over 1 s.
            let jobs = queue(db, lease: 3)
            let first = try #require(try await jobs.claim(worker: "killed"))
            #expect(try await jobs.heartbeat(first))
            #expect(try await jobs.claim(worker: "other") == nil)
            try await Task.sleep(for: .milliseconds(3300))
            let second = try #require(try await jobs.claim(worker: "other"))
            #expect(second.jobID == first.jobID && second.attempts == 2 && second.previousAttemptID == first.attemptID)
            #expect(try await !jobs.heartbeat(first))
            await #expect(throws: LostReelJobLease.self) {
                try await jobs.complete(first, result: ReelJobResult(renditions: ["360p"], durationMs: 1000, width: 360, height: 640))
            }
            await #expect(throws: LostReelJobLease.self) { try await jobs.fail(first, reason: "x", diagnostics: "", retryable: true) }
            try await jobs.complete(second, result: ReelJobResult(renditions: ["360p"], durationMs: 1000, width: 360, height: 640))
            let state = try await ReelJobsFixture.reelState(db, reel)
            #expect(state.state == "ready" && state.prefix == second.mediaPrefix && state.progress == 100)
            #expect(try await ReelJobsFixture.job(db, reel: reel).state == "done")
        }
    }

    @Test func failuresBackOffExponentiallyThenTheJobIsDeadAndTheReelFailed() async throws {
        try await TestDatabase.withDatabase { db in
            let author = try await ReelsFixture.user(db)
            let reel = try await ReelJobsFixture.queuedReel(db, author: author)
            try await db.withOwner { connection in try await connection.execute("UPDATE reels.jobs SET max_attempts = 3", []) }
            let jobs = queue(db, retryBase: 10)
            var expectedDelay = 10.0
            for attempt in 1...3 {
                let job = try #require(try await jobs.claim(worker: "w"))
                #expect(job.attempts == attempt)
                let failedAt = ContinuousClock.now
                let dead = try await jobs.fail(job, reason: "the video could not be converted", diagnostics: "ffmpeg exit 1", retryable: true)
                let row = try await ReelJobsFixture.job(db, reel: reel)
                // The row says how long is left; the time since the failure has already run off it.
                let elapsed = Self.seconds(failedAt.duration(to: .now))
                if attempt < 3 {
                    #expect(!dead && row.state == "queued")
                    #expect(
                        row.dueIn <= expectedDelay + 0.5 && row.dueIn >= expectedDelay - elapsed - 0.5,
                        "attempt \(attempt): due in \(row.dueIn) s, \(elapsed) s after the failure"
                    )
                    #expect(try await jobs.claim(worker: "w") == nil)
                    try await db.withOwner { connection in try await connection.execute("UPDATE reels.jobs SET run_after = now()", []) }
                    expectedDelay *= 2
                } else {
                    #expect(dead && row.state == "dead")
                    #expect(row.lastError == "the video could not be converted: ffmpeg exit 1")
                }
            }
            let state = try await ReelJobsFixture.reelState(db, reel)
            #expect(state.state == "failed" && state.failure == "the video could not be converted" && state.prefix == nil)
            #expect(try await jobs.claim(worker: "w") == nil)
            // A new upload attempt may queue the reel again (no live job is left).
            try await db.withOwner { connection in try await ReelJobs.enqueue(reel: reel, on: connection) }
            #expect(try await ReelJobsFixture.job(db, reel: reel).state == "queued")
        }
    }

    @Test func aNonRetryableErrorIsDeadAtOnce() async throws {
        try await TestDatabase.withDatabase { db in
            let author = try await ReelsFixture.user(db)
            let reel = try await ReelJobsFixture.queuedReel(db, author: author)
            let job = try #require(try await queue(db).claim(worker: "w"))
            #expect(try await queue(db).fail(job, reason: "the file is not a video that can be read", diagnostics: "", retryable: false))
            #expect(try await ReelJobsFixture.reelState(db, reel).failure == "the file is not a video that can be read")
        }
    }

    @Test func aJobWhoseWorkersKeepDyingIsDeadLettered() async throws {
        try await TestDatabase.withDatabase { db in
            let author = try await ReelsFixture.user(db)
            let reel = try await ReelJobsFixture.queuedReel(db, author: author)
            try await db.withOwner { connection in try await connection.execute("UPDATE reels.jobs SET max_attempts = 1", []) }
            let jobs = queue(db, lease: 1)
            _ = try #require(try await jobs.claim(worker: "killed"))
            try await Task.sleep(for: .milliseconds(1300))
            let again = try #require(try await jobs.claim(worker: "next"))
            #expect(again.attempts > again.maxAttempts)
            try await jobs.abandon(again)
            #expect(try await ReelJobsFixture.job(db, reel: reel).state == "dead")
            #expect(try await ReelJobsFixture.reelState(db, reel).state == "failed")
        }
    }

    @Test func releaseQueuesTheJobAgainWithoutCountingTheAttempt() async throws {
        try await TestDatabase.withDatabase { db in
            let author = try await ReelsFixture.user(db)
            let reel = try await ReelJobsFixture.queuedReel(db, author: author)
            let jobs = queue(db)
            let job = try #require(try await jobs.claim(worker: "stopping"))
            try await jobs.release(job)
            let row = try await ReelJobsFixture.job(db, reel: reel)
            #expect(row.state == "queued" && row.attempts == 0 && row.dueIn <= 0)
            let next = try #require(try await jobs.claim(worker: "next"))
            #expect(next.attempts == 1 && next.previousAttemptID == job.attemptID)
        }
    }

    @Test func readyAppliesTheModerationSettings() async throws {
        try await TestDatabase.withDatabase { db in
            let author = try await ReelsFixture.user(db)
            let jobs = queue(db)
            let result = ReelJobResult(renditions: ["720p", "360p"], durationMs: 4000, width: 720, height: 1280)
            try await db.withOwner { connection in
                try await connection.execute("UPDATE reels.moderation_settings SET caption_blocklist = ARRAY['spam']", [])
            }
            let clean = try await ReelJobsFixture.queuedReel(db, author: author, caption: "my car #cars")
            #expect(try await jobs.complete(try #require(try await jobs.claim(worker: "w")), result: result) == "approved")
            let blocked = try await ReelJobsFixture.queuedReel(db, author: author, caption: "buy now #SPAM!")
            #expect(try await jobs.complete(try #require(try await jobs.claim(worker: "w")), result: result) == "pending")
            try await db.withOwner { connection in try await connection.execute("UPDATE reels.moderation_settings SET policy = 'manual'", []) }
            let manual = try await ReelJobsFixture.queuedReel(db, author: author, caption: "fine")
            #expect(try await jobs.complete(try #require(try await jobs.claim(worker: "w")), result: result) == "pending")
            #expect(try await ReelJobsFixture.reelState(db, clean).moderation == "approved")
            #expect(try await ReelJobsFixture.reelState(db, blocked).moderation == "pending")
            #expect(try await ReelJobsFixture.reelState(db, manual).moderation == "pending")
            let visible = try await ReelsFixture.visibleReels(db, try await ReelsFixture.user(db))
            #expect(visible == [clean])
        }
    }

    @Test func moderationWordsAreWholeAndCaseInsensitive() {
        let policy = ModerationPolicy(mode: .auto, blocklist: ["spam"])
        #expect(policy.decide(caption: "SPAM here").moderation == "pending")
        #expect(policy.decide(caption: "#spam").moderation == "pending")
        #expect(policy.decide(caption: "spammer").moderation == "approved")
        #expect(ModerationPolicy(mode: .manual, blocklist: []).decide(caption: "").moderation == "pending")
    }

    @Test func clientRolesCannotReadOrWriteJobs() async throws {
        try await TestDatabase.withDatabase { db in
            let author = try await ReelsFixture.user(db)
            _ = try await ReelJobsFixture.queuedReel(db, author: author)
            await #expect(throws: (any Error).self) {
                try await db.withCaller(author) { connection in try await connection.execute("SELECT * FROM reels.jobs", []) }
            }
            await #expect(throws: (any Error).self) {
                try await db.withCaller(author) { connection in try await connection.execute("UPDATE reels.moderation_settings SET policy = 'auto'", []) }
            }
        }
    }
}
