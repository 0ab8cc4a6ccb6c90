/// Limits on what one realtime connection may do.
public struct RealtimeLimits: Sendable {
    /// Channels one socket may have joined at once.
    public var channelsPerSocket = 100
    /// Frames per second one socket may send (sustained; bursts up to twice that).
    public var framesPerSecond = 100
    /// Refused frames after which a socket counts as abusive and is closed.
    public var refusalsBeforeClose = 1_000
    /// Largest text frame accepted, in bytes.
    public var maximumFrameBytes = 256 * 1024
    /// Largest broadcast payload, in bytes.
    public var maximumBroadcastBytes = 64 * 1024
    /// Presence track/untrack events per channel per 30 seconds.
    public var presenceEventsPer30Seconds = 20
    /// Seconds without any frame (heartbeats included) before the socket is closed.
    public var idleTimeoutSeconds = 60
    /// Frames queued for a slow client before it is disconnected.
    public var outboundQueue = 2_000

    public init() {}
}
