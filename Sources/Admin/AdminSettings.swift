/// The admin console's settings (`ADMIN_*`: docs/configuration.md, docs/admin.md).
public struct AdminSettings: Sendable, Equatable {
    /// How long an admin session lasts after its TOTP step (`ADMIN_SESSION_MINUTES`, 1–240,
    /// default 30), shorter than a user's session.
    public var sessionMinutes: Int
    /// The issuer shown in authenticator apps (`ADMIN_TOTP_ISSUER`, default `ECOMANSONI`).
    public var totpIssuer: String
    /// Seconds between the audit chain anchors written to the server log
    /// (`ADMIN_AUDIT_ANCHOR_SECONDS`, default 3600; 0 turns them off).
    public var auditAnchorSeconds: Int

    public init(sessionMinutes: Int = 30, totpIssuer: String = "ECOMANSONI", auditAnchorSeconds: Int = 3600) {
        self.sessionMinutes = sessionMinutes
        self.totpIssuer = totpIssuer
        self.auditAnchorSeconds = auditAnchorSeconds
    }
}
