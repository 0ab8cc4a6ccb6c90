import Foundation

/// An `sfu.*` request read from its payload (spec sfu-janus.md §2.2), before any state is
/// looked at: each refusal names the field and the rule. Feed ids stay client ids here; the
/// device's participant maps them to Janus's.
enum SfuRequest {
    /// One stream of a subscription: the feed, and the Janus stream fields (`mid`, `substream`, `temporal`).
    struct Choice {
        var feedId: UUID
        var fields: [String: Any]
    }

    case publish(sdp: String, descriptions: [[String: Any]], muted: SfuMuteState?)
    case unpublish
    case subscribe([Choice], all: Bool)
    case unsubscribe([Choice])
    case answer(offerId: Int, sdp: String)
    case trickle(pc: String, candidate: [String: Any]?)
    case restartIce
    case mute(kind: String, muted: Bool)
    case receive([[String: Any]])
    case leave

    /// Subscription entries per request (the device's total is checked against its m-line limit).
    static let maximumStreams = 60

    /// The request, or the `CallsError` naming the field that breaks its rule.
    static func parse(_ type: String, _ payload: [String: Any]) throws -> SfuRequest {
        switch type {
        case "sfu.publish":
            var muted: SfuMuteState?
            if let value = payload["muted"], !(value is NSNull) {
                guard let flags = value as? [String: Any] else { throw CallsError(.validationFailed, "muted: must be {audio, video}") }
                muted = SfuMuteState(audio: try flag(flags["audio"], "muted.audio") ?? false, video: try flag(flags["video"], "muted.video") ?? false)
            }
            return .publish(sdp: try sdp(payload), descriptions: try publishDescriptions(payload["streams"]), muted: muted)
        case "sfu.unpublish":
            return .unpublish
        case "sfu.subscribe":
            let all = try flag(payload["all"], "all") ?? false
            let streams = try choices(payload["streams"], layers: true)
            guard all || !streams.isEmpty else { throw CallsError(.validationFailed, "streams: list at least one feed, or set all:true") }
            return .subscribe(streams, all: all)
        case "sfu.unsubscribe":
            let streams = try choices(payload["streams"], layers: false)
            guard !streams.isEmpty else { throw CallsError(.validationFailed, "streams: list at least one feed") }
            return .unsubscribe(streams)
        case "sfu.answer":
            guard let offerId = integer(payload["offerId"]) else { throw CallsError(.validationFailed, "offerId: must be an integer") }
            return .answer(offerId: offerId, sdp: try sdp(payload))
        case "sfu.trickle":
            guard let pc = payload["pc"] as? String, pc == "pub" || pc == "sub" else { throw CallsError(.validationFailed, "pc: must be pub or sub") }
            return .trickle(pc: pc, candidate: try candidate(payload["candidate"]))
        case "sfu.restartIce":
            guard payload["pc"] as? String == "sub" else {
                throw CallsError(.validationFailed, "pc: must be sub (a publisher restarts ICE with a new sfu.publish)")
            }
            return .restartIce
        case "sfu.mute":
            guard let kind = payload["kind"] as? String, kind == "audio" || kind == "video" else {
                throw CallsError(.validationFailed, "kind: must be audio or video")
            }
            guard let muted = try flag(payload["muted"], "muted") else { throw CallsError(.validationFailed, "muted: must be true or false") }
            return .mute(kind: kind, muted: muted)
        case "sfu.receive":
            return .receive(try receiveStreams(payload["streams"]))
        case "sfu.leave":
            return .leave
        default:
            throw CallsError(.validationFailed, "type: unknown frame type \(type)")
        }
    }

    /// `epoch`, if the request carries one.
    static func epoch(_ payload: [String: Any]) throws -> Int? {
        guard let value = payload["epoch"], !(value is NSNull) else { return nil }
        guard let epoch = integer(value) else { throw CallsError(.validationFailed, "epoch: must be an integer") }
        return epoch
    }

    // MARK: Field rules

    private static func sdp(_ payload: [String: Any]) throws -> String {
        guard let sdp = payload["sdp"] as? String, !sdp.isEmpty else { throw CallsError(.validationFailed, "sdp: must be a session description") }
        guard sdp.hasPrefix("v=0") else { throw CallsError(.sfuNegotiationFailed, "sdp: not a session description (must start with v=0)") }
        return sdp
    }

    private static func flag(_ value: Any?, _ field: String) throws -> Bool? {
        guard let value, !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, String(cString: number.objCType) == "c" else {
            throw CallsError(.validationFailed, "\(field): must be true or false")
        }
        return number.boolValue
    }

