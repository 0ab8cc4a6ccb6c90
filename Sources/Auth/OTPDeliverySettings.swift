import Configuration
import Core
import Foundation

/// How one-time codes reach users (`AUTH_SMS_DELIVERY`; docs/configuration.md, "Auth").
public enum OTPDeliverySettings: Sendable, Equatable {
    /// Written to the server log (development).
    case log
    /// POSTed to `AUTH_SMS_WEBHOOK_URL`, signed with `AUTH_SMS_WEBHOOK_SECRET`.
    case webhook(url: String, secret: String)

    /// Reads `AUTH_SMS_DELIVERY` and, for `webhook`, its URL and secret. Each error names the variable.
    public init(reader: ConfigReader) throws {
        let delivery = reader.string(forKey: "auth.sms.delivery", default: "log")
        switch delivery {
        case "log":
            self = .log
        case "webhook":
            guard let url = reader.nonEmptyString("auth.sms.webhook.url"), let parsed = URL(string: url),
                ["http", "https"].contains(parsed.scheme ?? "")
            else {
                throw ConfigurationError("AUTH_SMS_WEBHOOK_URL must be an http(s) URL when AUTH_SMS_DELIVERY=webhook")
            }
            guard let secret = reader.nonEmptyString("auth.sms.webhook.secret", isSecret: true), secret.count >= 16 else {
                throw ConfigurationError("AUTH_SMS_WEBHOOK_SECRET must be at least 16 characters when AUTH_SMS_DELIVERY=webhook")
            }
            self = .webhook(url: url, secret: secret)
        default:
            throw ConfigurationError("AUTH_SMS_DELIVERY must be log or webhook, not '\(delivery)'")
        }
    }
}
