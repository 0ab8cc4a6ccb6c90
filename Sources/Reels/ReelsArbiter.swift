import Core
import Database
import Foundation
import Logging
import ServiceLifecycle

/// The Reels Arbiter (docs/reels.md, "Arbiter"): the control loop that suppresses the
/// personalised feed while the pipeline is unhealthy, and the operators' view of its state.
public struct ReelsArbiter: Sendable {
    public let database: Database
    public let settings: ArbiterSettings
    public let evaluator: ArbiterEvaluator
    public let logger: Logger

    public init(
        database: Database, settings: ArbiterSettings, clock: any ArbiterClock = SystemArbiterClock(), logger: Logger
    ) {
        self.database = database
        self.settings = settings
        self.evaluator = ArbiterEvaluator(database: database, settings: settings, clock: clock)
        self.logger = logger
    }

    /// `get_reels_arbiter_state` (no arguments; service_role only, anyone else 403 `42501`):
    /// `{"suppressed","since","green_since","updated_at","reason","recent":[the last 20 decisions]}`.
    public var rpcFunctions: [RPCFunction] {
        let database = database
        return [
            RPCFunction("get_reels_arbiter_state", parameters: []) { call in
                let text = try await database.withCaller(call.caller) { connection in
                    try await connection.scalarText("SELECT reels.arbiter_snapshot()::text", [])
                }
                return .json(Data((text ?? "null").utf8))
            }
        ]
    }

    /// The loop the `arbiter` role runs.
    public var service: any Service {
        ArbiterService(evaluator: evaluator, metrics: ArbiterMetrics(), logger: logger)
    }
}
