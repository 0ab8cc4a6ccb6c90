import Foundation
import Configuration
import Core

extension AdminSettings {
    /// Reads `ADMIN_SESSION_MINUTES`, `ADMIN_AUDIT_ANCHOR_SECONDS` and `ADMIN_TOTP_ISSUER`
    /// (docs/configuration.md, "Admin console"). Each error names the variable.
    public init(reader: ConfigReader) throws {
        self.init()
        sessionMinutes = try reader.integer("admin.sessionMinutes", variable: "ADMIN_SESSION_MINUTES", default: 30, in: 1...240)
        auditAnchorSeconds = try reader.integer("admin.auditAnchorSeconds", variable: "ADMIN_AUDIT_ANCHOR_SECONDS", default: 3600, in: 0...604_800)
        let configured = reader.string(forKey: "admin.totpIssuer")?.trimmingCharacters(in: .whitespaces) ?? ""
        let issuer = configured.isEmpty ? totpIssuer : configured
        guard (1...40).contains(issuer.count), !issuer.contains(":") else {
            throw ConfigurationError("ADMIN_TOTP_ISSUER must be 1 to 40 characters without ':', not '\(issuer)'")
        }
        totpIssuer = issuer
    }
}
