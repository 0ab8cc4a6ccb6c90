import Core
import Foundation

/// How a table response is written: the representation the `Accept` header chose, and
/// `Range`/`Content-Range` arithmetic (docs/tables.md, "Reads").
enum TableMedia: Sendable {
    /// `application/json` (also `*/*`): an array of objects.
    case json
    /// `application/vnd.pgrst.object+json`: exactly one object, else 406 `PGRST116`.
    case object
    /// `text/csv`: a header line, then one line per row.
    case csv

    /// The first representation of `Accept` this API can give; none → 406 `PGRST107`.
    static func negotiate(_ accept: String?) throws -> TableMedia {
        guard let accept, !accept.trimmingCharacters(in: .whitespaces).isEmpty else { return .json }
        for item in accept.split(separator: ",") {
            let type = item.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            switch type {
            case "*/*", "application/*", "application/json": return .json
            case "application/vnd.pgrst.object+json", "application/vnd.pgrst.object": return .object
            case "text/csv", "text/*": return .csv
            default: continue
            }
        }
        throw TableError.unacceptable(accept)
    }

    var contentType: String {
        switch self {
        case .json: "application/json; charset=utf-8"
        case .object: "application/vnd.pgrst.object+json; charset=utf-8"
        case .csv: "text/csv; charset=utf-8"
        }
    }
}

/// The rows a read asks for: `offset`/`limit` parameters within a `Range: first-last` header.
struct RowWindow: Equatable {
    var offset: Int
    var limit: Int

    /// - Throws: 416 `PGRST103` for a range whose last row comes before its first.
    static func resolve(limitParameter: Int?, offsetParameter: Int?, rangeHeader: String?, maximumRows: Int) throws -> RowWindow {
        var offset = offsetParameter ?? 0
        var limit = limitParameter ?? maximumRows
        if let rangeHeader, let (first, last) = parseRange(rangeHeader) {
            if let last {
                guard last >= first else { throw TableError.unsatisfiableRange("The range \(first)-\(last) ends before it starts") }
                limit = min(limit, last - first + 1)
            }
            if offsetParameter == nil { offset = first }
        }
        return RowWindow(offset: offset, limit: min(limit, maximumRows))
    }

    /// `first-last` or `first-` (an `items=` prefix is accepted); anything else is ignored, as
    /// PostgREST ignores it.
    static func parseRange(_ header: String) -> (Int, Int?)? {
        var text = Substring(header.trimmingCharacters(in: .whitespaces))
        if text.hasPrefix("items=") { text = text.dropFirst(6) }
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].utf8.count <= 12, parts[1].utf8.count <= 12, let first = Int(parts[0]), first >= 0 else { return nil }
        if parts[1].isEmpty { return (first, nil) }
        guard let last = Int(parts[1]), last >= 0 else { return nil }
        return (first, last)
    }

    /// `Content-Range` for `rows` rows returned from `offset` of `total` (nil: not counted).
    static func contentRange(offset: Int, rows: Int, total: Int?) -> String {
        let totalText = total.map(String.init) ?? "*"
        return rows > 0 ? "\(offset)-\(offset + rows - 1)/\(totalText)" : "*/\(totalText)"
    }
}

/// CSV text of rows given as JSON objects, columns in `names` order (RFC 4180 quoting).
enum CSVText {
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The SQL expression of one CSV line of the row alias `_r`.
    static func lineSQL(_ names: [String]) -> String {
        names.map { name -> String in
            let value = "_r.\(SQLText.identifier(name))::text"
            return "coalesce(CASE WHEN \(value) ~ '[\",\\r\\n]' THEN '\"' || replace(\(value), '\"', '\"\"') || '\"' ELSE \(value) END, '')"
        }.joined(separator: " || ',' || ")
    }
}
