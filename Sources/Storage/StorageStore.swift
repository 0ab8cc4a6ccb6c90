import Core
import Crypto
import Database
import Foundation
import PostgresNIO

/// A bucket row.
public struct Bucket: Sendable, Equatable {
    public var id: String
    public var name: String
    public var owner: UUID?
    public var isPublic: Bool
    public var fileSizeLimit: Int64?
    public var allowedMimeTypes: [String]?
    public var createdAt: Date
    public var updatedAt: Date
}

/// An object row (its metadata; the bytes are the blob ``blobKey``).
public struct StoredObject: Sendable, Equatable {
    public var id: UUID
    public var bucketID: String
    public var name: String
    public var owner: UUID?
    public var size: Int64
    public var mimeType: String
    public var cacheControl: String
    public var etag: String
    /// The user metadata as JSON object text.
    public var metadataJSON: String
    public var version: UUID
    public var createdAt: Date
    public var updatedAt: Date
    public var lastAccessedAt: Date
    /// What the server measured (`storage.objects.media`) as JSON object text.
    public var mediaJSON: String = "{}"
    /// The upload this object is a server-made rendition of (nil: an upload).
    public var parentID: UUID? = nil

    /// Where the bytes of this version live in the backend.
    public var blobKey: String { StorageStore.blobKey(bucket: bucketID, version: version) }
}

/// An object about to be committed: its row values and the blob already written.
struct NewObject: Sendable {
    var bucketID: String
    var name: String
    var owner: UUID?
    var size: Int64
    var mimeType: String
    var cacheControl: String
    var etag: String
    var metadataJSON: String
    var version: UUID
    /// What the server measured, JSON object text.
    var mediaJSON: String = "{}"
    /// Set on renditions: the upload they were made from.
    var parentID: UUID? = nil

    /// Where its bytes were written.
    var blobKey: String { StorageStore.blobKey(bucket: bucketID, version: version) }
}

