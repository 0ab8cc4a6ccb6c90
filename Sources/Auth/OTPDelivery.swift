import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Delivers one-time codes to phones.
public protocol OTPSender: Sendable {
    /// Delivers `code` to `phone` (E.164 digits); throws ``OTPDeliveryError`` when it cannot.
    func send(code: String, to phone: String, userID: UUID) async throws
}

/// Delivery failed after every retry.
public struct OTPDeliveryError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Development delivery: the code is written to the server log.
public struct LogOTPSender: OTPSender {
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func send(code: String, to phone: String, userID: UUID) async throws {
        logger.notice("one-time code for +\(phone): \(code)", metadata: ["delivery": "log"])
    }
}

/// Delivery through an HTTP hook, signed as a Standard Webhook (the GoTrue "Send SMS hook").
///
/// Body: `{"user":{"id","phone"},"sms":{"otp","phone"}}`; headers `webhook-id`,
/// `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>` over
/// `<id>.<timestamp>.<body>`. Any 2xx is delivered; 5xx, 429 and network errors are retried
/// with exponential backoff; other 4xx fail at once.
public struct WebhookOTPSender: OTPSender {
    let url: String
    let secret: [UInt8]
    let httpClient: HTTPClient
    let attempts: Int
    let initialBackoff: Duration
    let logger: Logger

    /// - Parameter secret: the signing secret; a `v1,whsec_<base64>` value is decoded as
    ///   GoTrue does, anything else is used as raw bytes.
    public init(url: String, secret: String, httpClient: HTTPClient, attempts: Int = 3, initialBackoff: Duration = .milliseconds(200), logger: Logger) {
        self.url = url
        self.secret = Self.decodeSecret(secret)
        self.httpClient = httpClient
        self.attempts = max(1, attempts)
        self.initialBackoff = initialBackoff
        self.logger = logger
    }

    static func decodeSecret(_ secret: String) -> [UInt8] {
        var text = secret
        if text.hasPrefix("v1,") { text.removeFirst(3) }
        if text.hasPrefix("whsec_"), let data = Data(base64Encoded: String(text.dropFirst(6))) {
            return Array(data)
        }
        return Array(secret.utf8)
    }

    /// The `webhook-signature` value for a message.
    static func signature(id: String, timestamp: Int, body: Data, secret: [UInt8]) -> String {
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: secret))
        return "v1," + Data(mac).base64EncodedString()
    }

    public func send(code: String, to phone: String, userID: UUID) async throws {
        let payload: [String: Any] = [
            "user": ["id": userID.uuidString.lowercased(), "phone": phone],
            "sms": ["otp": code, "phone": phone],
        ]
        let body = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
        let id = "msg_" + UUID().uuidString.lowercased()
        var backoff = initialBackoff
        var lastProblem = ""
        for attempt in 1...attempts {
            let timestamp = Int(Date().timeIntervalSince1970)
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "webhook-id", value: id)
            request.headers.add(name: "webhook-timestamp", value: String(timestamp))
            request.headers.add(name: "webhook-signature", value: Self.signature(id: id, timestamp: timestamp, body: body, secret: secret))
            request.body = .bytes(ByteBuffer(bytes: body))
            do {
                let response = try await httpClient.execute(request, timeout: .seconds(5))
                _ = try? await response.body.collect(upTo: 64 * 1024)
                if (200..<300).contains(response.status.code) { return }
                lastProblem = "hook answered \(response.status.code)"
                if response.status.code < 500 && response.status.code != 429 { break }
            } catch {
                lastProblem = "hook unreachable: \(error)"
            }
            logger.warning("one-time code delivery failed", metadata: ["attempt": "\(attempt)", "problem": "\(lastProblem)"])
            if attempt < attempts {
                try await Task.sleep(for: backoff)
                backoff *= 2
            }
        }
        throw OTPDeliveryError(lastProblem)
    }
}
