import NIOHTTP1
@testable import Realtime

// MARK: realtime-upgrade

extension FuzzTarget {
    /// A request head as the realtime upgrade check reads it (`RealtimeController.check`): the
    /// first line is the method and request target, each further line a `Name: value` header;
    /// the only API key is `key` and the proxy is trusted. Traps unless an accepted socket asks
    /// for the endpoint's path with the key `key`, counts its client by the peer or by an
    /// `X-Forwarded-For` entry of 1–64 characters, and a refusal names a rule.
    static func realtimeUpgrade(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).prefix(64)
        guard let first = lines.first else { return }
        let request = first.split(separator: " ", maxSplits: 1)
        guard request.count == 2 else { return }
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            // Only names HTTP's parser passes on: visible ASCII (NIO's HTTPHeaders traps on others).
            guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.allSatisfy({ (33...126).contains($0) }) else { continue }
            headers.add(name: String(parts[0]), value: String(parts[1].drop { $0 == " " }))
        }
        let head = HTTPRequestHead(
            version: .http1_1, method: HTTPMethod(rawValue: String(request[0])), uri: String(request[1]), headers: headers)
        switch RealtimeController.check(head, peer: "10.0.0.1", isAPIKey: { $0 == "key" }, trustProxy: true) {
        case .socket(let socket):
            guard socket.token == "key", request[1].hasPrefix(RealtimeController.path),
                socket.address == "10.0.0.1" || (1...64).contains(socket.address.count)
            else { fatalError("realtime-upgrade: accepted \(text)") }
        case .refused(let rule):
            guard !rule.isEmpty else { fatalError("realtime-upgrade: a refusal without a rule for \(text)") }
        case .other:
            break
        }
    }
}
