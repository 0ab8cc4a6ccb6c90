import Core
import Foundation
import Hummingbird
import Logging
import NIOCore

/// TUS 1.0.0 at `/storage/v1/upload/resumable`, as Supabase Storage serves it
/// (docs/storage.md "Resumable uploads (TUS)"): extensions creation, creation-with-upload,
/// termination and expiration; `Upload-Metadata` keys `bucketName`, `objectName`,
/// `contentType`, `cacheControl`, `metadata` (JSON text); `x-upsert: true` at creation;
/// upload URLs `/storage/v1/upload/resumable/<base64url of bucket/name/uuid>`.
///
/// Errors are answered the TUS way: the real HTTP status and the message as plain text
/// (tus-js-client decides on the status whether to retry).
public struct ResumableUploadController: Sendable {
    let uploads: ResumableUploads
    /// `PUBLIC_URL` without a trailing `/`, for absolute upload URLs; nil: from the Host header.
    let publicURL: String?

    public init(uploads: ResumableUploads, publicURL: String?) {
        self.uploads = uploads
        if let publicURL, !publicURL.isEmpty {
            self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        } else {
            self.publicURL = nil
        }
    }

    static let path = "/storage/v1/upload/resumable"
    static let extensions = "creation,creation-with-upload,termination,expiration"
    static let offsetOctetStream = "application/offset+octet-stream"

