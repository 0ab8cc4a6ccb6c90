import Core
import Database
import Logging
import Storage

/// Likes, saves, comments, shares, views and the rest (placeholder until they land).
public struct ReelsInteractions: Sendable {
    public init(database: Database, storage: StorageService, logger: Logger) {}

    public var rpcFunctions: [RPCFunction] { [] }
}
