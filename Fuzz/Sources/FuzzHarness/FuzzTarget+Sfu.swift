@testable import Calls
import Foundation

// MARK: calls-frame, sfu.* requests

extension FuzzTarget {
    /// A calls frame whose type is `sfu.*`: its payload read as the server reads it
    /// (`SfuRequest.parse`, `SfuRequest.epoch`), an offer's SDP checked and rewritten as for
    /// Janus (`SfuWire.publishOfferProblem`, `clientSDP`), and any string read as a
    /// participant's display (`SfuWire.parseDisplay`). Traps unless an accepted request keeps
    /// the rules: at most 60 subscription entries, layers 0–2, mids of 1–32 bytes, at most
    /// 3 published streams.
    static func sfuRequest(_ frame: InboundFrame) {
        _ = try? SfuRequest.epoch(frame.payload)
        for value in frame.payload.values { if let text = value as? String { _ = SfuWire.parseDisplay(text) } }
        guard let request = try? SfuRequest.parse(frame.type, frame.payload) else { return }
        func checkLayers(_ fields: [String: Any]) {
            for key in ["substream", "temporal"] {
                if let layer = fields[key] as? Int, !(0...2).contains(layer) { fatalError("sfu: accepted \(key) \(layer)") }
            }
            if let mid = fields["mid"] as? String, !(1...32).contains(mid.utf8.count) { fatalError("sfu: accepted mid \(mid)") }
        }
        switch request {
        case .publish(let sdp, let descriptions, _):
            guard descriptions.count <= 3 else { fatalError("sfu: accepted \(descriptions.count) published streams") }
            descriptions.forEach(checkLayers)
            _ = SfuWire.publishOfferProblem(sdp)
            _ = SfuWire.clientSDP(sdp)
        case .subscribe(let choices, _), .unsubscribe(let choices):
            guard choices.count <= SfuRequest.maximumStreams else { fatalError("sfu: accepted \(choices.count) streams") }
            choices.map(\.fields).forEach(checkLayers)
        case .receive(let streams):
            guard (1...SfuRequest.maximumStreams).contains(streams.count) else { fatalError("sfu: accepted \(streams.count) streams") }
            streams.forEach(checkLayers)
        case .answer(_, let sdp):
            _ = SfuWire.clientSDP(sdp)
        case .trickle(_, let candidate):
            if let candidate { checkLayers(["mid": candidate["sdpMid"] ?? "m"]) }
        case .unpublish, .restartIce, .mute, .leave:
            break
        }
    }
}
