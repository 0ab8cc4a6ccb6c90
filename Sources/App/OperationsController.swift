import Core
import Database
import Foundation
import Hummingbird
import Realtime

/// Liveness, readiness and metrics for operators and load balancers.
struct OperationsController {
    let database: Database
    let migrator: Migrator
    let bus: any MessageBus

    /// Why the instance cannot serve, or nil when it can. A shared bus that has not subscribed
    /// yet would miss what other instances publish, so the instance is not ready until it has;
    /// a later outage of the bus keeps it ready (clients catch up by seq).
    func readinessProblem() async -> String? {
        guard bus.hasSubscribed else { return "message bus not subscribed yet" }
        guard await database.isReachable() else { return "database unreachable" }
        guard let pending = try? await migrator.pending(client: database.client) else { return "cannot read the migration state" }
        return pending.isEmpty ? nil : "migrations pending: \(pending.map(\.name).joined(separator: ", "))"
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("health") { _, _ in
            try JSONBody.response(["status": "ok"])
        }
        router.get("ready") { _, _ in
            let problem = await withTaskGroup(of: String?.self) { group in
                group.addTask { await readinessProblem() }
                group.addTask {
                    try? await Task.sleep(for: .seconds(2))
                    return "database did not answer within 2 seconds"
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
            if let problem {
                return try JSONBody.response(["status": "unavailable", "reason": problem], status: .serviceUnavailable)
            }
            return try JSONBody.response(["status": "ready"])
        }
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: AppMetrics.registry.emitToBuffer())))
        }
    }
}
