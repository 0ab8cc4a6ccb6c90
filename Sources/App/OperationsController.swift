import Core
import Database
import Foundation
import Hummingbird

/// Liveness, readiness and metrics for operators and load balancers.
struct OperationsController {
    let database: Database
    let migrator: Migrator

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("health") { _, _ in
            try JSONBody.response(["status": "ok"])
        }
        router.get("ready") { _, _ in
            guard await database.isReachable() else {
                return try JSONBody.response(["status": "unavailable", "reason": "database unreachable"], status: .serviceUnavailable)
            }
            let pending = (try? await migrator.pending(client: database.client).map(\.name)) ?? ["unknown"]
            guard pending.isEmpty else {
                return try JSONBody.response(
                    ["status": "unavailable", "reason": "migrations pending: \(pending.joined(separator: ", "))"], status: .serviceUnavailable)
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
