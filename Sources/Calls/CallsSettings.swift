import Foundation

/// Tunables of the calls service (each an environment variable, see docs/calls.md).
public struct CallsSettings: Sendable {
    /// How long a dropped device's session (rooms, undelivered frames) waits for a resume.
    public var resumeGrace: Duration = .seconds(30)
    /// How long a new connection may take to authenticate (close 4008 after).
    public var authTimeout: Duration = .seconds(10)
    /// The server's ping interval; two silent intervals close the connection.
    public var heartbeatSeconds = 25
    /// How long an emptied room lingers before it closes.
    public var roomLinger: Duration = .seconds(5)
    /// Lifetime of a room's join token.
    public var joinTokenTTLSeconds = 600
    /// Connections one source address may hold on this instance.
    public var maximumConnectionsPerAddress = 20
    /// Peers per room (`sfu` mode); p2p rooms hold at most `maximumP2PPeers`.
    public var maximumRoomPeers = 50
    public var maximumP2PPeers = 8
    /// Largest inbound frame (close 1009 beyond).
    public var maximumFrameBytes = 64 * 1024
    /// Frames kept per device for replay after a resume.
    public var replayBufferFrames = 512
    /// Refuse plain-text connections (close 4003) unless a trusted proxy says https.
    public var requireSecureTransport = false
    public var turn: TurnSettings?
    /// The Janus nodes of group calls; nil: sfu rooms answer `SFU_UNAVAILABLE`.
    public var sfu: SfuSettings?

    public init() {}
}

/// The TURN relay the service hands credentials for (`TURN_URLS`, `TURN_SHARED_SECRET`, `TURN_TTL_SECONDS`).
public struct TurnSettings: Sendable {
    public var urls: [String]
    public var sharedSecret: String
    public var ttlSeconds: Int

    public init(urls: [String], sharedSecret: String, ttlSeconds: Int = 3600) {
        self.urls = urls
        self.sharedSecret = sharedSecret
        self.ttlSeconds = ttlSeconds
    }
}
