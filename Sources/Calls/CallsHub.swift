import Foundation

/// This instance's device sessions and per-address connection counts.
actor CallsHub {
    private var sessions: [String: DeviceSession] = [:]
    private var byResumeToken: [String: DeviceSession] = [:]
    private var connections: [String: Int] = [:]

    /// Counts a new connection from `address`; false beyond `limit`.
    func connect(_ address: String, limit: Int) -> Bool {
        let count = connections[address, default: 0]
        guard count < limit else { return false }
        connections[address] = count + 1
        return true
    }

    func disconnect(_ address: String) {
        let count = connections[address, default: 1] - 1
        connections[address] = count > 0 ? count : nil
    }

    /// Registers an authenticated session; returns the session it replaces on this instance.
    func register(_ session: DeviceSession) -> DeviceSession? {
        let previous = sessions[session.deviceId]
        if let previous, previous !== session { byResumeToken.removeValue(forKey: previous.resumeToken) }
        sessions[session.deviceId] = session
        byResumeToken[session.resumeToken] = session
        return previous === session ? nil : previous
    }

    func session(for deviceId: String) -> DeviceSession? { sessions[deviceId] }

    /// Every session this instance holds.
    func allSessions() -> [DeviceSession] { Array(sessions.values) }

    func session(resumeToken: String) -> DeviceSession? { byResumeToken[resumeToken] }

    /// Removes `session` if it is still the device's current one; true when it was.
    func remove(_ session: DeviceSession) -> Bool {
        guard sessions[session.deviceId] === session else { return false }
        sessions.removeValue(forKey: session.deviceId)
        byResumeToken.removeValue(forKey: session.resumeToken)
        return true
    }

    func isCurrent(_ session: DeviceSession) -> Bool { sessions[session.deviceId] === session }
}
