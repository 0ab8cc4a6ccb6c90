/// Limits on what realtime clients may do (docs/realtime.md §11). The `REALTIME_*` settings
/// of docs/configuration.md set the configurable ones.
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
    /// Seconds without any frame (heartbeats included) before the socket is closed
    /// (`REALTIME_IDLE_TIMEOUT_SECONDS`).
    public var idleTimeoutSeconds = 60
    /// Frames queued for a slow client before it is disconnected.
    public var outboundQueue = 2_000
    /// Bytes queued for a slow client before it is disconnected (with `outboundQueue`, the
    /// bound on a client that stops reading).
    public var outboundBytes = 16 * 1024 * 1024
    /// postgres_changes bindings one channel may ask for (`REALTIME_MAX_BINDINGS_PER_CHANNEL`).
    public var bindingsPerChannel = 10
    /// Largest presence meta a client may track, as JSON bytes (`REALTIME_MAX_PRESENCE_META_BYTES`).
    public var presenceMetaBytes = 1_024
    /// Longest `config.presence.key`, in UTF-8 bytes.
    public var presenceKeyBytes = 256
    /// Presences (metas) under one key on one topic (`REALTIME_MAX_PRESENCES_PER_KEY`).
    public var presencesPerKey = 10
    /// Presences (metas) on one topic (`REALTIME_MAX_PRESENCES_PER_TOPIC`).
    public var presencesPerTopic = 1_000
    /// WebSocket connections from one client address at once (`REALTIME_MAX_SOCKETS_PER_ADDRESS`).
    public var socketsPerAddress = 64
    /// Sockets with a channel joined as one user at once (`REALTIME_MAX_SOCKETS_PER_USER`).
    public var socketsPerUser = 16
    /// Topic-name prefixes anyone with an API key may use for broadcast and presence
    /// (`REALTIME_OPEN_TOPICS`); empty: only the owned topics (docs/realtime.md §5).
    public var openTopicPrefixes: [String] = []
    /// Messages in one `POST /realtime/v1/api/broadcast`.
    public var messagesPerBroadcastRequest = 100

    public init() {}
}
