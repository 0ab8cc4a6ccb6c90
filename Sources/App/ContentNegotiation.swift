import Foundation

/// A compressed form a static file may be sent in (`Content-Encoding`).
enum ContentCoding: String, Sendable, CaseIterable {
    case brotli = "br"
    case gzip = "gzip"
}

/// The client's side of serving a static file: which coding `Accept-Encoding` allows
/// (RFC 9110 §12.5.3) and whether `If-None-Match` already names the representation (§13.1.2).
/// Both read client bytes: anything malformed is ignored, never an error.
enum ContentNegotiation {
    /// The coding among `available` with the highest q-value above 0 (brotli first on a tie),
    /// or nil for identity. A coding is allowed by its own entry, else by `*`; `q=0` refuses it.
    static func coding(accepting headerValues: [String], available: [ContentCoding]) -> ContentCoding? {
        var explicit: [String: Double] = [:]
        var wildcard: Double?
        for value in headerValues {
            for element in value.split(separator: ",") {
                let parts = element.split(separator: ";")
                guard let first = parts.first else { continue }
                var name = first.trimmingCharacters(in: .whitespaces).lowercased()
                if name == "x-gzip" { name = "gzip" }
                guard !name.isEmpty, let q = qValue(parts.dropFirst()) else { continue }
                if name == "*" { wildcard = q } else { explicit[name] = max(explicit[name] ?? 0, q) }
            }
        }
        var best: (coding: ContentCoding, q: Double)?
        for coding in ContentCoding.allCases where available.contains(coding) {
            let q = explicit[coding.rawValue] ?? wildcard ?? 0
            if q > 0, q > (best?.q ?? 0) { best = (coding, q) }
        }
        return best?.coding
    }

    /// The `q` parameter (1 when absent), or nil when it is not a number in 0...1.
    private static func qValue(_ parameters: ArraySlice<Substring>) -> Double? {
        for parameter in parameters {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == "q" else { continue }
            guard pair[1].count <= 5, let q = Double(pair[1]), q >= 0, q <= 1 else { return nil }
            return q
        }
        return 1
    }

    /// Whether one of the `If-None-Match` entity tags equals `etag` by the weak comparison
    /// (a `W/` prefix ignored), or the header is `*`.
    static func matches(ifNoneMatch headerValues: [String], etag: String) -> Bool {
        for value in headerValues {
            for tag in value.split(separator: ",") {
                var tag = tag.trimmingCharacters(in: .whitespaces)
                if tag == "*" { return true }
                if tag.hasPrefix("W/") { tag.removeFirst(2) }
                if tag == etag { return true }
            }
        }
        return false
    }
}
