import Foundation

/// What one instance tells the others on the bus channel `calls`.
enum CallsRelay: Codable, Sendable {
    /// Send a frame to these devices (wherever they are connected).
    case deliver(devices: [String], type: String, payload: String, from: RelaySender?)
    /// The device authenticated a new session elsewhere: close any other session of it (4009).
    case replace(device: String, session: UUID)
    /// A frame too large for a NOTIFY payload, stored in `calls.relay_payloads`.
    case spilled(UUID)

    static let channel = "calls"
    /// Larger encodings travel by reference.
    static let inlineLimit = 7000
}

/// The stamped sender of a relayed frame.
struct RelaySender: Codable, Sendable {
    var userId: String
    var deviceId: String

    var json: [String: String] { ["userId": userId, "deviceId": deviceId] }
}
