import Core
import Database
import Foundation
import Logging
import PostgresNIO
import Realtime
import Storage
import Testing
import TestSupport

@testable import Reels

/// The worker end to end on a real database, local storage and real ffmpeg: upload → job →
/// ready with the outputs stored; progress broadcasts; a worker stopped or lost mid-job.
@Suite struct ReelJobsWorkerTests {
    private func worker(_ db: Database, _ storage: StorageService, _ bus: any MessageBus, lease: Int = 30) throws -> ReelsWorker {
        var settings = ReelsWorkerSettings()
        settings.leaseSeconds = lease
        settings.pollSeconds = 1
        return ReelsWorker(
            database: db, storage: storage, bus: bus, settings: settings, logger: ReelJobsFixture.quietLogger,
            transcoder: try ReelJobsFixture.transcoder)
    }

    /// Every object name under `prefix` in reels-media.
    private func stored(_ storage: StorageService, _ prefix: String) async throws -> Set<String> {
        var names: Set<String> = []
        let caller = ReelJobsFixture.service
        for entry in try await storage.list(caller, bucket: "reels-media", prefix: prefix, search: "", limit: 1000, offset: 0, sortColumn: "name", ascending: true) {
            if entry.object != nil {
                names.insert(entry.name)
            } else {
                for inner in try await storage.list(
                    caller, bucket: "reels-media", prefix: prefix + "/" + entry.name, search: "", limit: 1000, offset: 0, sortColumn: "name", ascending: true)
                {
                    names.insert(entry.name + "/" + inner.name)
                }
            }
        }
        return names
    }

    @Test func anUploadedClipBecomesReadyWithItsMediaStoredAndProgressBroadcast() async throws {
        try await TestDatabase.withDatabase { db in
            let storage = try await ReelJobsFixture.storage(db)
            let bus = InProcessMessageBus()
            let events = bus.subscribe()
            let author = try await ReelsFixture.user(db)
            let clip = try ReelJobsFixture.clip(width: 720, height: 1280, seconds: 3)
            let reel = try await ReelJobsFixture.reelWithJob(db, storage, author: author, clip: clip, caption: "hello")
            let running = Task { try await self.worker(db, storage, bus).work() }
            defer { running.cancel() }
            #expect(try await ReelJobsFixture.waitFor(db, reel, state: "ready") == "ready")
            let state = try await ReelJobsFixture.reelState(db, reel)
            #expect(state.moderation == "approved" && state.progress == 100)
            let prefix = try #require(state.prefix)
            #expect(prefix.hasPrefix(reel.uuidString.lowercased() + "/"))
            let names = try await stored(storage, prefix)
            for name in ["master.m3u8", "video.mp4", "poster.jpg", "720p/index.m3u8", "720p/init.mp4", "720p/seg_0.m4s", "540p/seg_1.m4s", "360p/index.m3u8"] {
                #expect(names.contains(name), "\(name) missing from \(names.sorted())")
            }
            let row = try await db.withOwner { connection in
                try await connection.scalarText("SELECT renditions::text || ' ' || duration_ms || ' ' || width || 'x' || height FROM reels.reels WHERE id = $1", [reel])
            }
            #expect(row?.hasPrefix("{720p,540p,360p} ") == true && row?.hasSuffix(" 720x1280") == true)

            var progress: [(String, Int)] = []
            for await event in events {
                guard case .broadcast(let topic, .object(let message), _) = event, case .string("reel_progress")? = message["event"],
                    case .object(let payload)? = message["payload"], case .string(let state)? = payload["state"],
                    case .number(let percent)? = payload["progress"]
                else { continue }
                #expect(topic == "realtime:user:" + (author.userID?.uuidString.lowercased() ?? ""))
                #expect(payload["reel_id"] == .string(reel.uuidString.lowercased()))
                progress.append((state, Int(percent)))
                if state == "ready" { break }
            }
            #expect(progress.first?.0 == "processing" && progress.last?.0 == "ready" && progress.last?.1 == 100)
            #expect(progress.map(\.1) == progress.map(\.1).sorted())
            #expect(progress.count >= 3)
        }
    }

    @Test func aWorkerStoppedMidJobReleasesItAndAnotherFinishesIt() async throws {
        try await TestDatabase.withDatabase { db in
            let storage = try await ReelJobsFixture.storage(db)
            let bus = InProcessMessageBus()
            let author = try await ReelsFixture.user(db)
            let clip = try ReelJobsFixture.clip(width: 1080, height: 1920, seconds: 12)
            let reel = try await ReelJobsFixture.reelWithJob(db, storage, author: author, clip: clip)
            let first = try worker(db, storage, bus)
            let stopped = Task { await first.work() }
            // Mid-job: the first worker holds the lease and ffmpeg has started.
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .seconds(60))
            var attempt: String?
            while clock.now < deadline {
                let progress = try await ReelJobsFixture.reelState(db, reel).progress
                attempt = try await db.withOwner { connection in
                    try await connection.scalarText("SELECT attempt_id::text FROM reels.jobs WHERE reel_id = $1 AND state = 'running' AND worker_id = $2", [reel, first.workerID])
                }
                if attempt != nil && progress > 0 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let firstAttempt = try #require(attempt)
            stopped.cancel()
            await stopped.value
            let released = try await ReelJobsFixture.job(db, reel: reel)
            #expect(released.state == "queued" && released.attempts == 0)

            let second = try worker(db, storage, bus)
            let running = Task { await second.work() }
            defer { running.cancel() }
            #expect(try await ReelJobsFixture.waitFor(db, reel, state: "ready", timeout: .seconds(120)) == "ready")
            let job = try await ReelJobsFixture.job(db, reel: reel)
            #expect(job.state == "done" && job.attempts == 1)
            let prefix = try #require(try await ReelJobsFixture.reelState(db, reel).prefix)
            #expect(!prefix.hasSuffix(firstAttempt))
            #expect(try await stored(storage, reel.uuidString.lowercased() + "/" + firstAttempt).isEmpty)
        }
    }

