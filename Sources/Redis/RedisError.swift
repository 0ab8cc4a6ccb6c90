/// An error from a Redis command: the server's error reply, or a failure of the connection.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Hashable {
        /// The server answered with an error reply (`-WRONGTYPE …`); `message` is that reply.
        case server
        /// No reply came within the command timeout (or no connection became free in time).
        case timeout
        /// The connection was closed or could not be opened (including while reconnects back off).
        case connectionClosed
        /// The server sent bytes that are not valid RESP or break the decoding limits, or an unexpected reply.
        case protocolViolation
        /// The server refused the credentials (or wanted some and the configuration has none).
        case authenticationFailed
    }

    /// What went wrong.
    public let kind: Kind
    /// The server's error reply for `.server`, otherwise an explanation naming the target.
    public let message: String

    /// An error of the given kind.
    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    /// A server error reply.
    public static func server(_ message: String) -> RedisError { RedisError(kind: .server, message: message) }
    /// A timeout.
    public static func timeout(_ message: String) -> RedisError { RedisError(kind: .timeout, message: message) }
    /// A closed or unopenable connection.
    public static func connectionClosed(_ message: String) -> RedisError { RedisError(kind: .connectionClosed, message: message) }
    /// Invalid bytes or an unexpected reply from the server.
    public static func protocolViolation(_ message: String) -> RedisError { RedisError(kind: .protocolViolation, message: message) }

    /// The first word of a server error reply (`WRONGTYPE`, `NOSCRIPT`, `ERR`, …); nil for other kinds.
    public var code: String? {
        guard self.kind == .server else { return nil }
        return self.message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    /// The message, prefixed by the kind for anything but a server reply.
    public var description: String {
        switch self.kind {
        case .server: "Redis error: \(self.message)"
        case .timeout: "Redis timeout: \(self.message)"
        case .connectionClosed: "Redis connection closed: \(self.message)"
        case .protocolViolation: "Redis protocol violation: \(self.message)"
        case .authenticationFailed: "Redis authentication failed: \(self.message)"
        }
    }
}
