import Core
import Database
import Logging
import ServiceLifecycle

/// The arbiter's loop settings.
public struct ArbiterSettings: Sendable {
    public init() {}
}

/// The Reels Arbiter (placeholder until it lands).
public struct ReelsArbiter: Sendable {
    public init(database: Database, settings: ArbiterSettings, logger: Logger) {}

    public var rpcFunctions: [RPCFunction] { [] }
    public var service: any Service { ArbiterLoop() }
}

private struct ArbiterLoop: Service {
    func run() async throws {}
}
