import Core
import Database
import Hummingbird
import Logging
import Realtime
import ServiceLifecycle
import Storage

/// Reel creation from an uploaded original and the transcoding pipeline (placeholder until
/// the pipeline lands).
public struct ReelsUploads: Sendable {
    public init(database: Database, storage: StorageService, bus: any MessageBus, settings: ReelsSettings, logger: Logger) {}

    public var rpcFunctions: [RPCFunction] { [] }
    public var workerServices: [any Service] { [] }
    public func addRoutes(to router: Router<AppRequestContext>) {}
}
