/// What an admin may do, granted through roles (`admin.role_scopes`, migration 0027). The
/// service checks the scope before it acts; the database's policies check it again.
public enum AdminScope: String, Sendable, CaseIterable, Codable {
    case dashboardRead = "dashboard.read"
    case iamRead = "iam.read"
    case iamWrite = "iam.write"
    case auditRead = "audit.read"
    case approvalsDecide = "approvals.decide"
    case jitRequest = "jit.request"
    case verification
    case moderationContent = "moderation.content"
    case moderationReels = "moderation.reels"
    case moderationHashtags = "moderation.hashtags"
    case usersLookup = "users.lookup"
    case killSwitchesWrite = "kill_switches.write"
}

/// The admin roles of the spec; each maps to a fixed set of scopes.
public enum AdminRole: String, Sendable, CaseIterable, Codable {
    case owner
    case securityAdmin = "security_admin"
    case moderator
    case support
    case readonlyAuditor = "readonly_auditor"
}