/// The SQL of the storage module. Work for a request runs under the caller
/// (``Database/withCaller(_:_:)``), so row-level security decides what it may see and change;
/// bucket rules and the token key are read as the owner.
public struct StorageStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// The backend key of an object version: independent of the object's path, so renaming
    /// never touches bytes and a new version never overwrites the one readers may be streaming.
    static func blobKey(bucket: String, version: UUID) -> String {
        "\(bucket)/\(version.uuidString.lowercased())"
    }

    static let bucketColumns = "id, name, owner, public, file_size_limit, allowed_mime_types, created_at, updated_at"
    static let objectColumns = """
        id, bucket_id, name, owner, size, mime_type, cache_control, etag, user_metadata::text, version, created_at, updated_at, last_accessed_at,
        media::text, parent_id
        """

    static func bucket(from rows: PostgresRowSequence) async throws -> [Bucket] {
        var buckets: [Bucket] = []
        for try await (id, name, owner, isPublic, limit, mimes, created, updated) in rows.decode(
            (String, String, UUID?, Bool, Int64?, [String]?, Date, Date).self)
        {
            buckets.append(
                Bucket(
                    id: id, name: name, owner: owner, isPublic: isPublic, fileSizeLimit: limit, allowedMimeTypes: mimes, createdAt: created,
                    updatedAt: updated))
        }
        return buckets
    }

    static func objects(from rows: PostgresRowSequence) async throws -> [StoredObject] {
        var objects: [StoredObject] = []
        for try await (id, bucket, name, owner, size, mime, cache, etag, metadata, version, created, updated, accessed, media, parent) in rows.decode(
            (UUID, String, String, UUID?, Int64, String, String, String, String, UUID, Date, Date, Date, String, UUID?).self)
        {
            objects.append(
                StoredObject(
                    id: id, bucketID: bucket, name: name, owner: owner, size: size, mimeType: mime, cacheControl: cache, etag: etag,
                    metadataJSON: metadata, version: version, createdAt: created, updatedAt: updated, lastAccessedAt: accessed,
                    mediaJSON: media, parentID: parent))
        }
        return objects
    }

    // MARK: Buckets

    /// A bucket's rules as the owner (every upload needs them whoever the caller is).
    func bucketRules(_ id: String) async throws -> Bucket? {
        try await database.withOwner { connection in
            try await Self.bucket(from: try await connection.rows("SELECT \(Self.bucketColumns) FROM storage.buckets WHERE id = $1", [id])).first
        }
    }

    /// The buckets the caller may see (anonymous callers, who have no grant: the public ones).
    func buckets(_ caller: Caller) async throws -> [Bucket] {
        if caller.role == .anon {
            return try await database.withOwner { connection in
                try await Self.bucket(from: try await connection.rows("SELECT \(Self.bucketColumns) FROM storage.buckets WHERE public ORDER BY id", []))
            }
        }
        return try await database.withCaller(caller) { connection in
            try await Self.bucket(from: try await connection.rows("SELECT \(Self.bucketColumns) FROM storage.buckets ORDER BY id", []))
        }
    }

    func bucket(_ caller: Caller, id: String) async throws -> Bucket? {
        if caller.role == .anon {
            let bucket = try await bucketRules(id)
            return bucket?.isPublic == true ? bucket : nil
        }
        return try await database.withCaller(caller) { connection in
            try await Self.bucket(from: try await connection.rows("SELECT \(Self.bucketColumns) FROM storage.buckets WHERE id = $1", [id])).first
        }
    }

    func createBucket(_ caller: Caller, id: String, name: String, isPublic: Bool, limit: Int64?, mimes: [String]?) async throws {
        try await database.withCaller(caller) { connection in
            try await connection.execute(
                "INSERT INTO storage.buckets (id, name, owner, public, file_size_limit, allowed_mime_types) VALUES ($1, $2, $3, $4, $5, $6)",
                [id, name, caller.userID, isPublic, limit, mimes])
        }
    }

    /// Changes the given settings; false when the bucket is not there (or not the caller's to change).
    func updateBucket(_ caller: Caller, id: String, isPublic: Bool?, limit: Int64??, mimes: [String]??) async throws -> Bool {
        try await database.withCaller(caller) { connection in
            try await connection.exists("""
                UPDATE storage.buckets SET
                    public = coalesce($2, public),
                    file_size_limit = CASE WHEN $3 THEN $4 ELSE file_size_limit END,
                    allowed_mime_types = CASE WHEN $5 THEN $6 ELSE allowed_mime_types END,
                    updated_at = now()
                WHERE id = $1 RETURNING 1
                """, [id, isPublic, limit != nil, limit ?? nil, mimes != nil, mimes ?? nil])
        }
    }

    /// Deletes an empty bucket: .deleted, .missing, or .notEmpty.
    enum BucketDeletion: Sendable { case deleted, missing, notEmpty }

    func deleteBucket(_ caller: Caller, id: String) async throws -> BucketDeletion {
        try await database.withCaller(caller) { connection in
            guard try await connection.exists("SELECT 1 FROM storage.buckets WHERE id = $1 FOR UPDATE", [id]) else { return .missing }
            if try await connection.exists("SELECT 1 FROM storage.objects WHERE bucket_id = $1 LIMIT 1", [id]) { return .notEmpty }
            return try await connection.exists("DELETE FROM storage.buckets WHERE id = $1 RETURNING 1", [id]) ? .deleted : .missing
        }
    }

    // MARK: Objects

    /// The object as the caller may see it (nil: missing or not visible).
    func object(_ caller: Caller, bucket: String, name: String) async throws -> StoredObject? {
        // Anonymous callers have no grant on objects: nothing is theirs to see here.
        if caller.role == .anon { return nil }
        return try await database.withCaller(caller) { connection in
            try await Self.objects(
                from: try await connection.rows("SELECT \(Self.objectColumns) FROM storage.objects WHERE bucket_id = $1 AND name = $2", [bucket, name])
            ).first
        }
    }

    /// The object whatever the caller (public buckets and signed URLs, authorised otherwise).
    func objectAsOwner(bucket: String, name: String) async throws -> StoredObject? {
        try await database.withOwner { connection in
            try await Self.objects(
                from: try await connection.rows("SELECT \(Self.objectColumns) FROM storage.objects WHERE bucket_id = $1 AND name = $2", [bucket, name])
            ).first
        }
    }

    /// Whether any object has this name (as the owner: the uniqueness of names is global).
    func nameTaken(bucket: String, name: String) async throws -> Bool {
        try await database.withOwner { connection in
            try await connection.exists("SELECT 1 FROM storage.objects WHERE bucket_id = $1 AND name = $2", [bucket, name])
        }
    }

    /// An insert of every column the server writes (``values(_:)``: eleven values, with
    /// `media` and `parent_id`).
    static let insertObjectSQL = """
        INSERT INTO storage.objects (bucket_id, name, owner, size, mime_type, cache_control, etag, user_metadata, version, media, parent_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10::jsonb, $11)
        """

    static func values(_ object: NewObject) -> [(any PostgresEncodable & Sendable)?] {
        [
            object.bucketID, object.name, object.owner, object.size, object.mimeType, object.cacheControl, object.etag, object.metadataJSON,
            object.version, object.mediaJSON, object.parentID,
        ]
    }

    /// What a commit replaced: the previous version (its blob is the caller's to delete after
    /// the commit) and the blob keys of the previous version's renditions (deleted with it).
    struct Replaced: Sendable {
        var version: UUID?
        var renditionKeys: [String] = []
    }

    /// Commits an uploaded version and its renditions in one transaction. Without `upsert` an
    /// existing name is ``StorageError/duplicate``; with it the row is replaced (id,
    /// created_at and attached_at kept) and its old renditions are deleted. A name that is one
    /// of the server's renditions is never replaced by an upload. With `quotaBytes` > 0 the
    /// owner's uploads (renditions excluded) must stay within it, checked under a per-user
    /// lock so that parallel uploads cannot overshoot together. `caller` nil: the
    /// signed-upload path, authorised by its token instead of row-level security.
    func commit(
        _ object: NewObject, upsert: Bool, caller: Caller?, renditions: [NewObject] = [], quotaBytes: Int64 = 0
    ) async throws -> (StoredObject, replaced: Replaced) {
        let body: @Sendable (PostgresConnection) async throws -> (StoredObject, Replaced) = { connection in
            // Concurrent writes of one name queue here, so each reads the version it replaces
            // (else a writer's view of "no previous row" would orphan the other's blob).
            try await connection.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", ["storage.objects/\(object.bucketID)/\(object.name)"])
            let previousRows = try await connection.rows(
                "SELECT id, version, parent_id, owner, size FROM storage.objects WHERE bucket_id = $1 AND name = $2 FOR UPDATE",
                [object.bucketID, object.name])
            var previous: (id: UUID, version: UUID, parent: UUID?, owner: UUID?, size: Int64)?
            for try await row in previousRows.decode((UUID, UUID, UUID?, UUID?, Int64).self) {
                previous = (row.0, row.1, row.2, row.3, row.4)
            }
            if let previous, upsert, previous.parent != nil {
                throw StorageError.renditionName(
                    object.name, "is a preview the server made of another file and cannot be replaced; choose another name")
            }
            if quotaBytes > 0, let owner = object.owner {
                let replacedSize = upsert && previous?.owner == owner ? previous?.size ?? 0 : 0
                try await UserQuota.check(connection, owner: owner, adding: object.size, replacing: replacedSize, quotaBytes: quotaBytes)
            }
            var replaced = Replaced(version: previous?.version)
            if upsert, let previous {
                let gone = try await connection.rows(
                    "DELETE FROM storage.objects WHERE parent_id = $1 RETURNING bucket_id, version", [previous.id])
                for try await (bucket, version) in gone.decode((String, UUID).self) {
                    replaced.renditionKeys.append(StorageStore.blobKey(bucket: bucket, version: version))
                }
            }
            let sql: String
            if upsert {
                sql = Self.insertObjectSQL + """

                    ON CONFLICT (bucket_id, name) DO UPDATE SET
                        owner = EXCLUDED.owner, size = EXCLUDED.size, mime_type = EXCLUDED.mime_type,
                        cache_control = EXCLUDED.cache_control, etag = EXCLUDED.etag, user_metadata = EXCLUDED.user_metadata,
                        version = EXCLUDED.version, media = EXCLUDED.media, updated_at = now(), last_accessed_at = now()
                    RETURNING \(Self.objectColumns)
                    """
            } else {
                sql = Self.insertObjectSQL + " RETURNING \(Self.objectColumns)"
            }
            guard let row = try await Self.objects(from: try await connection.rows(sql, Self.values(object))).first else {
                throw StorageError.rowLevelSecurity
            }
            for var rendition in renditions {
                rendition.parentID = row.id
                let inserted = try await connection.exists(
                    Self.insertObjectSQL + " ON CONFLICT (bucket_id, name) DO NOTHING RETURNING 1", Self.values(rendition))
                guard inserted else {
                    throw StorageError.renditionName(
                        rendition.name, "is taken by another file, and the server needs this name for a preview of \(object.name)")
                }
            }
            return (row, replaced)
        }
        do {
            if let caller {
                return try await database.withCaller(caller, body)
            }
            return try await database.withOwner(body)
        } catch let error as APIError where error.code == "23505" {
            throw StorageError.duplicate
        } catch let error where PostgresErrorText.sqlState(error) == "23505" {
            throw StorageError.duplicate
        } catch let error as APIError where error.code == "42501" {
            throw StorageError.rowLevelSecurity
        } catch let error where Self.isAttachedRefusal(error) {
            throw StorageError.attached(PostgresErrorText.message(error) ?? "path: is attached to a message")
        }
    }

    /// Whether the database refused to change an object attached to a message (migration
    /// 0015's trigger, SQLSTATE 55006).
    static func isAttachedRefusal(_ error: any Error) -> Bool {
        PostgresErrorText.sqlState(error) == "55006"
    }

    /// Runs `body` as `caller`, turning the attached-object refusal into its 409.
    private func withCallerRefusingAttached<Result: Sendable>(
        _ caller: Caller, _ body: @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        do {
            return try await database.withCaller(caller, body)
        } catch let error where Self.isAttachedRefusal(error) {
            throw StorageError.attached(PostgresErrorText.message(error) ?? "path: is attached to a message")
        }
    }

    /// Whether row-level security would let `caller` create (or with `upsert` replace) the
    /// object: the insert is tried and rolled back.
    func checkCanWrite(_ caller: Caller, bucket: String, name: String, upsert: Bool) async throws {
        let probe = NewObject(
            bucketID: bucket, name: name, owner: caller.userID, size: 0, mimeType: "application/octet-stream", cacheControl: "no-cache",
            etag: String(repeating: "0", count: 32), metadataJSON: "{}", version: UUID())
        do {
            _ = try await withCallerRefusingAttached(caller) { connection in
                // Replacing needs the right to change the existing row (and it must not be
                // attached to a message): the update half of the upsert checks both.
                let sql = upsert
                    ? Self.insertObjectSQL + " ON CONFLICT (bucket_id, name) DO UPDATE SET owner = EXCLUDED.owner, version = EXCLUDED.version"
                    : Self.insertObjectSQL
                try await connection.execute(sql, Self.values(probe))
                throw ProbeRollback()
            }
        } catch is ProbeRollback {
            return
        } catch let error as APIError where error.code == "23505" {
            throw StorageError.duplicate
        } catch let error as APIError where error.code == "42501" {
            throw StorageError.rowLevelSecurity
        }
    }

    private struct ProbeRollback: Error {}

    /// Deletes the named objects the caller may delete; returns their rows.
    func remove(_ caller: Caller, bucket: String, names: [String]) async throws -> [StoredObject] {
        if caller.role == .anon { return [] }
        return try await withCallerRefusingAttached(caller) { connection in
            // Renditions first, so their rows (and blob keys) are returned too.
            let renditions = try await Self.objects(
                from: try await connection.rows(
                    """
                    DELETE FROM storage.objects WHERE parent_id IN (SELECT id FROM storage.objects WHERE bucket_id = $1 AND name = ANY($2))
                    RETURNING \(Self.objectColumns)
                    """, [bucket, names]))
            return renditions + (try await Self.objects(
                from: try await connection.rows(
                    "DELETE FROM storage.objects WHERE bucket_id = $1 AND name = ANY($2) RETURNING \(Self.objectColumns)", [bucket, names])))
        }
    }

    /// Deletes every object of a bucket the caller may delete; returns their rows.
    func removeAll(_ caller: Caller, bucket: String) async throws -> [StoredObject] {
        try await withCallerRefusingAttached(caller) { connection in
            try await Self.objects(
                from: try await connection.rows("DELETE FROM storage.objects WHERE bucket_id = $1 RETURNING \(Self.objectColumns)", [bucket]))
        }
    }

    /// Renames an object (its bytes stay where they are) and its renditions with it
    /// (`<source><suffix>` → `<destination><suffix>`, and the names in its `media`), in one
    /// transaction. Nil when the source is not the caller's to see. A rendition is not moved
    /// on its own (409: its upload names it).
    func move(_ caller: Caller, bucket: String, from source: String, to destination: String) async throws -> StoredObject? {
        do {
            return try await withCallerRefusingAttached(caller) { connection in
                let sourceRows = try await connection.rows(
                    "SELECT id, parent_id FROM storage.objects WHERE bucket_id = $1 AND name = $2 FOR UPDATE", [bucket, source])
                var found: (id: UUID, parent: UUID?)?
                for try await row in sourceRows.decode((UUID, UUID?).self) { found = (row.0, row.1) }
                guard let found else { return nil }
                if found.parent != nil {
                    throw StorageError.renditionName(source, "is a preview the server made of another file; move that file instead")
                }
                guard let moved = try await Self.objects(
                    from: try await connection.rows(
                        "UPDATE storage.objects SET name = $2, updated_at = now() WHERE id = $1 RETURNING \(Self.objectColumns)",
                        [found.id, destination])
                ).first else { return nil }
                let renditionRows = try await connection.rows(
                    "SELECT id, name FROM storage.objects WHERE parent_id = $1 FOR UPDATE", [found.id])
                var renames: [(UUID, String, String)] = []
                for try await (id, name) in renditionRows.decode((UUID, String).self) where name.hasPrefix(source) {
                    let renamed = destination + name.dropFirst(source.count)
                    // The new name must be a valid object name too (length limits).
                    _ = try ObjectPath.name(renamed)
                    renames.append((id, name, renamed))
                }
                guard !renames.isEmpty else { return moved }
                for (id, _, renamed) in renames {
                    try await connection.execute("UPDATE storage.objects SET name = $2, updated_at = now() WHERE id = $1", [id, renamed])
                }
                let media = Self.renamingMedia(moved.mediaJSON, renames.map { ($0.1, $0.2) })
                return try await Self.objects(
                    from: try await connection.rows(
                        "UPDATE storage.objects SET media = $2::jsonb WHERE id = $1 RETURNING \(Self.objectColumns)", [found.id, media])
                ).first
            }
        } catch let error as APIError where error.code == "23505" {
            throw StorageError.duplicate
        } catch let error as APIError where error.code == "42501" {
            throw StorageError.rowLevelSecurity
        }
    }

    /// `media` JSON text with every string value (also inside `sizes`) that is an old
    /// rendition name replaced by its new name.
    static func renamingMedia(_ json: String, _ renames: [(old: String, new: String)]) -> String {
        guard var media = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else { return json }
        let map = Dictionary(renames, uniquingKeysWith: { first, _ in first })
        for (key, value) in media {
            if let name = value as? String, let renamed = map[name] {
                media[key] = renamed
            } else if var nested = value as? [String: Any] {
                for (inner, innerValue) in nested {
                    if let name = innerValue as? String, let renamed = map[name] { nested[inner] = renamed }
                }
                media[key] = nested
            }
        }
        guard let data = try? JSONSerialization.data(withJSONObject: media, options: [.sortedKeys]),
            let text = String(data: data, encoding: .utf8)
        else { return json }
        return text
    }

    /// One level of a folder: the sub-folders (names without objects of their own) and the
    /// objects directly in it, sorted and paged.
    func list(
        _ caller: Caller, bucket: String, folder: String, search: String, limit: Int, offset: Int, sortColumn: String, ascending: Bool
    ) async throws -> [(name: String, object: StoredObject?)] {
        if caller.role == .anon { return [] }
        let prefix = folder.isEmpty ? "" : folder + "/"
        let pattern = Self.likeEscaped(prefix) + "%"
        let searchPrefix = search.lowercased()
        let order = ascending ? "ASC" : "DESC"
        let column: String
        switch sortColumn {
        case "created_at": column = "created_at"
        case "updated_at": column = "updated_at"
        case "last_accessed_at": column = "last_accessed_at"
        default: column = "name"
        }
        // Folders first (as Supabase's search function lists them), then objects.
        let sql = """
            WITH visible AS (
                SELECT \(Self.objectColumns), substr(name, $3::integer + 1) AS rest
                FROM storage.objects WHERE bucket_id = $1 AND name LIKE $2 AND parent_id IS NULL
            ), entries AS (
                SELECT DISTINCT ON (entry) split_part(rest, '/', 1) AS entry, position('/' IN rest) > 0 AS is_folder
                FROM visible
                ORDER BY entry, is_folder DESC
            )
            SELECT e.entry, e.is_folder,
                o.id, o.bucket_id, o.name, o.owner, o.size, o.mime_type, o.cache_control, o.etag, o.user_metadata::text, o.version,
                o.created_at, o.updated_at, o.last_accessed_at
            FROM entries e LEFT JOIN storage.objects o ON NOT e.is_folder AND o.bucket_id = $1 AND o.name = $7::text || e.entry
            WHERE lower(e.entry) LIKE $4
            ORDER BY e.is_folder DESC, \(column == "name" ? "e.entry" : "o.\(column)") \(order), e.entry \(order)
            LIMIT $5 OFFSET $6
            """
        return try await database.withCaller(caller) { connection in
            var result: [(String, StoredObject?)] = []
            let rows = try await connection.rows(
                sql, [bucket, pattern, prefix.unicodeScalars.count, Self.likeEscaped(searchPrefix) + "%", limit, offset, prefix])
            for try await (entry, isFolder, id, bucketID, name, owner, size, mime, cache, etag, metadata, version, created, updated, accessed) in rows.decode(
                (String, Bool, UUID?, String?, String?, UUID?, Int64?, String?, String?, String?, String?, UUID?, Date?, Date?, Date?).self)
            {
                if !isFolder, let id, let bucketID, let name, let size, let mime, let cache, let etag, let metadata, let version, let created,
                    let updated, let accessed
                {
                    result.append(
                        (entry, StoredObject(
                            id: id, bucketID: bucketID, name: name, owner: owner, size: size, mimeType: mime, cacheControl: cache, etag: etag,
                            metadataJSON: metadata, version: version, createdAt: created, updatedAt: updated, lastAccessedAt: accessed)))
                } else {
                    result.append((entry, nil))
                }
            }
            return result
        }
    }

    /// `text` with LIKE's wildcards escaped (the default escape character is `\`).
    static func likeEscaped(_ text: String) -> String {
        var output = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { output.append("\\") }
            output.append(character)
        }
        return output
    }

    // MARK: Keys

    /// The signed-URL key shared by every instance (created by the first).
    func signingKey() async throws -> SymmetricKey {
        let value = try await database.withOwner { connection in
            try await connection.execute(
                "INSERT INTO storage.secrets (name, value) VALUES ('signed_url_key', $1) ON CONFLICT (name) DO NOTHING",
                [SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()])
            return try await connection.scalarText("SELECT value FROM storage.secrets WHERE name = 'signed_url_key'", [])
        }
        guard let value, let bytes = Data(base64Encoded: value), bytes.count >= 32 else {
            throw StorageKeyMissing()
        }
        return SymmetricKey(data: bytes)
    }
}

/// storage.secrets holds no usable signed-URL key (the migration did not run).
struct StorageKeyMissing: Error, CustomStringConvertible {
    var description: String { "storage.secrets holds no signed_url_key" }
}
