import Core
import Hummingbird

/// Serves the web app's files from `StaticAssets` for GET and HEAD, in the best coding the
/// client accepts (`br`, `gzip`, else identity; always `Vary: Accept-Encoding`), with an ETag
/// per representation and 304 for a matching `If-None-Match`. A URL carrying the file's
/// current version (`?v=`) is cached for a year as immutable; everything else, `/` among
/// it, is `no-cache` (revalidated by ETag). The service worker script (`/sw.js`) is always
/// `no-cache`, whatever its query, so the browser sees a new worker as soon as a file of the
/// app changes (its body lists the versioned URLs of the shell). Other paths go on down the chain.
struct StaticAssetMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let assets: StaticAssets

    static let immutable = "public, max-age=31536000, immutable"
    /// Files that are never cached as immutable: a service worker must be checked for updates.
    static let alwaysRevalidated: Set<String> = ["/sw.js"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get || request.method == .head, let asset = assets[request.uri.path] else {
            return try await next(request, context)
        }
        context.coreContext.endpointPath.value = "static"
        let coding = ContentNegotiation.coding(
            accepting: request.headers[values: .acceptEncoding], available: Array(asset.encoded.keys))
        let representation = coding.flatMap { asset.encoded[$0] } ?? asset.identity
        let versioned = Self.version(inQuery: request.uri.query) == asset.version && !Self.alwaysRevalidated.contains(request.uri.path)
        var headers: HTTPFields = [
            .vary: "Accept-Encoding",
            .eTag: representation.etag,
            .cacheControl: versioned ? Self.immutable : "no-cache",
        ]
        if ContentNegotiation.matches(ifNoneMatch: request.headers[values: .ifNoneMatch], etag: representation.etag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = asset.contentType
        headers[.contentLength] = String(representation.body.readableBytes)
        if let coding { headers[.contentEncoding] = coding.rawValue }
        let body = request.method == .head ? ResponseBody() : ResponseBody(byteBuffer: representation.body)
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The value of the first `v=` in a query string.
    static func version(inQuery query: String?) -> String? {
        guard let query else { return nil }
        for item in query.split(separator: "&") where item.hasPrefix("v=") {
            return String(item.dropFirst(2))
        }
        return nil
    }
}
