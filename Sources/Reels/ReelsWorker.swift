import Database
import Foundation
import Logging
import PostgresNIO
import Realtime
import ServiceLifecycle
import Storage

/// The transcoding worker (role `worker`; docs/reels.md "Pipeline"). Each of
/// ``ReelsWorkerSettings/concurrency`` loops claims a due job from `reels.jobs`
/// (``ReelJobsQueue``), holds its lease with heartbeats while it downloads the original,
/// transcodes it (``Transcoder``) and stores the outputs under `<reel id>/<attempt id>/` in
/// `reels-media`, then marks the reel ready in one transaction. Idle loops wake on
/// `NOTIFY reels_jobs` (heard on a connection of its own, ``ReelsWorkerWake``) and poll
/// besides. At graceful shutdown the loops stop claiming, the running ffmpeg is killed and
/// the job is released (queued again at once, the attempt not counted); a worker that dies
/// instead loses its lease and another worker takes the job.
public struct ReelsWorker: Service {
    let queue: ReelJobsQueue
    let media: ReelsWorkerMedia
    let progress: ReelsWorkerProgress
    let transcoder: Transcoder?
    let settings: ReelsWorkerSettings
    let database: Database
    let logger: Logger
    /// Who holds a lease (`host:pid:random`), stored on the job for operators.
    let workerID: String

    public init(database: Database, storage: StorageService, bus: any MessageBus, settings: ReelsWorkerSettings, logger: Logger) {
        self.init(
            database: database, storage: storage, bus: bus, settings: settings, logger: logger,
            transcoder: Transcoder.locate(timeout: .seconds(settings.transcodeTimeoutSeconds)))
    }

    init(database: Database, storage: StorageService, bus: any MessageBus, settings: ReelsWorkerSettings, logger: Logger, transcoder: Transcoder?) {
        self.queue = ReelJobsQueue(database: database, leaseSeconds: settings.leaseSeconds, retryBaseSeconds: settings.retryBaseSeconds)
        self.media = ReelsWorkerMedia(storage: storage)
        self.progress = ReelsWorkerProgress(database: database, bus: bus)
        self.transcoder = transcoder
        self.settings = settings
        self.database = database
        self.logger = logger
        self.workerID = "\(ProcessInfo.processInfo.hostName.prefix(100)):\(ProcessInfo.processInfo.processIdentifier):\(UUID().uuidString.prefix(8).lowercased())"
    }

    public func run() async throws {
        guard transcoder != nil else {
            logger.error("reels worker: ffmpeg/ffprobe not found on PATH; no reel is transcoded until Debian's ffmpeg package is installed")
            try? await gracefulShutdown()
            return
        }
        logger.info("reels worker started", metadata: ["worker": "\(workerID)", "concurrency": "\(settings.concurrency)"])
        await cancelWhenGracefulShutdown { await self.work() }
    }

    /// The listener (when ``ReelsWorkerSettings/listenConfiguration`` is set) and the claim
    /// loops, until the task is cancelled.
    func work() async {
        let wake = ReelsWorkerWake()
        await withTaskGroup(of: Void.self) { group in
            if let configuration = settings.listenConfiguration {
                group.addTask { await wake.listen(configuration: configuration, logger: logger) }
            }
            for _ in 0..<max(1, settings.concurrency) {
                group.addTask { await self.claimLoop(wake) }
            }
            await group.waitForAll()
        }
    }

    private func claimLoop(_ wake: ReelsWorkerWake) async {
        while !Task.isCancelled {
            let job: ClaimedReelJob?
            do {
                job = try await queue.claim(worker: workerID)
            } catch {
                if !Task.isCancelled { logger.warning("reels worker: claim failed", metadata: ["error": "\(error)"]) }
                job = nil
            }
            if let job {
                await process(job)
            } else {
                await wake.wait(upTo: .seconds(settings.pollSeconds))
            }
        }
    }