    /// Routes that need the API key and a caller (group `storage/v1/upload/resumable`:
    /// ``TusErrorMiddleware`` → APIKeyMiddleware → CallerMiddleware).
    public func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post { request, context in try await create(request, context) }
        group.head(":id") { request, context in try await head(request, context) }
        group.patch(":id") { request, context in try await patch(request, context) }
        group.delete(":id") { request, context in try await terminate(request, context) }
    }

    /// OPTIONS (protocol discovery) needs no header, as Supabase; the signed variant
    /// (`/upload/resumable/sign`, authorised by a signed upload URL's token in `x-signature`)
    /// needs no key either (group: ``TusErrorMiddleware`` only).
    public func addOpenRoutes(to group: RouterGroup<AppRequestContext>) {
        group.on("", method: .options) { _, _ in options() }
        group.on(":id", method: .options) { _, _ in options() }
        group.on("sign", method: .options) { _, _ in options() }
        group.on("sign/:id", method: .options) { _, _ in options() }
        group.post("sign") { request, context in try await create(request, context, signed: true) }
        group.head("sign/:id") { request, context in try await head(request, context, signed: true) }
        group.patch("sign/:id") { request, context in try await patch(request, context, signed: true) }
        group.delete("sign/:id") { request, context in try await terminate(request, context, signed: true) }
    }

    // MARK: Handlers

    func options() -> Response {
        var headers = Self.baseHeaders()
        headers[.tusVersion] = TusHeaders.version
        headers[.tusExtension] = Self.extensions
        headers[.tusMaxSize] = String(uploads.storage.settings.maxUploadBytes)
        return Response(status: .noContent, headers: headers)
    }

    func create(_ request: Request, _ context: AppRequestContext, signed: Bool = false) async throws -> Response {
        try TusHeaders.checkVersion(request.headers[.tusResumable])
        let token = signed ? try Self.signature(request) : nil
        if request.headers[.uploadDeferLength] != nil {
            throw StorageError.invalid("Upload-Defer-Length", "not supported: send Upload-Length")
        }
        let length = try TusHeaders.byteCount(request.headers[.uploadLength], header: "Upload-Length")
        let metadata = try TusHeaders.metadata(request.headers[.uploadMetadata])
        guard let bucket = metadata["bucketName"], !bucket.isEmpty else {
            throw StorageError.invalid("Upload-Metadata", "bucketName is required")
        }
        guard let name = metadata["objectName"], !name.isEmpty else {
            throw StorageError.invalid("Upload-Metadata", "objectName is required")
        }
        let declaration = ResumableUploads.Declaration(
            bucket: bucket, name: name, length: length, upsert: request.headers[.xUpsert]?.lowercased() == "true",
            contentType: metadata["contentType"].flatMap { $0.isEmpty ? nil : $0 },
            cacheControl: metadata["cacheControl"].flatMap { $0.isEmpty ? nil : $0 },
            metadataJSON: metadata["metadata"].flatMap { $0.isEmpty ? nil : $0 })
        let caller: Caller
        var upload: ResumableUpload
        if let token {
            caller = ResumableUploads.signedCaller
            upload = try await uploads.createSigned(token: token, declaration)
        } else {
            caller = context.caller ?? .anonymous
            upload = try await uploads.create(caller, declaration)
        }
        var headers = Self.baseHeaders()
        headers[.location] = location(request, (signed ? "sign/" : "") + upload.uploadID.encoded)
        // creation-with-upload: the body (if any) is the first chunk; an empty upload is complete at once.
        let hasBody = MimeType.essence(request.headers[.contentType] ?? "") == Self.offsetOctetStream
        if hasBody || length == 0 {
            let progress: ResumableUploads.Progress
            do {
                progress = try await uploads.append(
                    caller, upload.uploadID, offset: 0, declaredSize: request.headers[.contentLength].flatMap { Int64($0) },
                    body: request.body)
            } catch {
                // The answer carries no Location, so nobody can resume this upload: remove it
                // now rather than let its length hold the owner's quota until it expires.
                await uploads.discardUnannounced(upload)
                throw error
            }
            if progress.connectionCut {
                // The client is gone without the Location: nobody can resume this upload.
                await uploads.discardUnannounced(upload)
                throw CancellationError()
            }
            upload = progress.upload
            headers[.uploadOffset] = String(upload.offset)
            if progress.object != nil { headers[.tusComplete] = "1" }
        }
        if upload.status == .receiving { headers[.uploadExpires] = HTTPDate.format(upload.expiresAt) }
        return Response(status: .created, headers: headers)
    }

    func head(_ request: Request, _ context: AppRequestContext, signed: Bool = false) async throws -> Response {
        try TusHeaders.checkVersion(request.headers[.tusResumable])
        let id = try Self.uploadID(context)
        let upload = try await uploads.status(try await caller(request, context, id, signed: signed), id)
        var headers = Self.baseHeaders()
        headers[.uploadOffset] = String(upload.offset)
        headers[.uploadLength] = String(upload.length)
        headers[.cacheControl] = "no-store"
        if upload.status == .receiving { headers[.uploadExpires] = HTTPDate.format(upload.expiresAt) }
        return Response(status: .ok, headers: headers)
    }

    func patch(_ request: Request, _ context: AppRequestContext, signed: Bool = false) async throws -> Response {
        try TusHeaders.checkVersion(request.headers[.tusResumable])
        guard MimeType.essence(request.headers[.contentType] ?? "") == Self.offsetOctetStream else {
            throw APIError(
                status: .unsupportedMediaType, code: "invalid_mime_type", message: "Content-Type: a PATCH body is \(Self.offsetOctetStream)")
        }
        let offset = try TusHeaders.byteCount(request.headers[.uploadOffset], header: "Upload-Offset")
        let id = try Self.uploadID(context)
        let declared = request.headers[.contentLength].flatMap { Int64($0) }
        let caller = try await caller(request, context, id, signed: signed)
        let progress = try await uploads.append(caller, id, offset: offset, declaredSize: declared, body: request.body)
        var headers = Self.baseHeaders()
        headers[.uploadOffset] = String(progress.upload.offset)
        if progress.upload.status == .receiving { headers[.uploadExpires] = HTTPDate.format(progress.upload.expiresAt) }
        // As Supabase: the answer that stored the object says so.
        if progress.object != nil { headers[.tusComplete] = "1" }
        return Response(status: .noContent, headers: headers)
    }

    func terminate(_ request: Request, _ context: AppRequestContext, signed: Bool = false) async throws -> Response {
        try TusHeaders.checkVersion(request.headers[.tusResumable])
        let id = try Self.uploadID(context)
        try await uploads.terminate(try await caller(request, context, id, signed: signed), id)
        return Response(status: .noContent, headers: Self.baseHeaders())
    }

    // MARK: Helpers

    /// The request's caller, or for the signed variant the role its `x-signature` grants on `id`.
    func caller(_ request: Request, _ context: AppRequestContext, _ id: TusHeaders.UploadID, signed: Bool) async throws -> Caller {
        guard signed else { return context.caller ?? .anonymous }
        return try await uploads.signedCaller(token: try Self.signature(request), id)
    }

    /// `x-signature`: the token of a signed upload URL (Supabase's header for signed TUS uploads).
    static func signature(_ request: Request) throws -> String {
        guard let token = request.headers[.xSignature], !token.isEmpty else {
            throw StorageError.invalid("x-signature", "Missing x-signature header (the token of a signed upload URL)")
        }
        return token
    }

    static func baseHeaders() -> HTTPFields { [.tusResumable: TusHeaders.version] }

    /// The `:id` segment decoded; anything this server did not issue is an unknown upload.
    static func uploadID(_ context: AppRequestContext) throws -> TusHeaders.UploadID {
        guard let raw = context.parameters.get("id"), let id = try? TusHeaders.uploadID(raw) else { throw ResumableUploads.notFound }
        return id
    }

    /// The absolute upload URL: `PUBLIC_URL`, else (as Supabase, which respects forwarded
    /// headers) `X-Forwarded-Proto`/`X-Forwarded-Host` or the request's Host; the path alone
    /// when no host is usable (TUS allows a relative Location). The URL goes back only to the
    /// client that sent these headers.
    func location(_ request: Request, _ id: String) -> String {
        let path = "\(Self.path)/\(id)"
        if let publicURL { return publicURL + path }
        let forwardedProto = request.headers[.xForwardedProto]?.lowercased()
        let scheme = forwardedProto == "https" ? "https" : "http"
        let host = request.headers[.xForwardedHost].flatMap { Self.isHost($0) ? $0 : nil } ?? request.head.authority
        if let host, Self.isHost(host) { return "\(scheme)://\(host)\(path)" }
        return path
    }

    /// A Host header that is safe to echo: letters, digits, `.-:[]`, at most 255 bytes.
    static func isHost(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 255
            && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"):
                    return true
                default:
                    return false
                }
            }
    }
}

