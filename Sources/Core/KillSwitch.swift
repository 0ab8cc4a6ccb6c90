/// The features operators can switch off at once (`admin.kill_switches`, docs/admin.md
/// "Kill switches"). The admin module keeps the current state; features ask through
/// ``KillSwitches`` and refuse with ``APIError/switchedOff(_:)``.
public enum KillSwitch: String, CaseIterable, Sendable, Codable {
    case adminWrites = "admin_writes"
    case iamWrites = "iam_writes"
    case signups
    case reelsUploads = "reels_uploads"
    case messageSending = "message_sending"
    case calls

    /// What users are told is off.
    public var feature: String {
        switch self {
        case .adminWrites: "changes in the admin console"
        case .iamWrites: "changes to admins and roles"
        case .signups: "new sign-ups"
        case .reelsUploads: "reel uploads"
        case .messageSending: "sending messages"
        case .calls: "new calls"
        }
    }
}

/// The kill switches' current state, as one instance knows it (at most a second old).
public protocol KillSwitches: Sendable {
    func isEngaged(_ killSwitch: KillSwitch) -> Bool
}

extension KillSwitches {
    /// Throws 503 `kill_switch_engaged` for the first of `switches` that is engaged.
    public func refuseIfEngaged(_ switches: [KillSwitch]) throws {
        for killSwitch in switches where isEngaged(killSwitch) {
            throw APIError.switchedOff(killSwitch)
        }
    }
}

/// No switch is ever engaged: for processes and tests without the admin module.
public struct NoKillSwitches: KillSwitches {
    public init() {}
    public func isEngaged(_ killSwitch: KillSwitch) -> Bool { false }
}

extension APIError {
    /// A feature the operators switched off: 503 `kill_switch_engaged`, naming it.
    public static func switchedOff(_ killSwitch: KillSwitch) -> APIError {
        APIError(
            status: .serviceUnavailable, code: "kill_switch_engaged",
            message: "\(killSwitch.feature): switched off by the operators for now (kill switch \(killSwitch.rawValue))")
    }
}
