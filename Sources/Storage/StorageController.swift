import Core
import Foundation
import Hummingbird
import Logging
import NIOCore

/// The Supabase-Storage-compatible HTTP API under `/storage/v1` (docs/storage.md).
///
/// Object routes take the object path from the raw request path (each segment
/// percent-decoded, then the name rules of ``ObjectPath``), so `a%20b.txt` and `a b.txt` are one
/// object and an empty or dot segment is refused with a 400 naming the rule.
public struct StorageController: Sendable {
    let storage: StorageService
    let logger: Logger

    public init(storage: StorageService, logger: Logger) {
        self.storage = storage
        self.logger = logger
    }

    /// Routes that need the API key and a resolved caller (group: ErrorShape(.storage) →
    /// APIKeyMiddleware → CallerMiddleware).
    public func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("bucket") { _, context in try await listBuckets(context) }
        group.post("bucket") { request, context in try await createBucket(request, context) }
        group.get("bucket/:id") { _, context in try await getBucket(context) }
        group.put("bucket/:id") { request, context in try await updateBucket(request, context) }
        group.delete("bucket/:id") { _, context in try await deleteBucket(context) }
        group.post("bucket/:id/empty") { _, context in try await emptyBucket(context) }
        for method in [HTTPRequest.Method.get, .head, .post, .put, .delete] {
            group.on("object/**", method: method) { request, context in try await objectRoute(request, context) }
        }
        // Same trie nodes as the open routes below, other methods.
        group.post("object/sign/**") { request, context in try await objectRoute(request, context) }
        group.post("object/upload/sign/**") { request, context in try await objectRoute(request, context) }
        // supabase-py's download/public URL with `transform` options; not served here.
        group.get("render/**") { _, _ -> Response in
            throw StorageError.invalid("transform", "image transformations (/render/image) are not supported by this server")
        }
    }

    /// Routes that work without any header (browsers fetch them directly): public objects,
    /// signed downloads and signed uploads (group: ErrorShape(.storage) only).
    public func addOpenRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("object/public/**") { request, _ in try await publicDownload(request, head: false) }
        group.head("object/public/**") { request, _ in try await publicDownload(request, head: true) }
        group.get("object/sign/**") { request, _ in try await signedDownload(request) }
        group.put("object/upload/sign/**") { request, _ in try await signedUpload(request) }
    }

    // MARK: Paths

    /// The raw segments after `/storage/v1/object/`.
    static func objectSegments(_ request: Request) -> [Substring] {
        let path = request.uri.path
        guard let range = path.range(of: "/object/") else { return [] }
        let rest = path[range.upperBound...]
        if rest.isEmpty { return [] }
        return rest.split(separator: "/", omittingEmptySubsequences: false)
    }

    static func bucketAndName(_ segments: ArraySlice<Substring>) throws -> (String, String) {
        guard let first = segments.first else { throw StorageError.invalid("bucket", "the URL must name a bucket: /object/<bucket>/<path>") }
        let bucket = try ObjectPath.bucketID(try ObjectPath.percentDecoded(first, field: "bucket"), field: "bucket")
        let name = try ObjectPath.name(urlSegments: Array(segments.dropFirst()))
        return (bucket, name)
    }

    static func caller(_ context: AppRequestContext) -> Caller { context.caller ?? .anonymous }

    func objectRoute(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let segments = Self.objectSegments(request)[...]
        let caller = Self.caller(context)
        let head = segments.first.map(String.init) ?? ""
        switch (request.method, head) {
        case (.get, "authenticated"), (.head, "authenticated"):
            let (bucket, name) = try Self.bucketAndName(segments.dropFirst())
            return try await download(try await storage.object(caller, bucket: bucket, name: name), request, head: request.method == .head)
        case (.get, "info"):
            var rest = segments.dropFirst()
            if let scope = rest.first, scope == "authenticated" || scope == "public" { rest = rest.dropFirst() }
            let (bucket, name) = try Self.bucketAndName(rest)
            return try Self.json(Self.info(try await storage.object(caller, bucket: bucket, name: name)))
        case (.get, _), (.head, _):
            let (bucket, name) = try Self.bucketAndName(segments)
            return try await download(try await storage.object(caller, bucket: bucket, name: name), request, head: request.method == .head)
        case (.post, "list"):
            return try await list(request, caller, segments.dropFirst())
        case (.post, "move") where segments.count == 1:
            return try await moveOrCopy(request, caller, copy: false)
        case (.post, "copy") where segments.count == 1:
            return try await moveOrCopy(request, caller, copy: true)
        case (.post, "sign") where segments.count == 2:
            return try await signMany(request, caller, segments.dropFirst())
        case (.post, "sign"):
            return try await sign(request, caller, segments.dropFirst())
        case (.post, "upload") where segments.dropFirst().first == "sign":
            let (bucket, name) = try Self.bucketAndName(segments.dropFirst(2))
            let upsert = request.headers[.xUpsert]?.lowercased() == "true"
            let token = try await storage.signUpload(caller, bucket: bucket, name: name, upsert: upsert)
            return try Self.json([
                "url": "/object/upload/sign/\(bucket)/\(ObjectPath.urlEncoded(name))?token=\(token)", "token": token,
            ])
        case (.post, _), (.put, _):
            let (bucket, name) = try Self.bucketAndName(segments)
            let isUpdate = request.method == .put
            if isUpdate { _ = try await storage.object(caller, bucket: bucket, name: name) }
            let upsert = isUpdate || request.headers[.xUpsert]?.lowercased() == "true"
            let object = try await upload(request, context, caller: caller, bucket: bucket, name: name, upsert: upsert)
            return try Self.json(["Id": object.id.uuidString.lowercased(), "Key": "\(bucket)/\(name)"])
        case (.delete, _) where segments.count == 1:
            return try await remove(request, caller, segments)
        case (.delete, _):
            let (bucket, name) = try Self.bucketAndName(segments)
            let removed = try await storage.remove(caller, bucket: bucket, names: [name])
            guard !removed.isEmpty else { throw StorageError.objectNotFound }
            return try Self.json(["message": "Successfully deleted"])
        default:
            throw APIError(status: .notFound, code: "not_found", message: "No storage route \(request.method) \(request.uri.path)")
        }
    }

    // MARK: Uploads

    /// Streams the request's file (multipart form or raw body) into the storage service.
    func upload(
        _ request: Request, _ context: AppRequestContext?, caller: Caller?, bucket: String, name: String, upsert: Bool, token: String? = nil
    ) async throws -> StoredObject {
        let contentType = request.headers[.contentType] ?? ""
        if MimeType.essence(contentType) == "multipart/form-data" {
            let boundary: String
            do {
                boundary = try MultipartContentType.boundary(contentType)
            } catch {
                throw StorageError.invalid("Content-Type", error.description)
            }
            let form: MultipartUpload
            do {
                form = try await MultipartUpload.read(body: request.body, boundary: boundary)
            } catch let error as MultipartError {
                throw StorageError.invalid("body", error.description)
            }
            let content = UploadContent(
                mimeType: form.file.contentType ?? form.fields["contentType"] ?? "application/octet-stream",
                cacheControl: form.fields["cacheControl"], metadataJSON: form.fields["metadata"])
            let finish: @Sendable () async throws -> Void = {
                do {
                    _ = try await form.finish()
                } catch let error as MultipartError {
                    throw StorageError.invalid("body", error.description)
                }
            }
            do {
                return try await store(caller, token: token, bucket: bucket, name: name, upsert: upsert, content: content, body: form.file.bytes, finish: finish)
            } catch let error as MultipartError {
                throw StorageError.invalid("body", error.description)
            }
        }
        let declared = request.headers[.contentLength].flatMap { Int64($0) }
        let content = UploadContent(
            mimeType: contentType.isEmpty ? "application/octet-stream" : contentType, cacheControl: request.headers[.cacheControl],
            metadataJSON: try request.headers[.xMetadata].map(Self.base64JSON), declaredSize: declared)
        return try await store(caller, token: token, bucket: bucket, name: name, upsert: upsert, content: content, body: request.body, finish: {})
    }

    func store(
        _ caller: Caller?, token: String?, bucket: String, name: String, upsert: Bool, content: UploadContent,
        body: some AsyncSequence<ByteBuffer, any Error> & Sendable, finish: @escaping @Sendable () async throws -> Void
    ) async throws -> StoredObject {
        if let token {
            return try await storage.uploadWithToken(token, bucket: bucket, name: name, content: content, body: body, beforeCommit: finish)
        }
        return try await storage.upload(caller, bucket: bucket, name: name, upsert: upsert, content: content, body: body, beforeCommit: finish)
    }

    /// `x-metadata`: base64 of a JSON object (Supabase's raw-upload convention).
    static func base64JSON(_ value: String) throws -> String {
        guard let data = Data(base64Encoded: value), let text = String(data: data, encoding: .utf8) else {
            throw StorageError.invalid("x-metadata", "base64 of a JSON object")
        }
        return text
    }

    func signedUpload(_ request: Request) async throws -> Response {
        let segments = Self.objectSegments(request)
        guard segments.count >= 3, segments[0] == "upload", segments[1] == "sign" else {
            throw StorageError.invalid("path", "expected /object/upload/sign/<bucket>/<path>")
        }
        let (bucket, name) = try Self.bucketAndName(segments.dropFirst(2))
        guard let token = request.uri.queryParameters.get("token"), !token.isEmpty else {
            throw StorageError.invalidToken("the token query parameter is required")
        }
        let object = try await upload(request, nil, caller: nil, bucket: bucket, name: name, upsert: false, token: token)
        return try Self.json(["Id": object.id.uuidString.lowercased(), "Key": "\(bucket)/\(name)"])
    }

    // MARK: Downloads

    func publicDownload(_ request: Request, head: Bool) async throws -> Response {
        let segments = Self.objectSegments(request)
        guard segments.first == "public" else { throw StorageError.objectNotFound }
        let (bucket, name) = try Self.bucketAndName(segments.dropFirst())
        return try await download(try await storage.publicObject(bucket: bucket, name: name), request, head: head)
    }

    func signedDownload(_ request: Request) async throws -> Response {
        let segments = Self.objectSegments(request)
        guard segments.first == "sign" else { throw StorageError.objectNotFound }
        let (bucket, name) = try Self.bucketAndName(segments.dropFirst())
        guard let token = request.uri.queryParameters.get("token"), !token.isEmpty else {
            throw StorageError.invalidToken("the token query parameter is required")
        }
        let object = try await storage.signedObject(bucket: bucket, name: name, token: token)
        return try await download(object, request, head: false)
    }

    /// Serves an object (``RangedDownload``) with its stored type, Cache-Control and
    /// Last-Modified, and `Content-Disposition: attachment` when `?download` is given.
    func download(_ object: StoredObject, _ request: Request, head: Bool) async throws -> Response {
        var extraHeaders: HTTPFields = [.lastModified: HTTPDate.format(object.updatedAt)]
        if let download = request.uri.queryParameters.get("download") {
            let filename = download.isEmpty ? String(object.name.split(separator: "/").last ?? "download") : String(download)
            extraHeaders[.contentDisposition] = "attachment; filename*=UTF-8''\(ObjectPath.urlEncoded(filename).replacingOccurrences(of: "/", with: "%2F"))"
        }
        return try await Self.downloads(storage).response(
            object, contentType: object.mimeType, cacheControl: object.cacheControl, extraHeaders: extraHeaders, request: request, head: head)
    }

    /// Storage's download answers: its 416 body and its 404 for an object without bytes.
    static func downloads(_ storage: StorageService) -> RangedDownload {
        RangedDownload(
            storage: storage,
            unsatisfiableRangeBody: #"{"statusCode":"416","error":"InvalidRange","message":"The requested range is not satisfiable"}"#,
            missingBytes: StorageError.objectNotFound)
    }

    // MARK: Object JSON

    static func info(_ object: StoredObject) -> [String: Any] {
        [
            "id": object.id.uuidString.lowercased(), "name": object.name, "version": object.version.uuidString.lowercased(),
            "bucket_id": object.bucketID, "size": object.size, "content_type": object.mimeType, "cache_control": object.cacheControl,
            "etag": "\"\(object.etag)\"", "metadata": metadata(object), "last_modified": Timestamp.format(object.updatedAt),
            "created_at": Timestamp.format(object.createdAt),
            // What the server measured: width, height, duration_ms, waveform, thumbnail, poster, sizes.
            "media": (try? JSONSerialization.jsonObject(with: Data(object.mediaJSON.utf8))) ?? [String: Any](),
        ]
    }

    static func metadata(_ object: StoredObject) -> Any {
        (try? JSONSerialization.jsonObject(with: Data(object.metadataJSON.utf8))) ?? [String: Any]()
    }

    /// Storage's `metadata` of a listed or removed object (the system metadata).
    static func systemMetadata(_ object: StoredObject) -> [String: Any] {
        [
            "eTag": "\"\(object.etag)\"", "size": object.size, "mimetype": object.mimeType, "cacheControl": object.cacheControl,
            "lastModified": Timestamp.format(object.updatedAt), "contentLength": object.size, "httpStatusCode": 200,
        ]
    }

    static func row(_ object: StoredObject) -> [String: Any] {
        [
            "id": object.id.uuidString.lowercased(), "name": object.name, "bucket_id": object.bucketID,
            "owner": object.owner?.uuidString.lowercased() ?? "", "version": object.version.uuidString.lowercased(),
            "created_at": Timestamp.format(object.createdAt), "updated_at": Timestamp.format(object.updatedAt),
            "last_accessed_at": Timestamp.format(object.lastAccessedAt), "metadata": systemMetadata(object),
            "user_metadata": metadata(object),
        ]
    }

    // MARK: List, remove, move, copy, sign

    func list(_ request: Request, _ caller: Caller, _ segments: ArraySlice<Substring>) async throws -> Response {
        guard segments.count == 1, let first = segments.first else {
            throw StorageError.invalid("bucket", "the URL must be /object/list/<bucket>")
        }
        let bucket = try ObjectPath.bucketID(try ObjectPath.percentDecoded(first, field: "bucket"), field: "bucket")
        let body = try JSONBody.object(from: try await JSONBody.bytes(of: request))
        let prefix = try ObjectPath.folder(try Self.string(body, "prefix") ?? "")
        let search = try Self.string(body, "search") ?? ""
        guard search.utf8.count <= 1024, !search.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw StorageError.invalid("search", "at most 1024 bytes without control characters")
        }
        let limit = try Self.integer(body, "limit", default: 100, in: 1...1000)
        let offset = try Self.integer(body, "offset", default: 0, in: 0...1_000_000)
        var column = "name"
        var ascending = true
        if let sort = body["sortBy"], !(sort is NSNull) {
            guard let sort = sort as? [String: Any] else { throw StorageError.invalid("sortBy", "an object {column, order}") }
            if let value = sort["column"], !(value is NSNull) {
                guard let text = value as? String, ["name", "created_at", "updated_at", "last_accessed_at"].contains(text) else {
                    throw StorageError.invalid("sortBy.column", "one of name, created_at, updated_at, last_accessed_at")
                }
                column = text
            }
            if let value = sort["order"], !(value is NSNull) {
                guard let text = (value as? String)?.lowercased(), text == "asc" || text == "desc" else {
                    throw StorageError.invalid("sortBy.order", "asc or desc")
                }
                ascending = text == "asc"
            }
        }
        let entries = try await storage.list(
            caller, bucket: bucket, prefix: prefix, search: search, limit: limit, offset: offset, sortColumn: column, ascending: ascending)
        let items: [[String: Any]] = entries.map { entry in
            guard let object = entry.object else {
                return [
                    "name": entry.name, "id": NSNull(), "updated_at": NSNull(), "created_at": NSNull(), "last_accessed_at": NSNull(),
                    "metadata": NSNull(),
                ]
            }
            return [
                "name": entry.name, "id": object.id.uuidString.lowercased(), "updated_at": Timestamp.format(object.updatedAt),
                "created_at": Timestamp.format(object.createdAt), "last_accessed_at": Timestamp.format(object.lastAccessedAt),
                "metadata": Self.systemMetadata(object),
            ]
        }
        return try Self.json(items)
    }

    func remove(_ request: Request, _ caller: Caller, _ segments: ArraySlice<Substring>) async throws -> Response {
        guard let first = segments.first else { throw StorageError.invalid("bucket", "the URL must be /object/<bucket>") }
        let bucket = try ObjectPath.bucketID(try ObjectPath.percentDecoded(first, field: "bucket"), field: "bucket")
        let body = try JSONBody.object(from: try await JSONBody.bytes(of: request))
        guard let prefixes = body["prefixes"] as? [Any], !prefixes.isEmpty, prefixes.count <= 1000 else {
            throw StorageError.invalid("prefixes", "a list of 1 to 1000 object names")
        }
        var names: [String] = []
        for (index, value) in prefixes.enumerated() {
            guard let text = value as? String else { throw StorageError.invalid("prefixes[\(index)]", "an object name (string)") }
            names.append(try ObjectPath.name(text, field: "prefixes[\(index)]"))
        }
        let removed = try await storage.remove(caller, bucket: bucket, names: names)
        return try Self.json(removed.map(Self.row))
    }

    func moveOrCopy(_ request: Request, _ caller: Caller, copy: Bool) async throws -> Response {
        let body = try JSONBody.object(from: try await JSONBody.bytes(of: request))
        guard let bucketText = try Self.string(body, "bucketId") else { throw StorageError.invalid("bucketId", "required") }
        let bucket = try ObjectPath.bucketID(bucketText, field: "bucketId")
        if let destination = try Self.string(body, "destinationBucket"), destination != bucket {
            throw StorageError.invalid("destinationBucket", "objects move and copy within their bucket only")
        }
        guard let sourceText = try Self.string(body, "sourceKey") else { throw StorageError.invalid("sourceKey", "required") }
        guard let destinationText = try Self.string(body, "destinationKey") else { throw StorageError.invalid("destinationKey", "required") }
        let source = try ObjectPath.name(sourceText, field: "sourceKey")
        let destination = try ObjectPath.name(destinationText, field: "destinationKey")
        if copy {
            let upsert = request.headers[.xUpsert]?.lowercased() == "true"
            let object = try await storage.copy(caller, bucket: bucket, from: source, to: destination, upsert: upsert)
            return try Self.json(["Id": object.id.uuidString.lowercased(), "Key": "\(bucket)/\(destination)"])
        }
        guard source != destination else { throw StorageError.invalid("destinationKey", "must differ from sourceKey") }
        _ = try await storage.move(caller, bucket: bucket, from: source, to: destination)
        return try Self.json(["message": "Successfully moved"])
    }

    func sign(_ request: Request, _ caller: Caller, _ segments: ArraySlice<Substring>) async throws -> Response {
        let (bucket, name) = try Self.bucketAndName(segments)
        let body = try JSONBody.object(from: try await JSONBody.bytes(of: request))
        let expiresIn = try Self.integer(body, "expiresIn", default: nil, in: Int.min...Int.max)
        let token = try await storage.signDownload(caller, bucket: bucket, name: name, expiresIn: expiresIn)
        return try Self.json(["signedURL": "/object/sign/\(bucket)/\(ObjectPath.urlEncoded(name))?token=\(token)"])
    }

    func signMany(_ request: Request, _ caller: Caller, _ segments: ArraySlice<Substring>) async throws -> Response {
        guard let first = segments.first else { throw StorageError.invalid("bucket", "the URL must be /object/sign/<bucket>") }
        let bucket = try ObjectPath.bucketID(try ObjectPath.percentDecoded(first, field: "bucket"), field: "bucket")
        let body = try JSONBody.object(from: try await JSONBody.bytes(of: request))
        let expiresIn = try Self.integer(body, "expiresIn", default: nil, in: Int.min...Int.max)
        guard let paths = body["paths"] as? [Any], !paths.isEmpty, paths.count <= 1000 else {
            throw StorageError.invalid("paths", "a list of 1 to 1000 object names")
        }
        var names: [String] = []
        for (index, value) in paths.enumerated() {
            guard let text = value as? String else { throw StorageError.invalid("paths[\(index)]", "an object name (string)") }
            names.append(text)
        }
        let tokens = try await storage.signDownloads(caller, bucket: bucket, names: names, expiresIn: expiresIn)
        let items: [[String: Any]] = zip(names, tokens).map { name, token in
            guard let token, let valid = try? ObjectPath.name(name) else {
                return ["error": "Either the object does not exist or you do not have access to it", "path": name, "signedURL": NSNull()]
            }
            return ["error": NSNull(), "path": name, "signedURL": "/object/sign/\(bucket)/\(ObjectPath.urlEncoded(valid))?token=\(token)"]
        }
        return try Self.json(items)
    }

    // MARK: Buckets

    static func bucketJSON(_ bucket: Bucket) -> [String: Any] {
        [
            "id": bucket.id, "name": bucket.name, "owner": bucket.owner?.uuidString.lowercased() ?? "", "public": bucket.isPublic,
            "file_size_limit": bucket.fileSizeLimit.map { $0 as Any } ?? NSNull(),
            "allowed_mime_types": bucket.allowedMimeTypes.map { $0 as Any } ?? NSNull(),
            "created_at": Timestamp.format(bucket.createdAt), "updated_at": Timestamp.format(bucket.updatedAt), "type": "STANDARD",
        ]
    }

    func listBuckets(_ context: AppRequestContext) async throws -> Response {
        try Self.json(try await storage.listBuckets(Self.caller(context)).map(Self.bucketJSON))
    }

    func getBucket(_ context: AppRequestContext) async throws -> Response {
        try Self.json(Self.bucketJSON(try await storage.bucket(Self.caller(context), id: try Self.bucketParameter(context))))
    }

    static func bucketParameter(_ context: AppRequestContext) throws -> String {
        guard let raw = context.parameters.get("id") else { throw StorageError.invalid("bucket", "required") }
        return try ObjectPath.percentDecoded(raw[...], field: "bucket")
    }

    func createBucket(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let body = try JSONBody.object(from: try await JSONBody.bytes(of: request))
        guard let id = try Self.string(body, "id") ?? Self.string(body, "name") else { throw StorageError.invalid("id", "required") }
        try await storage.createBucket(Self.caller(context), id: id, name: try Self.string(body, "name"), options: try Self.bucketOptions(body))
        return try Self.json(["name": id])
    }

    func updateBucket(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let body = try JSONBody.object(from: try await JSONBody.bytes(of: request))
        try await storage.updateBucket(Self.caller(context), id: try Self.bucketParameter(context), options: try Self.bucketOptions(body))
        return try Self.json(["message": "Successfully updated"])
    }

    func emptyBucket(_ context: AppRequestContext) async throws -> Response {
        try await storage.emptyBucket(Self.caller(context), id: try Self.bucketParameter(context))
        return try Self.json(["message": "Successfully emptied"])
    }

    func deleteBucket(_ context: AppRequestContext) async throws -> Response {
        try await storage.deleteBucket(Self.caller(context), id: try Self.bucketParameter(context))
        return try Self.json(["message": "Successfully deleted"])
    }

    static func bucketOptions(_ body: [String: Any]) throws -> StorageService.BucketOptions {
        var options = StorageService.BucketOptions()
        if let value = body["public"], !(value is NSNull) {
            guard let number = value as? NSNumber, isBoolean(number) else { throw StorageError.invalid("public", "true or false") }
            options.isPublic = number.boolValue
        }
        if let value = body["file_size_limit"] {
            if value is NSNull {
                options.fileSizeLimit = .some(nil)
            } else {
                options.fileSizeLimit = .some(Int64(try integer(body, "file_size_limit", default: nil, in: 1...Int.max)))
            }
        }
        if let value = body["allowed_mime_types"] {
            if value is NSNull {
                options.allowedMimeTypes = .some(nil)
            } else {
                guard let list = value as? [Any] else { throw StorageError.invalid("allowed_mime_types", "a list of MIME types or null") }
                var types: [String] = []
                for (index, item) in list.enumerated() {
                    guard let text = item as? String else { throw StorageError.invalid("allowed_mime_types[\(index)]", "a MIME type (string)") }
                    types.append(text)
                }
                options.allowedMimeTypes = .some(types.isEmpty ? nil : types)
            }
        }
        return options
    }

    // MARK: JSON helpers

    /// Whether a parsed JSON number is `true`/`false` (JSONSerialization's booleans are NSNumbers of type `c`).
    static func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

    static func json(_ object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    /// A string member (nil when absent or null); 400 naming the field otherwise.
    static func string(_ body: [String: Any], _ field: String) throws -> String? {
        guard let value = body[field], !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw StorageError.invalid(field, "a string") }
        return text
    }

    /// An integer member given as a JSON number or a decimal string (supabase-py sends
    /// `expiresIn` as a string); `default` nil makes it required.
    static func integer(_ body: [String: Any], _ field: String, default value: Int?, in range: ClosedRange<Int>) throws -> Int {
        guard let raw = body[field], !(raw is NSNull) else {
            guard let value else { throw StorageError.invalid(field, "required (an integer)") }
            return value
        }
        let number: Int?
        if let text = raw as? String {
            number = Int(text.trimmingCharacters(in: .whitespaces))
        } else if let numeric = raw as? NSNumber, !isBoolean(numeric) {
            let double = numeric.doubleValue
            number = double.rounded() == double && abs(double) < 9.0e15 ? Int(exactly: double) : nil
        } else {
            number = nil
        }
        guard let number, range.contains(number) else {
            throw StorageError.invalid(field, "an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}

/// HTTP dates (`Last-Modified`): `Wed, 02 Dec 2026 18:00:00 GMT` (IMF-fixdate, RFC 9110 §5.6.7).
enum HTTPDate {
    static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func format(_ date: Date) -> String {
        var seconds = time_t(Int(exactly: date.timeIntervalSince1970.rounded(.down)) ?? 0)
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil, (0..<7).contains(parts.tm_wday), (0..<12).contains(parts.tm_mon) else {
            return "Thu, 01 Jan 1970 00:00:00 GMT"
        }
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}

// Constant, valid header names (no client input).
extension HTTPField.Name {
    static let xUpsert = HTTPField.Name("x-upsert")!
    static let xMetadata = HTTPField.Name("x-metadata")!
}
