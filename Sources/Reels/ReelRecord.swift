import Foundation
import PostgresNIO

/// The reel record every reel-returning RPC answers with (docs/reels.md): the SQL record
/// `reels.record(r)` of migration 0020 (computed for `auth.uid()`, so select it in
/// `withCaller`) with `media` added here — `{"hls","mp4","poster"}` for a ready reel that
/// moderation has not rejected, else null.
///
/// Select ``columns(_:)`` for each reel row, decode it as ``Row`` and turn it into JSON text
/// with ``json(_:media:)``.
public enum ReelRecord {
    /// The select list for the reels row aliased `alias`: the record without `media`, the
    /// media prefix, state and moderation.
    public static func columns(_ alias: String = "r") -> String {
        "(reels.record(\(alias)) - 'media')::text, \(alias).media_prefix, \(alias).state, \(alias).moderation"
    }

    /// One row selected with ``columns(_:)``.
    public typealias Row = (record: String, mediaPrefix: String?, state: String, moderation: String)

    /// The record's JSON text with `media`.
    public static func json(_ row: Row, media: ReelMedia) async throws -> String {
        let links = row.state == "ready" && row.moderation != "rejected" ? try await media.links(for: row.mediaPrefix) : nil
        return splice(row.record, key: "media", value: links?.json ?? "null")
    }

    /// Every row of `rows` (selected with ``columns(_:)`` and nothing else) as record JSON.
    public static func collect(_ rows: PostgresRowSequence, media: ReelMedia) async throws -> [String] {
        var records: [String] = []
        for try await row in rows.decode((String, String?, String, String).self) {
            records.append(try await json(row, media: media))
        }
        return records
    }

    /// `object` (JSON object text from PostgreSQL) with one more member; anything that is not
    /// an object comes back unchanged. Byte-level: Foundation's `trimmingCharacters` was a
    /// tenth of a feed page's server time.
    static func splice(_ object: String, key: String, value: String) -> String {
        let bytes = object.utf8
        func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
        guard let start = bytes.firstIndex(where: { !isBlank($0) }), let close = bytes.lastIndex(where: { !isBlank($0) }),
            bytes[close] == UInt8(ascii: "}")
        else { return object }
        let inner = bytes[start..<close]
        let bodyEnd = inner.lastIndex(where: { !isBlank($0) }).map { bytes.index(after: $0) } ?? start
        let body = String(object[start..<bodyEnd])
        let separator = body == "{" ? "" : ", "
        return body + separator + "\"\(key)\": " + value + "}"
    }
}
