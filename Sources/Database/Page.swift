import Core
import Foundation
import PostgresNIO

/// Keyset pages assembled from query rows.
public enum Page {
    /// Builds `{"items":[…],"next_cursor":…}` from rows of (item JSON, sort timestamp text,
    /// id), fetched with `LIMIT limit + 1`: the extra row only proves there is a next page.
    /// The next cursor is signed by `cursors`.
    public static func collect(_ rows: PostgresRowSequence, limit: Int, cursors: CursorCodec) async throws -> Data {
        var items: [String] = []
        var last: KeysetCursor?
        for try await (item, timestamp, id) in rows.decode((String, String, UUID).self) {
            if items.count == limit, let last {
                return render(items, next: try await cursors.encode(last))
            }
            items.append(item)
            last = KeysetCursor(timestamp: timestamp, id: id)
        }
        return render(items, next: nil)
    }

    static func render(_ items: [String], next: String?) -> Data {
        let cursor = next.map { "\"\($0)\"" } ?? "null"
        return Data("{\"items\":[\(items.joined(separator: ","))],\"next_cursor\":\(cursor)}".utf8)
    }
}

extension Page {
    /// The keyset condition `AND (time, id) < ($n::timestamptz, $n+1::uuid)` for a cursor,
    /// appending the cursor's two values to `values`; empty for the first page.
    public static func after(
        _ cursor: KeysetCursor?, time: String, id: String, values: inout [(any PostgresEncodable & Sendable)?]
    ) -> String {
        guard let cursor else { return "" }
        values += [cursor.timestamp, cursor.id]
        return "AND (\(time), \(id)) < ($\(values.count - 1)::timestamptz, $\(values.count)::uuid)"
    }
}
