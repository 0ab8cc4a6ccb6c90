import Core
import Foundation
import Hummingbird

/// The single-page web app in `Public/`: static files at `/`, and `GET /app-config.json`
/// telling the page its API key (the page talks to the public API like any other client).
struct WebApp {
    let publicDirectory: String
    let anonKey: String
    let publicURL: String

    /// Finds `Public/`: `PUBLIC_DIR`, else `./Public`, else next to the checkout the binary was built in.
    static func locatePublicDirectory(configured: String?) -> String? {
        var candidates: [String] = []
        if let configured, !configured.isEmpty { candidates.append(configured) }
        candidates.append(FileManager.default.currentDirectoryPath + "/Public")
        // .build/<configuration>/ecomansoni → the package root is two levels up.
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        candidates.append(executable.deletingLastPathComponent().appendingPathComponent("../../Public").standardizedFileURL.path)
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/index.html") }
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        let config = ["url": publicURL, "anonKey": anonKey]
        router.get("app-config.json") { _, _ in
            try JSONBody.response(config, headers: [.cacheControl: "no-store"])
        }
        router.add(middleware: WebAppHeadersMiddleware())
        router.add(middleware: FileMiddleware(publicDirectory, searchForIndexHtml: true))
    }
}

/// Headers for the web app's files: revalidate on every load (ETags keep that cheap) and a
/// strict content-security policy (own origin only; avatars may come from any https URL).
struct WebAppHeadersMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        let path = request.uri.path
        let isAPI = ["/auth/", "/rest/", "/realtime/", "/functions/", "/storage/", "/metrics", "/health", "/ready"].contains { path.hasPrefix($0) }
        guard !isAPI else { return response }
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-cache" }
        response.headers[.contentSecurityPolicy] =
            "default-src 'self'; img-src 'self' https: data:; connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return response
    }
}
