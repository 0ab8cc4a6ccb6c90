import Core
import Database
import Logging

/// The ranked feed and the reels lists (placeholder until they land).
public struct ReelsFeed: Sendable {
    public init(database: Database, logger: Logger) {}

    public var rpcFunctions: [RPCFunction] { [] }
}