    private static func mid(_ value: Any?, _ field: String) throws -> String {
        guard let mid = value as? String, (1...32).contains(mid.utf8.count) else { throw CallsError(.validationFailed, "\(field): must be a mid (1-32 bytes)") }
        return mid
    }

    private static func layers(_ entry: [String: Any], into stream: inout [String: Any], field: String) throws {
        for key in ["substream", "temporal"] {
            guard let layer = entry[key], !(layer is NSNull) else { continue }
            guard let number = integer(layer), (0...2).contains(number) else { throw CallsError(.validationFailed, "\(field).\(key): must be 0, 1 or 2") }
            stream[key] = number
        }
    }

    /// `streams:[{mid, source}]` of `sfu.publish` → Janus `descriptions`.
    private static func publishDescriptions(_ value: Any?) throws -> [[String: Any]] {
        guard let value, !(value is NSNull) else { return [] }
        guard let list = value as? [Any], list.count <= 3 else { throw CallsError(.validationFailed, "streams: must be a list of at most 3 {mid, source}") }
        return try list.enumerated().map { index, item in
            guard let entry = item as? [String: Any] else { throw CallsError(.validationFailed, "streams[\(index)]: must be {mid, source}") }
            let mid = try mid(entry["mid"], "streams[\(index)].mid")
            let source = entry["source"] as? String ?? ""
            guard source.isEmpty || ["mic", "camera", "screen"].contains(source) else {
                throw CallsError(.validationFailed, "streams[\(index)].source: must be mic, camera or screen")
            }
            return source.isEmpty ? ["mid": mid] : ["mid": mid, "description": source]
        }
    }

    /// `streams:[{feedId, mid?, substream?, temporal?}]`.
    private static func choices(_ value: Any?, layers withLayers: Bool) throws -> [Choice] {
        guard let value, !(value is NSNull) else { return [] }
        guard let list = value as? [Any], list.count <= maximumStreams else {
            throw CallsError(.validationFailed, "streams: must be a list of at most \(maximumStreams) streams")
        }
        return try list.enumerated().map { index, item in
            guard let entry = item as? [String: Any], let text = entry["feedId"] as? String, let feedId = UUID(uuidString: text) else {
                throw CallsError(.validationFailed, "streams[\(index)].feedId: must be a feed id")
            }
            var fields: [String: Any] = [:]
            if let value = entry["mid"], !(value is NSNull) { fields["mid"] = try mid(value, "streams[\(index)].mid") }
            if withLayers { try layers(entry, into: &fields, field: "streams[\(index)]") }
            return Choice(feedId: feedId, fields: fields)
        }
    }

    /// `streams:[{mid, send?, substream?, temporal?}]` of `sfu.receive`.
    private static func receiveStreams(_ value: Any?) throws -> [[String: Any]] {
        guard let list = value as? [Any], (1...maximumStreams).contains(list.count) else {
            throw CallsError(.validationFailed, "streams: must be a list of 1 to \(maximumStreams) {mid, …}")
        }
        return try list.enumerated().map { index, item in
            guard let entry = item as? [String: Any] else { throw CallsError(.validationFailed, "streams[\(index)]: must be {mid, send?, substream?, temporal?}") }
            var stream: [String: Any] = ["mid": try mid(entry["mid"], "streams[\(index)].mid")]
            if let send = try flag(entry["send"], "streams[\(index)].send") { stream["send"] = send }
            try layers(entry, into: &stream, field: "streams[\(index)]")
            return stream
        }
    }

    /// `candidate:{candidate, sdpMid, sdpMLineIndex}` or null (end of gathering).
    private static func candidate(_ value: Any?) throws -> [String: Any]? {
        guard let value, !(value is NSNull) else { return nil }
        guard let object = value as? [String: Any], let text = object["candidate"] as? String, text.utf8.count <= 1024 else {
            throw CallsError(.validationFailed, "candidate: must be {candidate, sdpMid, sdpMLineIndex} (candidate at most 1024 bytes) or null")
        }
        var candidate: [String: Any] = ["candidate": text]
        if let mid = object["sdpMid"], !(mid is NSNull) { candidate["sdpMid"] = try self.mid(mid, "candidate.sdpMid") }
        if let index = object["sdpMLineIndex"], !(index is NSNull) {
            guard let number = integer(index), (0...127).contains(number) else { throw CallsError(.validationFailed, "candidate.sdpMLineIndex: must be 0 to 127") }
            candidate["sdpMLineIndex"] = number
        }
        return candidate
    }
}
