import Core
import Database
import Hummingbird
import Logging
import Realtime
import ServiceLifecycle
import Storage

/// The reels feature as the composition root sees it: its RPCs, its HTTP routes and its
/// background services (the transcoding worker and the arbiter), built from the four parts
/// that own the reels tables — uploads and the pipeline, interactions, the feed, the arbiter.
public struct ReelsModule: Sendable {
    public let uploads: ReelsUploads
    public let interactions: ReelsInteractions
    public let feed: ReelsFeed
    public let arbiter: ReelsArbiter
    /// The transcoding worker (role `worker`).
    public let worker: ReelsWorker
    /// The moderators' queues and decisions (the admin console's seam).
    public let moderation: ReelsModeration

    public init(
        database: Database, storage: StorageService, bus: any MessageBus, settings: ReelsSettings, logger: Logger,
        killSwitches: any KillSwitches = NoKillSwitches(), buckets: (any TokenBucketStore)? = nil
    ) {
        uploads = ReelsUploads(database: database, storage: storage, logger: logger, killSwitches: killSwitches)
        interactions = ReelsInteractions(database: database, storage: storage, logger: logger)
        feed = ReelsFeed(database: database, limits: settings.feed, buckets: buckets, logger: logger)
        arbiter = ReelsArbiter(database: database, settings: settings.arbiter, logger: logger)
        worker = ReelsWorker(database: database, storage: storage, bus: bus, settings: settings.worker, logger: logger)
        moderation = ReelsModeration(database: database)
    }

    /// Every reels RPC (`POST /rest/v1/rpc/<name>`).
    public var rpcFunctions: [RPCFunction] {
        uploads.rpcFunctions + interactions.rpcFunctions + feed.rpcFunctions + arbiter.rpcFunctions
    }

    /// The reels' own HTTP routes (the media of the reels a caller may watch).
    public func addRoutes(to router: Router<AppRequestContext>) {
        uploads.addRoutes(to: router)
    }

    /// The background services for the roles this process runs.
    public func services(worker runsWorker: Bool, arbiter runsArbiter: Bool) -> [any Service] {
        (runsWorker ? [worker] : []) + (runsArbiter ? [arbiter.service] : [])
    }
}
