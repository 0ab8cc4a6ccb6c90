import Configuration
import Core
import Foundation

/// The Janus nodes group calls are placed on, and their secrets (docs/sfu.md, "Configuration").
/// Absent when `SFU_NODES` is unset: sfu rooms then answer `SFU_UNAVAILABLE`.
public struct SfuSettings: Sendable {
    /// One Janus node: its id and the private WebSocket address of its API.
    public struct Node: Sendable, Equatable {
        public var id: String
        public var url: String
    }

    public var nodes: [Node]
    /// Janus's `api_secret`, sent with every request.
    public var apiSecret: String
    /// The VideoRoom plugin's `admin_key` (room create, list).
    public var adminKey: String
    /// The key room secrets and participant tokens are derived from (HMAC-SHA256).
    public var roomKey: String
    /// Forwarded video streams a node is registered for.
    public var capacityStreams = 200
    /// Live publishers per room (Janus `publishers`).
    public var maximumPublishers = 12
    /// Video bitrate cap per publisher (REMB), bits/s.
    public var maximumBitrate = 1_000_000
    /// Subscribed m-lines per device.
    public var maximumSubscribedMlines = 60
    /// Health probe interval, and how long a probe may take.
    public var probeInterval: Duration = .seconds(2)
    /// How often each instance compares the nodes' Janus rooms with `calls.sfu_rooms`.
    public var sweepInterval: Duration = .seconds(60)

    public init(nodes: [Node], apiSecret: String, adminKey: String, roomKey: String) {
        self.nodes = nodes
        self.apiSecret = apiSecret
        self.adminKey = adminKey
        self.roomKey = roomKey
    }
}

extension SfuSettings {
    /// `SFU_NODES` (`id=ws://host:port,…`), `SFU_API_SECRET`, `SFU_ADMIN_KEY`, `SFU_ROOM_KEY`
    /// (all four together, or none: nil), `SFU_NODE_CAPACITY_STREAMS`, `SFU_MAX_PUBLISHERS`,
    /// `SFU_MAX_BITRATE`, `SFU_SWEEP_SECONDS`. Each error names the variable and the rule.
    public init?(reader: ConfigReader) throws {
        let entries = reader.list("sfu.nodes")
        let apiSecret = reader.nonEmptyString("sfu.api.secret", isSecret: true)
        let adminKey = reader.nonEmptyString("sfu.admin.key", isSecret: true)
        let roomKey = reader.nonEmptyString("sfu.room.key", isSecret: true)
        if entries.isEmpty, apiSecret == nil, adminKey == nil, roomKey == nil { return nil }
        guard !entries.isEmpty else { throw ConfigurationError("SFU_NODES must list the Janus nodes (id=ws://host:port,…) when SFU_API_SECRET, SFU_ADMIN_KEY or SFU_ROOM_KEY is set") }
        var nodes: [Node] = []
        for entry in entries {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, Self.isNodeId(parts[0]), parts[1].hasPrefix("ws://") || parts[1].hasPrefix("wss://"), URL(string: parts[1])?.host != nil else {
                throw ConfigurationError("SFU_NODES entries must be id=ws://host:port with an id of 1-64 letters, digits, '-' or '_' (not '\(entry)')")
            }
            guard !nodes.contains(where: { $0.id == parts[0] }) else { throw ConfigurationError("SFU_NODES names node '\(parts[0])' twice") }
            nodes.append(Node(id: parts[0], url: parts[1]))
        }
        guard let apiSecret, let adminKey, let roomKey else {
            throw ConfigurationError("SFU_API_SECRET, SFU_ADMIN_KEY and SFU_ROOM_KEY must be set with SFU_NODES")
        }
        guard roomKey.utf8.count >= 32 else { throw ConfigurationError("SFU_ROOM_KEY must be at least 32 bytes") }
        self.init(nodes: nodes, apiSecret: apiSecret, adminKey: adminKey, roomKey: roomKey)
        capacityStreams = try reader.integer("sfu.node.capacity.streams", variable: "SFU_NODE_CAPACITY_STREAMS", default: 200, in: 1...100_000)
        maximumPublishers = try reader.integer("sfu.max.publishers", variable: "SFU_MAX_PUBLISHERS", default: 12, in: 1...100)
        maximumBitrate = try reader.integer("sfu.max.bitrate", variable: "SFU_MAX_BITRATE", default: 1_000_000, in: 64_000...10_000_000)
        sweepInterval = try reader.seconds("sfu.sweep.seconds", variable: "SFU_SWEEP_SECONDS", default: 60, in: 1...3600)
    }

    static func isNodeId(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count) && text.utf8.allSatisfy { $0.isASCIILetterOrDigit || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }
}

extension UInt8 {
    fileprivate var isASCIILetterOrDigit: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
