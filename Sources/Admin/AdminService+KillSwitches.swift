import Core
import Database
import Foundation

/// Kill switches: everyone on the dashboard reads them (scope `dashboard.read`); owners flip
/// them with a reason (scope `kill_switches.write`), audited. The `admin_writes` switch does
/// not stop this: it must be possible to switch it off again.
extension AdminService {
    /// Every switch with its state, reason, who flipped it and when.
    public func killSwitchStates(_ session: AdminSession) async throws -> Data {
        try await require(.dashboardRead, session, action: "admin.kill_switches.read")
        return try await withAdmin(session) { connection in
            try await connection.jsonText(
                """
                SELECT coalesce(json_agg(json_build_object('name', name, 'engaged', engaged, 'reason', reason,
                    'changed_by', changed_by, 'changed_at', changed_at) ORDER BY name), '[]'::json)::text
                FROM admin.kill_switches
                """, []) ?? Data("[]".utf8)
        }
    }

    /// Engages or releases `killSwitch`; every instance honours it within a second.
    public func setKillSwitch(_ session: AdminSession, _ killSwitch: KillSwitch, engaged: Bool, reason: String) async throws {
        let action = engaged ? "admin.kill_switch.engage" : "admin.kill_switch.release"
        try await require(.killSwitchesWrite, session, action: action, target: killSwitch.rawValue)
        let reason = try Self.reason(reason)
        try await withAdminWrite(session, .killSwitchesWrite) { connection in
            try await connection.execute(
                "UPDATE admin.kill_switches SET engaged = $2, reason = $3, changed_by = $4, changed_at = now() WHERE name = $1",
                [killSwitch.rawValue, engaged, reason, session.userID])
            try await AuditLog.append(
                AuditEvent(actor: session.userID, action: action, scope: .killSwitchesWrite, target: killSwitch.rawValue, outcome: .allowed,
                           reason: reason, requestID: session.requestID), on: connection)
        }
    }
}
