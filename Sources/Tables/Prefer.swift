import Foundation

/// The `Prefer` header of a table request (RFC 7240, PostgREST's preferences).
public struct Prefer: Sendable, Equatable {
    public enum Return: String, Sendable { case minimal, headersOnly = "headers-only", representation }
    public enum Count: String, Sendable { case exact, planned, estimated }
    public enum Resolution: String, Sendable { case mergeDuplicates = "merge-duplicates", ignoreDuplicates = "ignore-duplicates" }

    public var returning: Return?
    public var count: Count?
    public var resolution: Resolution?
    /// `missing=default`: keys a payload object leaves out take the column's default.
    public var missingAsDefault = false
    /// `max-affected=n` with `handling=strict`: a write touching more rows is refused and
    /// rolled back (400 `PGRST124`). Ignored when handling is lenient, as PostgREST does.
    public var maxAffected: Int?
    /// The preferences honoured, for `Preference-Applied`.
    public var applied: [String] = []

    public init() {}

    /// Parses every `Prefer` header value; unknown preferences are ignored unless
    /// `handling=strict`, which makes them a 400 `PGRST122`.
    public init(headerValues: [String]) throws {
        var unknown: [String] = []
        var strict = false
        for token in headerValues.flatMap({ $0.split(separator: ",") }) {
            let item = token.trimmingCharacters(in: .whitespaces)
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                if !item.isEmpty { unknown.append(item) }
                continue
            }
            switch parts[0] {
            case "return":
                guard let value = Return(rawValue: parts[1]) else { unknown.append(item); continue }
                returning = value
                applied.append(item)
            case "count":
                guard let value = Count(rawValue: parts[1]) else { unknown.append(item); continue }
                count = value
                applied.append(item)
            case "resolution":
                guard let value = Resolution(rawValue: parts[1]) else { unknown.append(item); continue }
                resolution = value
                applied.append(item)
            case "missing":
                guard parts[1] == "default" || parts[1] == "null" else { unknown.append(item); continue }
                missingAsDefault = parts[1] == "default"
                applied.append(item)
            case "handling":
                guard parts[1] == "strict" || parts[1] == "lenient" else { unknown.append(item); continue }
                strict = parts[1] == "strict"
            case "max-affected":
                guard let value = Int(parts[1]), value >= 0 else { unknown.append(item); continue }
                maxAffected = value
            case "tx", "timezone":
                // Accepted and ignored: every request commits, times are UTC.
                continue
            default:
                unknown.append(item)
            }
        }
        if strict, !unknown.isEmpty { throw TableError.invalidPreference(unknown.joined(separator: ", ")) }
        if let maxAffected {
            if strict { applied.append("max-affected=\(maxAffected)") } else { self.maxAffected = nil }
        }
    }
}
