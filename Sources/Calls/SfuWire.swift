import Core
import Crypto
import Foundation

/// What calls-ws derives and rewrites between clients and Janus (spec sfu-janus.md §3.1, §4.1,
/// §6): room secrets and participant tokens, the participant's `display`, client Feeds and
/// Streams built from Janus's publisher lists, and SDP with nothing Janus-specific in it.
enum SfuWire {
    /// `K = b64url(HMAC-SHA256(key, "room|<roomId>|<epoch>"))`.
    static func roomSecret(key: String, room: UUID, epoch: Int) -> String {
        mac(key, "room|\(room.uuidString.lowercased())|\(epoch)")
    }

    /// `T = b64url(HMAC-SHA256(key, "tok|<roomId>|<epoch>|<deviceId>|<janusFeedId>"))`.
    static func participantToken(key: String, room: UUID, epoch: Int, device: String, janusFeed: Int64) -> String {
        mac(key, "tok|\(room.uuidString.lowercased())|\(epoch)|\(device)|\(janusFeed)")
    }

    private static func mac(_ key: String, _ message: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: Data(key.utf8)))
        return Base64URL.encode(code)
    }

    /// A Janus room's `description`: the room and the epoch it was made for (`"<roomId> <epoch>"`),
    /// so the sweeper can derive the secret of a room no placement names any more.
    static func roomDescription(room: UUID, epoch: Int) -> String { "\(room.uuidString.lowercased()) \(epoch)" }

    /// The room and epoch of a description this service wrote; nil for anything else.
    static func parseRoomDescription(_ text: String?) -> (room: UUID, epoch: Int)? {
        guard let parts = text?.split(separator: " "), parts.count == 2, let room = UUID(uuidString: String(parts[0])),
            let epoch = Int(parts[1]), epoch >= 1
        else { return nil }
        return (room, epoch)
    }

    /// The participant's Janus `display`: compact JSON `{"u":userId,"d":deviceId,"f":feedId}`.
    static func display(user: UUID, device: String, feed: UUID) -> String {
        JSONText.encode(["u": user.uuidString.lowercased(), "d": device, "f": feed.uuidString.lowercased()])
    }

    /// The ids in a `display` this service wrote; nil for anything else.
    static func parseDisplay(_ text: String?) -> (user: String, device: String, feed: UUID)? {
        guard let text, let data = text.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let user = object["u"] as? String, let device = object["d"] as? String,
            let feedText = object["f"] as? String, let feed = UUID(uuidString: feedText)
        else { return nil }
        return (user, device, feed)
    }

    /// Janus's SDP with its session line (`s=VideoRoom <room>`) replaced by `s=-`.
    static func clientSDP(_ sdp: String) -> String {
        var lines = sdp.components(separatedBy: "\r\n")
        for index in lines.indices where lines[index].hasPrefix("s=") { lines[index] = "s=-" }
        return lines.joined(separator: "\r\n")
    }

    /// The m-lines of an SDP, by kind.
    static func mediaLines(_ sdp: String) -> [String] {
        sdp.split(whereSeparator: \.isNewline).compactMap { line in
            guard line.hasPrefix("m=") else { return nil }
            return String(line.dropFirst(2).prefix(while: { $0 != " " }))
        }
    }

    /// Why a publisher offer is refused before it reaches Janus (nil when acceptable):
    /// an SDP with at most one audio and two video m-lines (§5).
    static func publishOfferProblem(_ sdp: String) -> String? {
        guard sdp.hasPrefix("v=0") else { return "sdp: not a session description (must start with v=0)" }
        let media = mediaLines(sdp)
        guard !media.isEmpty else { return "sdp: has no m-line" }
        if media.filter({ $0 == "audio" }).count > 1 { return "sdp: at most 1 audio m-line may be published" }
        if media.filter({ $0 == "video" }).count > 2 { return "sdp: at most 2 video m-lines may be published" }
        return nil
    }
}

/// A publisher as clients see it: `{feedId, userId, deviceId, streams:[Stream]}`.
struct SfuFeed: Sendable {
    var janusId: Int64
    var feedId: UUID
    var userId: String
    var deviceId: String
    /// `{mid, kind, source, codec, simulcast}` per published stream (mute added when sent).
    var streams: [SfuStream]

    init(janusId: Int64, feedId: UUID, userId: String, deviceId: String, streams: [SfuStream]) {
        self.janusId = janusId
        self.feedId = feedId
        self.userId = userId
        self.deviceId = deviceId
        self.streams = streams
    }

    /// A feed from one entry of Janus's `publishers` list, or nil when its display is not ours.
    init?(janus entry: [String: Any]) {
        guard let id = JanusMessage.id(entry["id"]), let display = SfuWire.parseDisplay(entry["display"] as? String) else { return nil }
        janusId = id
        feedId = display.feed
        userId = display.user
        deviceId = display.device
        streams = (entry["streams"] as? [[String: Any]] ?? []).compactMap(SfuStream.init(janus:))
    }

    func json(roomMutes muted: SfuMuteState) -> [String: Any] {
        ["feedId": feedId.uuidString.lowercased(), "userId": userId, "deviceId": deviceId, "streams": streams.map { $0.json(muted: muted) }]
    }

    func reference(reason: String) -> [String: Any] {
        ["feedId": feedId.uuidString.lowercased(), "userId": userId, "deviceId": deviceId, "reason": reason]
    }
}

/// One published stream: `{mid, kind, source, codec, simulcast, muted}` (kept as JSON in its
/// participant's row, for an instance that takes the participant over).
struct SfuStream: Sendable, Codable {
    var mid: String
    var kind: String
    var source: String
    var codec: String
    var simulcast: Bool

    init?(janus entry: [String: Any]) {
        guard let mid = entry["mid"] as? String, let type = entry["type"] as? String, type == "audio" || type == "video" else { return nil }
        if let disabled = entry["disabled"] as? Bool, disabled { return nil }
        self.mid = mid
        kind = type
        let description = entry["description"] as? String
        source = ["mic", "camera", "screen"].contains(description ?? "") ? description ?? "" : (type == "audio" ? "mic" : "camera")
        codec = entry["codec"] as? String ?? ""
        simulcast = entry["simulcast"] as? Bool ?? false
    }

    func json(muted: SfuMuteState) -> [String: Any] {
        ["mid": mid, "kind": kind, "source": source, "codec": codec, "simulcast": simulcast, "muted": kind == "audio" ? muted.audio : muted.video]
    }
}

/// A list of JSON objects moved between tasks (immutable after creation), like ``JSONObject``.
struct JSONList: @unchecked Sendable {
    let value: [[String: Any]]
    init(_ value: [[String: Any]]) { self.value = value }
}
