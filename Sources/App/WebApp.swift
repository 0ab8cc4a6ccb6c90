import Core
import Foundation
import Hummingbird
import Logging

/// The single-page web app in `Public/`: static files at `/`, and `GET /app-config.json`
/// telling the page its API key (the page talks to the public API like any other client).
struct WebApp {
    let publicDirectory: String?
    let anonKey: String
    let publicURL: String
    /// Seconds between two codes to one number, so the sign-in page counts down correctly.
    let otpResendSeconds: Int
    /// Digits in a sign-in code (`AUTH_SMS_OTP_LENGTH`), so the sign-in page draws that many cells.
    let otpLength: Int
    /// Where compressed files are kept between runs (`WEB_ASSET_CACHE_DIR`); nil: compress at every start.
    let compressionCache: CompressionCache?

    /// Finds `Public/`: `PUBLIC_DIR`, else `./Public`, else the checkout the binary was built
    /// in (the nearest folder above the executable that has `Package.swift` and `Public/`).
    static func locatePublicDirectory(configured: String?) -> String? {
        let fileManager = FileManager.default
        func hasApp(_ path: String) -> Bool { fileManager.fileExists(atPath: path + "/index.html") }
        if let configured, !configured.isEmpty { return hasApp(configured) ? configured : nil }
        let local = fileManager.currentDirectoryPath + "/Public"
        if hasApp(local) { return local }
        var folder = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = folder.appendingPathComponent("Public").path
            if fileManager.fileExists(atPath: folder.appendingPathComponent("Package.swift").path), hasApp(candidate) { return candidate }
            folder.deleteLastPathComponent()
        }
        return nil
    }

    func addRoutes(to router: Router<AppRequestContext>, logger: Logger) {
        let config: [String: JSONValue] = [
            "url": .string(publicURL), "anonKey": .string(anonKey), "otpResendSeconds": .number(Double(otpResendSeconds)),
            "otpLength": .number(Double(otpLength)),
        ]
        router.get("app-config.json") { _, _ in
            try JSONBody.response(config, headers: [.cacheControl: "no-store"])
        }
        guard let publicDirectory else { return }
        router.add(middleware: WebAppHeadersMiddleware())
        router.add(middleware: StaticAssetMiddleware(assets: Self.loadAssets(publicDirectory, cache: compressionCache, logger: logger)))
        // Files added after start-up or too big to hold in memory: from disk, uncompressed.
        router.add(middleware: FileMiddleware(publicDirectory, searchForIndexHtml: true))
    }

    /// Reads and compresses `Public/` once (compressed forms from `cache` when it has them);
    /// logs what it holds and a missing encoder.
    static func loadAssets(_ directory: String, cache: CompressionCache?, logger: Logger) -> StaticAssets {
        let started = ContinuousClock.now
        let gzip = GzipEncoder.load()
        let brotli = BrotliEncoder.load()
        if gzip == nil { logger.warning("zlib (libz.so.1) not found: the web app is served uncompressed") }
        if brotli == nil { logger.notice("libbrotlienc.so.1 not found: the web app is served with gzip only (apt-get install libbrotli1)") }
        cache?.prune()
        let assets = StaticAssets.load(directory: directory, gzip: gzip, brotli: brotli, cache: cache)
        let elapsed = ContinuousClock.now - started
        logger.info(
            "web app: \(assets.fileCount) files, \(assets.totals["identity"] ?? 0) bytes; gzip \(assets.totals["gzip"] ?? 0), br \(assets.totals["br"] ?? 0) (prepared in \(elapsed.nanoseconds / 1_000_000) ms; compression cache: \(cache?.directory ?? "off"))")
        return assets
    }
}

/// Headers for the web app's files: revalidate on every load unless the file's own answer says
/// otherwise (versioned URLs are immutable, see `StaticAssetMiddleware`) and a strict
/// content-security policy: for documents and the service worker, own origin only (avatars
/// may come from any https URL; the service worker and the manifest from the own origin
/// only); for every other file `default-src 'none'`, as a browser applies a policy only to
/// a document or a worker, and such a file is a document only when opened by itself, where
/// nothing may run or load.
struct WebAppHeadersMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    /// The policy of documents and the service worker.
    static let documentPolicy =
        "default-src 'self'; img-src 'self' https: data:; connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; worker-src 'self'; manifest-src 'self'"
    /// The policy of every other file (scripts, styles, images, JSON): it takes effect only
    /// when the file is opened by itself, where it may run, load and embed nothing. (It is
    /// sent with every file of the first load: the document's policy would cost ~150 bytes
    /// more on each.)
    static let subresourcePolicy = "default-src 'none'; frame-ancestors 'none'"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        let path = request.uri.path
        let isAPI = ["/auth/", "/rest/", "/realtime/", "/functions/", "/storage/", "/metrics", "/health", "/ready"].contains { path.hasPrefix($0) }
        guard !isAPI else { return response }
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-cache" }
        // (A 304 has no type: the path tells a document, whose stored headers it updates.)
        let document = path == "/sw.js" || path.hasSuffix("/") || path.hasSuffix(".html")
            || response.headers[.contentType]?.hasPrefix("text/html") == true
        response.headers[.contentSecurityPolicy] = document ? Self.documentPolicy : Self.subresourcePolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return response
    }
}
