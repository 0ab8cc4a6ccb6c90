import Core
import Database
import Foundation
import PostgresNIO
import Storage

/// The author's changes to a reel and the reads of reels by id and of one's own.
extension ReelsUploads {
    static let noSuchReel = APIError.notFound("reel_id: no such reel (or not one you can see)")
    static let notYours = APIError.notFound("reel_id: no reel of yours with this id")

    /// The record of a reel the caller may see, else 404.
    func record(_ caller: Caller, id: UUID) async throws -> String {
        let row = try await database.withCaller(caller) { connection in
            let rows = try await connection.rows(
                "SELECT \(ReelRecord.columns()) FROM reels.reels r WHERE r.id = $1", [id])
            for try await row in rows.decode((String, String?, String, String).self) { return Optional(row) }
            return nil
        }
        guard let row else { throw Self.noSuchReel }
        return try await ReelRecord.json(row, media: media)
    }

    func reel(_ caller: Caller, id: UUID) async throws -> String {
        _ = try caller.requireUser()
        return try await record(caller, id: id)
    }

    /// Changes the caption (its hashtags with it) and/or the visibility of the caller's reel.
    /// A new caption of an approved reel is moderated again (`reels.moderation_settings`): if
    /// the policy would not approve it (a blocklist word, or `manual`), the reel goes back to
    /// `pending`. Moderation is never raised here.
    func update(_ caller: Caller, reel: UUID, caption: String?, visibility: String?) async throws -> String {
        let user = try caller.requireUser()
        try await edits.take(database, caller)
        let changed = try await database.withOwner { connection in
            var demotion: ModerationPolicy.Decision?
            if let caption {
                for try await (mode, blocklist, blockedHashtags) in try await connection.rows(ModerationPolicy.settingsSQL, []).decode(
                    (String, [String], [String]).self)
                {
                    let policy = ModerationPolicy(
                        mode: ModerationPolicy.Mode(rawValue: mode) ?? .manual, blocklist: Set(blocklist), blockedHashtags: Set(blockedHashtags))
                    let decision = policy.decide(caption: caption)
                    if decision.moderation != "approved" { demotion = decision }
                }
            }
            let rows = try await connection.rows(
                """
                UPDATE reels.reels SET
                    moderation = CASE WHEN $6::text IS NOT NULL AND moderation = 'approved' AND caption IS DISTINCT FROM $3
                                      THEN $6 ELSE moderation END,
                    moderation_reason = CASE WHEN $6::text IS NOT NULL AND moderation = 'approved' AND caption IS DISTINCT FROM $3
                                             THEN $7 ELSE moderation_reason END,
                    caption = coalesce($3, caption), hashtags = coalesce($4, hashtags),
                    visibility = coalesce($5, visibility), updated_at = now()
                WHERE id = $1 AND author_id = $2 RETURNING id
                """,
                [reel, user, caption, caption.map(Hashtags.extract), visibility, demotion?.moderation, demotion?.reason])
            for try await _ in rows { return true }
            return false
        }
        guard changed else { throw Self.notYours }
        return try await record(caller, id: reel)
    }

    /// Deletes the caller's reel: the row (its jobs and interactions go with it), then its
    /// original and every output under `<reel id>/` in `reels-media`.
    func delete(_ caller: Caller, reel: UUID) async throws {
        let user = try caller.requireUser()
        try await edits.take(database, caller)
        let original = try await database.withOwner { connection in
            try await connection.scalarText("DELETE FROM reels.reels WHERE id = $1 AND author_id = $2 RETURNING original_path", [reel, user])
        }
        guard let original else { throw Self.notYours }
        do {
            _ = try await storage.remove(Self.service, bucket: Self.originals, names: [original])
        } catch {
            logger.warning("reels: could not remove a deleted reel's original", metadata: ["object": "\(original)", "error": "\(error)"])
        }
        await removeMedia(of: reel)
    }

    /// Removes every object under `<reel id>/` in `reels-media` (all attempts).
    func removeMedia(of reel: UUID) async {
        do {
            let names = try await mediaNames(under: reel.uuidString.lowercased() + "/", depth: 0)
            for start in stride(from: 0, to: names.count, by: 100) {
                _ = try await storage.remove(Self.service, bucket: ReelMediaRoutes.bucket, names: Array(names[start..<min(start + 100, names.count)]))
            }
        } catch {
            logger.warning("reels: could not remove a deleted reel's media", metadata: ["reel": "\(reel)", "error": "\(error)"])
        }
    }

    /// The object names under `folder` (ending in `/`), descending at most three folders.
    func mediaNames(under folder: String, depth: Int) async throws -> [String] {
        var names: [String] = []
        var offset = 0
        while true {
            let entries = try await storage.list(
                Self.service, bucket: ReelMediaRoutes.bucket, prefix: folder, search: "", limit: 1000, offset: offset, sortColumn: "name",
                ascending: true)
            for entry in entries {
                if entry.object != nil {
                    names.append(folder + entry.name)
                } else if depth < 3 {
                    names += try await mediaNames(under: folder + entry.name + "/", depth: depth + 1)
                }
            }
            guard entries.count == 1000 else { return names }
            offset += 1000
        }
    }

    /// The caller's reels in every state, newest first: `{"reels":[record…],"next":cursor|null}`.
    func myReels(_ caller: Caller, limit: Int, before: KeysetCursor?) async throws -> String {
        let user = try caller.requireUser()
        var values: [(any PostgresEncodable & Sendable)?] = [user]
        let after = Page.after(before, time: "r.created_at", id: "r.id", values: &values)
        values.append(limit + 1)
        let sql = """
            SELECT \(ReelRecord.columns()), r.created_at::text, r.id FROM reels.reels r
            WHERE r.author_id = $1 \(after) ORDER BY r.created_at DESC, r.id DESC LIMIT $\(values.count)
            """
        let rows = try await database.withCaller(caller) { [values] connection in
            var rows: [(ReelRecord.Row, String, UUID)] = []
            for try await (record, prefix, state, moderation, time, id) in try await connection.rows(sql, values)
                .decode((String, String?, String, String, String, UUID).self)
            {
                rows.append(((record, prefix, state, moderation), time, id))
            }
            return rows
        }
        var records: [String] = []
        for (row, _, _) in rows.prefix(limit) { records.append(try await ReelRecord.json(row, media: media)) }
        var next = "null"
        if rows.count > limit, let (_, time, id) = rows.prefix(limit).last {
            next = "\"" + (try await cursors.encode(KeysetCursor(timestamp: time, id: id))) + "\""
        }
        return "{\"reels\":[" + records.joined(separator: ",") + "],\"next\":" + next + "}"
    }
}
