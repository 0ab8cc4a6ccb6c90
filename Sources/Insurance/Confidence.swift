/// How well a tariff value is verified (see the spec): two sources, one source, or
/// recalled from the legal text and awaiting a check.
public enum Confidence: String, Sendable, Codable, Hashable {
    case verifiedTwice = "V2"
    case verifiedOnce = "V1"
    case recalled = "M"
}
