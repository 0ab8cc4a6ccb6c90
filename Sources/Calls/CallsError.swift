/// A request the service refuses: an error code of the protocol, a message, whether the
/// client may retry, and details (e.g. `retryAfterMs`).
public struct CallsError: Error, Sendable {
    public enum Code: String, Sendable {
        case unauthenticated = "UNAUTHENTICATED"
        case unauthorized = "UNAUTHORIZED"
        case validationFailed = "VALIDATION_FAILED"
        case rateLimited = "RATE_LIMITED"
        case seqOutOfOrder = "SEQ_OUT_OF_ORDER"
        case roomNotFound = "ROOM_NOT_FOUND"
        case roomFull = "ROOM_FULL"
        case roomClosed = "ROOM_CLOSED"
        case peerNotFound = "PEER_NOT_FOUND"
        case sfuUnavailable = "SFU_UNAVAILABLE"
        case sfuEpochMismatch = "SFU_EPOCH_MISMATCH"
        case sfuNegotiationFailed = "SFU_NEGOTIATION_FAILED"
        case feedNotFound = "FEED_NOT_FOUND"
        case publishersFull = "PUBLISHERS_FULL"
        case `internal` = "INTERNAL"

        var retryable: Bool {
            switch self {
            case .rateLimited, .sfuUnavailable, .publishersFull, .internal: return true
            default: return false
            }
        }
    }

    public let code: Code
    public let message: String
    public var details: [String: Int] = [:]
    /// Details that are lists of ids (`feedIds`).
    public var lists: [String: [String]] = [:]
    /// `details.reason` (e.g. `stale_offer`).
    public var reason: String?

    public init(_ code: Code, _ message: String, details: [String: Int] = [:], lists: [String: [String]] = [:], reasonText: String? = nil) {
        self.code = code
        self.message = message
        self.details = details
        self.lists = lists
        self.reason = reasonText
    }

    var json: [String: Any] {
        var all: [String: Any] = details
        for (key, value) in lists { all[key] = value }
        if let reason { all["reason"] = reason }
        return ["code": code.rawValue, "message": message, "retryable": code.retryable, "details": all]
    }
}

/// WebSocket close codes of the protocol.
enum CallsCloseCode: UInt16 {
    case tokenExpired = 4001
    case secureTransportRequired = 4003
    case authTimeout = 4008
    case deviceReplaced = 4009
    case rateLimited = 4029
    case idle = 4000
}