    /// Runs one claimed job to its end: ready, retry later, dead, released or lost.
    func process(_ job: ClaimedReelJob) async {
        let log = logger.with(reel: job.reelID, attempt: job.attemptID)
        if let previous = job.previousAttemptID {
            // A worker killed on this machine left its download and outputs behind.
            try? FileManager.default.removeItem(atPath: workDirectory(previous))
            await detached { try await media.removeAll(prefix: ClaimedReelJob.prefix(job.reelID, previous)) }
        }
        if job.attempts > job.maxAttempts {
            await detached { try await queue.abandon(job) }
            await progress.publish(author: job.authorID, reel: job.reelID, state: "failed", progress: 0, failureReason: "the video could not be processed")
            return
        }
        await progress.publish(author: job.authorID, reel: job.reelID, state: "processing", progress: 0)
        do {
            let result = try await holdingLease(job) { try await self.transcodeAndStore(job) }
            let moderation = try await queue.complete(job, result: result)
            log.info("reel ready", metadata: ["moderation": "\(moderation)", "attempts": "\(job.attempts)"])
            await progress.publish(author: job.authorID, reel: job.reelID, state: "ready", progress: 100)
        } catch is LostReelJobLease {
            log.warning("reels worker: lease lost; another worker has the job")
            await detached { try await media.removeAll(prefix: job.mediaPrefix) }
        } catch {
            if Task.isCancelled {
                // Shutting down: give the job back now rather than after the lease.
                log.notice("reels worker: stopping; job released")
                await detached { try await queue.release(job) }
                return
            }
            let failure = error as? TranscodeError
                ?? TranscodeError(reason: "the video could not be processed right now", diagnostics: "\(error)", retryable: true)
            await detached { try await media.removeAll(prefix: job.mediaPrefix) }
            let dead = (try? await Task { try await queue.fail(job, reason: failure.reason, diagnostics: failure.diagnostics, retryable: failure.retryable) }.value) ?? false
            log.warning("reels worker: attempt failed", metadata: ["dead": "\(dead)", "error": "\(failure.diagnostics)"])
            await progress.publish(
                author: job.authorID, reel: job.reelID, state: dead ? "failed" : "processing", progress: 0, failureReason: dead ? failure.reason : nil)
        }
    }

    /// Runs `work` while a heartbeat renews the lease; when a heartbeat finds the job gone
    /// (taken over, or the reel deleted) the work is cancelled and ``LostReelJobLease`` thrown.
    private func holdingLease(_ job: ClaimedReelJob, _ work: @Sendable @escaping () async throws -> ReelJobResult) async throws -> ReelJobResult {
        let interval = Duration.milliseconds(max(200, settings.leaseSeconds * 1000 / 3))
        return try await withThrowingTaskGroup(of: ReelJobResult?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                while true {
                    try await Task.sleep(for: interval)
                    do {
                        if try await !queue.heartbeat(job) { throw LostReelJobLease() }
                    } catch is LostReelJobLease {
                        throw LostReelJobLease()
                    } catch {
                        if Task.isCancelled { throw CancellationError() }
                        logger.warning("reels worker: heartbeat failed", metadata: ["error": "\(error)"])
                    }
                }
            }
            defer { group.cancelAll() }
            while let value = try await group.next() {
                if let value { return value }
            }
            throw LostReelJobLease()
        }
    }

    /// Download, transcode, store; progress 0–90 while ffmpeg runs, 90–99 while storing.
    private func transcodeAndStore(_ job: ClaimedReelJob) async throws -> ReelJobResult {
        guard let transcoder else { throw TranscodeError(reason: "the video could not be processed right now", diagnostics: "no ffmpeg", retryable: true) }
        let directory = workDirectory(job.attemptID)
        try FileManager.default.createDirectory(atPath: directory + "/out", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            try await media.download(job.originalPath, to: directory + "/original")
        } catch {
            throw TranscodeError(reason: "the uploaded video could not be read", diagnostics: "download: \(error)", retryable: true)
        }
        let (percents, sink) = AsyncStream<Int>.makeStream(bufferingPolicy: .bufferingNewest(16))
        let reporter = Task {
            var last = 0
            for await percent in percents where percent >= last + 5 || percent >= 99 {
                last = percent
                await progress.store(reel: job.reelID, progress: percent)
                await progress.publish(author: job.authorID, reel: job.reelID, state: "processing", progress: percent)
            }
        }
        defer {
            sink.finish()
            reporter.cancel()
        }
        let output = try await transcoder.transcode(input: directory + "/original", output: directory + "/out") { percent in
            sink.yield(percent * 90 / 100)
        }
        try await media.upload(files: output.files, from: directory + "/out", prefix: job.mediaPrefix) { count in
            sink.yield(90 + 9 * count / max(1, output.files.count))
        }
        // Every processing report is out before the ready one.
        sink.finish()
        await reporter.value
        return ReelJobResult(renditions: output.renditions, durationMs: output.durationMs, width: output.width, height: output.height)
    }

    /// Where `attempt` downloads the original and makes its outputs (removed when it ends).
    func workDirectory(_ attempt: UUID) -> String {
        (settings.workDirectory ?? FileManager.default.temporaryDirectory.path) + "/reels-job-" + attempt.uuidString.lowercased()
    }

    /// Runs bookkeeping that must happen even when the calling task is being cancelled.
    private func detached(_ body: @Sendable @escaping () async throws -> Void) async {
        do {
            try await Task { try await body() }.value
        } catch {
            logger.warning("reels worker: bookkeeping failed", metadata: ["error": "\(error)"])
        }
    }
}

extension Logger {
    fileprivate func with(reel: UUID, attempt: UUID) -> Logger {
        var logger = self
        logger[metadataKey: "reel"] = "\(reel.uuidString.lowercased())"
        logger[metadataKey: "attempt"] = "\(attempt.uuidString.lowercased())"
        return logger
    }
}