    @Test func aJobOfAWorkerThatDiedIsTakenOverAfterItsLease() async throws {
        try await TestDatabase.withDatabase { db in
            let storage = try await ReelJobsFixture.storage(db)
            let bus = InProcessMessageBus()
            let author = try await ReelsFixture.user(db)
            let clip = try ReelJobsFixture.clip(width: 640, height: 360, seconds: 2, audio: false)
            let reel = try await ReelJobsFixture.reelWithJob(db, storage, author: author, clip: clip)
            // A worker claims the job and dies (no heartbeat, no release).
            let dead = try #require(try await ReelJobsQueue(database: db, leaseSeconds: 1, retryBaseSeconds: 10).claim(worker: "killed"))
            let survivor = try worker(db, storage, bus, lease: 1)
            let running = Task { await survivor.work() }
            defer { running.cancel() }
            #expect(try await ReelJobsFixture.waitFor(db, reel, state: "ready") == "ready")
            let job = try await ReelJobsFixture.job(db, reel: reel)
            #expect(job.state == "done" && job.attempts == 2)
            #expect(try await ReelJobsFixture.reelState(db, reel).prefix?.hasSuffix(dead.attemptID.uuidString.lowercased()) == false)
        }
    }

    @Test func anIdleWorkerWakesOnNotifyOverAConnectionOfItsOwn() async throws {
        let url = try await TestDatabase.shared.freshDatabase()
        defer { Task { await TestDatabase.shared.drop(url.database) } }
        // A pool of one: a listener holding a pooled connection would leave none for anything else.
        let client = PostgresClient(configuration: try url.clientConfiguration(maximumConnections: 1), backgroundLogger: ReelJobsFixture.quietLogger)
        let pool = Task { await client.run() }
        defer { pool.cancel() }
        // A minute to wait for it: the worker's heartbeats and progress share the one connection
        // on a machine that may be running the whole suite.
        let db = Database(client: client, maximumConnections: 1, acquireTimeout: .seconds(60), logger: ReelJobsFixture.quietLogger)
        // The test's own reads go through a pool of their own, so they never wait on the worker's.
        let observerClient = PostgresClient(configuration: try url.clientConfiguration(maximumConnections: 2), backgroundLogger: ReelJobsFixture.quietLogger)
        let observerPool = Task { await observerClient.run() }
        defer { observerPool.cancel() }
        let observer = Database(client: observerClient, maximumConnections: 2, acquireTimeout: .seconds(60), logger: ReelJobsFixture.quietLogger)
        let storage = try await ReelJobsFixture.storage(db)
        var settings = ReelsWorkerSettings()
        // Polling would take an hour: only the NOTIFY can wake the worker in time.
        settings.pollSeconds = 3600
        settings.listenConfiguration = try url.connectionConfiguration()
        let worker = ReelsWorker(
            database: db, storage: storage, bus: InProcessMessageBus(), settings: settings, logger: ReelJobsFixture.quietLogger,
            transcoder: try ReelJobsFixture.transcoder)
        let running = Task { await worker.work() }
        defer { running.cancel() }
        // Idle: the listener is connected and the pool's one connection is free.
        try await Task.sleep(for: .seconds(1))
        // Read through the worker's pool: a listener holding its one connection would block this.
        let listeners = try await db.withOwner { connection in
            try await connection.scalarText(
                "SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN \"reels_jobs\";'", [])
        }
        #expect(listeners == "1")
        let author = try await ReelsFixture.user(observer)
        let clip = try ReelJobsFixture.clip(width: 640, height: 360, seconds: 1, audio: false)
        let reel = try await ReelJobsFixture.reelWithJob(observer, storage, author: author, clip: clip)
        // Only the NOTIFY can wake the worker this soon: the job is claimed.
        let woken = try await ReelJobsFixture.waitFor(observer, reel, leaving: "uploaded", timeout: .seconds(60))
        #expect(woken != "uploaded", "the worker was not woken by the NOTIFY within 60 s")
        // Transcoding may take minutes on a machine running the whole suite at once.
        let finished = try await ReelJobsFixture.waitFor(observer, reel, state: "ready", timeout: .seconds(300))
        #expect(finished == "ready", "the reel is \(finished)")
    }

    @Test func anOriginalThatIsNotAVideoFailsTheReelWithAReason() async throws {
        try await TestDatabase.withDatabase { db in
            let storage = try await ReelJobsFixture.storage(db)
            let bus = InProcessMessageBus()
            let author = try await ReelsFixture.user(db)
            // A broken MP4: the right first bytes, then nothing a decoder can use.
            let directory = try ReelJobsFixture.temporaryDirectory()
            let broken = URL(fileURLWithPath: directory + "/broken.mp4")
            var bytes: [UInt8] = [0, 0, 0, 0x18] + Array("ftypisom".utf8) + [0, 0, 2, 0] + Array("isomiso2".utf8)
            bytes += [UInt8](repeating: 0x41, count: 4000)
            try Data(bytes).write(to: broken)
            let reel = try await ReelJobsFixture.reelWithJob(db, storage, author: author, clip: broken)
            let running = Task { try await self.worker(db, storage, bus).work() }
            defer { running.cancel() }
            #expect(try await ReelJobsFixture.waitFor(db, reel, state: "failed") == "failed")
            let state = try await ReelJobsFixture.reelState(db, reel)
            #expect(state.failure?.isEmpty == false && state.prefix == nil)
            #expect(try await ReelJobsFixture.job(db, reel: reel).state == "dead")
        }
    }
}
