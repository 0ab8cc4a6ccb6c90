import Admin
import Core
import Foundation

// MARK: admin-requests

extension FuzzTarget {
    /// Each line as an admin console request: a query string for the audit browser
    /// (`AuditQuery.parse`), a `POST /admin/v1/session` body (`{"code"}`) and the code in it
    /// (`TOTP.matchingStep`, `RecoveryCode.hash`). Traps unless an accepted audit query's limit
    /// is 1–200 and its `before` positive, and a recovery code hashes the same however it is
    /// spaced or cased. Each line is also a moderation decision body (`{"decision","reason"}`:
    /// `ContentDecision`, `ReelDecision`, `AdminService.reason`) and a user's report
    /// (`{"reason","details"}`: `ContentReport`, as `report_message` and `report_profile` take
    /// it); traps unless an accepted reason is 1–500 characters without U+0000 and accepted
    /// details are 1–1000 characters, trimmed, without U+0000.
    static func adminRequests(_ data: Data, _ text: String) {
        struct SessionBody: Decodable { var code: String }
        struct DecisionBody: Decodable { var decision: String; var reason: String }
        struct ReportBody: Decodable { var reason: String; var details: String? }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(16) {
            var parameters: [String: String] = [:]
            for pair in line.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                parameters[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            if let query = try? AuditQuery.parse(parameters) {
                guard (1...AuditQuery.maximumLimit).contains(query.limit), query.before.map({ $0 > 0 }) ?? true else {
                    fatalError("admin-requests: accepted audit query \(line)")
                }
            }
            let code = (try? JSONBody.decode(SessionBody.self, from: Data(line.utf8)))?.code ?? String(line)
            _ = TOTP.matchingStep(code, secret: adminSecret, at: Date(timeIntervalSince1970: 1_111_111_111))
            if let hash = RecoveryCode.hash(code), RecoveryCode.hash(code.lowercased().replacingOccurrences(of: "-", with: "")) != hash {
                fatalError("admin-requests: recovery code \(code) hashes differently when respaced")
            }
            if let body = try? JSONBody.decode(DecisionBody.self, from: Data(line.utf8)) {
                _ = ContentDecision(rawValue: body.decision)
                _ = AdminService.ReelDecision(rawValue: body.decision)
                if let reason = try? AdminService.reason(body.reason),
                    !(1...500).contains(reason.unicodeScalars.count) || reason.unicodeScalars.contains("\u{0}")
                {
                    fatalError("admin-requests: accepted reason \(reason.debugDescription)")
                }
            }
            if let body = try? JSONBody.decode(ReportBody.self, from: Data(line.utf8)), let report = try? ContentReport(reason: body.reason, details: body.details),
                let details = report.details,
                !(1...ContentReport.maximumDetailsLength).contains(details.unicodeScalars.count) || details.unicodeScalars.contains("\u{0}")
                    || details != details.trimmingCharacters(in: .whitespacesAndNewlines)
            {
                fatalError("admin-requests: accepted report details \(details.debugDescription)")
            }
        }
    }

    private static let adminSecret = Array("12345678901234567890".utf8)
}