/// Answers errors of the TUS routes as tus servers do: the real status, the message as
/// plain text, `Tus-Resumable` (and `Tus-Version` for a version mismatch, 412).
public struct TusErrorMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as TusHeaderError {
            if error.header == "Tus-Resumable" {
                var headers = ResumableUploadController.baseHeaders()
                headers[.tusVersion] = TusHeaders.version
                return Self.text(.preconditionFailed, error.description, headers)
            }
            return Self.text(.badRequest, error.description)
        } catch let error as APIError {
            var headers = ResumableUploadController.baseHeaders()
            if let retry = error.retryAfterSeconds { headers[.retryAfter] = String(retry) }
            return Self.text(error.status, error.message, headers)
        } catch let error as HTTPError {
            return Self.text(error.status, error.body ?? error.status.reasonPhrase)
        }
    }

    static func text(_ status: HTTPResponse.Status, _ message: String, _ headers: HTTPFields = ResumableUploadController.baseHeaders()) -> Response {
        var headers = headers
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: message)))
    }
}

// Constant, valid header names (no client input).
extension HTTPField.Name {
    static let tusResumable = HTTPField.Name("Tus-Resumable")!
    static let tusVersion = HTTPField.Name("Tus-Version")!
    static let tusExtension = HTTPField.Name("Tus-Extension")!
    static let tusMaxSize = HTTPField.Name("Tus-Max-Size")!
    static let uploadLength = HTTPField.Name("Upload-Length")!
    static let uploadOffset = HTTPField.Name("Upload-Offset")!
    static let uploadMetadata = HTTPField.Name("Upload-Metadata")!
    static let uploadExpires = HTTPField.Name("Upload-Expires")!
    static let uploadDeferLength = HTTPField.Name("Upload-Defer-Length")!
    static let xSignature = HTTPField.Name("x-signature")!
    static let tusComplete = HTTPField.Name("Tus-Complete")!
    static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let xForwardedHost = HTTPField.Name("X-Forwarded-Host")!
}
