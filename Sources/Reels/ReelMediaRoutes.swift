import Core
import Database
import Foundation
import Hummingbird
import Storage

/// `GET`/`HEAD /reels/v1/media/<token>/<file>`: the outputs of a ready reel from the
/// `reels-media` bucket, opened by the signed token alone (a `<video>` element sends no
/// headers). One `Range` is honoured (206/416), as storage downloads do. Errors are JSON:
/// 404 for what is not a token, a file or a ready reel; 403 for a changed or expired token.
struct ReelMediaRoutes: Sendable {
    let database: Database
    let storage: StorageService
    let media: ReelMedia

    static let bucket = "reels-media"
    static let service = Caller(role: .serviceRole, claimsJSON: #"{"role":"service_role"}"#)

    func add(to router: Router<AppRequestContext>) {
        router.get("reels/v1/media/**") { request, _ in try await serve(request, head: false) }
        router.head("reels/v1/media/**") { request, _ in try await serve(request, head: true) }
    }

    func serve(_ request: Request, head: Bool) async throws -> Response {
        guard let (tokenText, file) = Self.split(request.uri.path), let contentType = ReelMediaFile.contentType(of: file) else {
            throw Self.notFound
        }
        let token = try await media.verify(tokenText)
        guard try await isServable(token) else { throw Self.notFound }
        let object: StoredObject
        do {
            object = try await storage.object(Self.service, bucket: Self.bucket, name: token.prefix + "/" + file)
        } catch let error as APIError where error.status == .notFound {
            throw Self.notFound
        }
        return try await download(object, contentType: contentType, request: request, head: head)
    }

    /// The token's reel still has these outputs, is ready and is not rejected.
    func isServable(_ token: ReelMediaToken) async throws -> Bool {
        try await database.withOwner { connection in
            let rows = try await connection.rows(
                "SELECT 1 FROM reels.reels WHERE id = $1 AND media_prefix = $2 AND state = 'ready' AND moderation <> 'rejected'",
                [token.reelID, token.prefix])
            for try await _ in rows { return true }
            return false
        }
    }

    static let notFound = APIError(status: .notFound, code: "not_found", message: "No such media")

    /// The token and the file path of `/reels/v1/media/<token>/<file…>`; nil for other shapes.
    static func split(_ path: String) -> (Substring, String)? {
        let prefix = ReelMedia.routePrefix
        guard path.hasPrefix(prefix), path.utf8.count <= 1024 else { return nil }
        let rest = path.dropFirst(prefix.count)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let token = rest[..<slash]
        let file = String(rest[rest.index(after: slash)...])
        guard !token.isEmpty, ReelMediaFile.isValid(file) else { return nil }
        return (token, file)
    }

    /// Serves an output (``RangedDownload``). Outputs never change under a prefix; the token
    /// bounds how long a link works.
    func download(_ object: StoredObject, contentType: String, request: Request, head: Bool) async throws -> Response {
        try await RangedDownload(
            storage: storage,
            unsatisfiableRangeBody: #"{"code":"range_not_satisfiable","error":"The requested range is not satisfiable"}"#,
            missingBytes: Self.notFound
        ).response(object, contentType: contentType, cacheControl: "private, max-age=3600", request: request, head: head)
    }
}

/// The files the pipeline writes under a reel's media prefix and the types they are served as:
/// `master.m3u8`, `video.mp4`, `poster.jpg`, and `<height>p/index.m3u8`, `<height>p/init.mp4`,
/// `<height>p/seg_<n>.m4s`.
enum ReelMediaFile {
    static let types = [
        "m3u8": "application/vnd.apple.mpegurl", "mp4": "video/mp4", "m4s": "video/iso.segment", "jpg": "image/jpeg",
    ]

    /// Whether `file` has one of those shapes (at most a rendition folder and a file name of
    /// `[A-Za-z0-9_-]` with a known extension).
    static func isValid(_ file: String) -> Bool {
        let parts = file.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let name = parts.last else { return false }
        if parts.count == 2 {
            let folder = parts[0]
            guard (2...5).contains(folder.utf8.count), folder.hasSuffix("p"),
                folder.utf8.dropLast().allSatisfy({ (0x30...0x39).contains($0) })
            else { return false }
        }
        let pieces = name.split(separator: ".", omittingEmptySubsequences: false)
        guard pieces.count == 2, (1...64).contains(pieces[0].utf8.count), types[String(pieces[1])] != nil,
            pieces[0].utf8.allSatisfy({ ReelMediaToken.isAttemptByte($0) })
        else { return false }
        return true
    }

    static func contentType(of file: String) -> String? {
        guard isValid(file), let dot = file.lastIndex(of: ".") else { return nil }
        return types[String(file[file.index(after: dot)...])]
    }
}
