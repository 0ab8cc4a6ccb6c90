@testable import App
import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite struct AssetVersioningTests {
    static let files: [String: [UInt8]] = [
        "index.html": Array(#"<link rel="stylesheet" href="styles/app.css"><script type="module" src="app/main.js"></script><a data-src="app/a.js" href="https://x/app/a.js">"#.utf8),
        "styles/app.css": Array("body { color: red }".utf8),
        "app/main.js": Array("import { a } from './a.js';\nconst m = 'a.js', l = `./${m}`;\nimport('./b.js');\nimport('./missing.js');\n".utf8),
        "app/a.js": Array("import { b } from \"./b.js\"; // don't\nexport const a = 1;".utf8),
        "app/b.js": Array("import { a } from '../app/a.js';\nexport const b = 2;".utf8),
        "favicon.svg": Array("<svg/>".utf8),
    ]

    @Test func rewritesReferencesToKnownFilesOnly() {
        let (versions, bodies) = AssetVersioning.version(Self.files)
        let text = { (path: String) in String(decoding: bodies[path] ?? [], as: UTF8.self) }
        let v = { (path: String) in versions[path] ?? "?" }
        #expect(text("index.html").contains(#"href="styles/app.css?v=\#(v("styles/app.css"))""#))
        #expect(text("index.html").contains(#"src="app/main.js?v=\#(v("app/main.js"))""#))
        #expect(text("index.html").contains(#"data-src="app/a.js""#))  // not an href/src attribute
        #expect(text("index.html").contains(#"href="https://x/app/a.js""#))
        #expect(text("app/main.js").contains("from './a.js?v=\(v("app/a.js"))'"))
        #expect(text("app/main.js").contains("import('./b.js?v=\(v("app/b.js"))')"))
        #expect(text("app/main.js").contains("'a.js'") && text("app/main.js").contains("`./${m}`"))
        #expect(text("app/main.js").contains("import('./missing.js')"))
        #expect(text("app/a.js").contains(#"from "./b.js?v=\#(v("app/b.js"))""#))
        #expect(text("app/b.js").contains("from '../app/a.js?v=\(v("app/a.js"))'"))
        #expect(bodies["styles/app.css"] == Self.files["styles/app.css"])
        #expect(versions.values.allSatisfy { $0.count == 16 })
    }

    @Test func aVersionCoversEverythingAFileReaches() {
        let before = AssetVersioning.version(Self.files).versions
        var changed = Self.files
        changed["app/b.js"] = Array("import { a } from '../app/a.js';\nexport const b = 3;".utf8)
        let after = AssetVersioning.version(changed).versions
        // b changed; a and main reach it (a through the a ⇄ b cycle); the stylesheet does not.
        for path in ["app/b.js", "app/a.js", "app/main.js", "index.html"] { #expect(before[path] != after[path], "\(path)") }
        for path in ["styles/app.css", "favicon.svg"] { #expect(before[path] == after[path], "\(path)") }
        #expect(AssetVersioning.version(Self.files).versions == before)  // deterministic
    }

    @Test func resolvesOnlyInsideTheFolder() {
        #expect(AssetVersioning.resolve("./a.js", from: ["app"]) == "app/a.js")
        #expect(AssetVersioning.resolve("../x/./y.js", from: ["app", "views"]) == "app/x/y.js")
        #expect(AssetVersioning.resolve("../../a.js", from: ["app"]) == nil)
        #expect(AssetVersioning.resolve("/a.js", from: []) == nil)
        #expect(AssetVersioning.resolve("a//b.js", from: []) == nil)
        #expect(AssetVersioning.resolve("", from: []) == nil)
    }
}

@Suite struct ContentNegotiationTests {
    let both: [ContentCoding] = [.gzip, .brotli]

    func pick(_ header: String?, _ available: [ContentCoding]? = nil) -> ContentCoding? {
        ContentNegotiation.coding(accepting: header.map { [$0] } ?? [], available: available ?? both)
    }

    @Test func followsAcceptEncoding() {
        #expect(pick("gzip, deflate, br") == .brotli)
        #expect(pick("gzip, deflate, br", [.gzip]) == .gzip)
        #expect(pick("gzip, deflate, br", []) == nil)
        #expect(pick("gzip") == .gzip)
        #expect(pick("X-GZIP") == .gzip)
        #expect(pick("br;q=0, gzip") == .gzip)
        #expect(pick("br; q=0.000, gzip;q=0.001") == .gzip)
        #expect(pick("gzip;q=0.9, br;q=0.5") == .gzip)
        #expect(pick("*") == .brotli)
        #expect(pick("*;q=0") == nil)
        #expect(pick("gzip, *;q=0") == .gzip)
        #expect(pick("identity") == nil)
        #expect(pick(nil) == nil)
        #expect(pick("") == nil)
        #expect(ContentNegotiation.coding(accepting: ["deflate", "br"], available: both) == .brotli)
    }

    @Test func ignoresMalformedEntries() {
        #expect(pick("br;q=abc") == nil)
        #expect(pick("br;q=2, gzip;q=-1") == nil)
        #expect(pick("br;q=nan, gzip;q=inf") == nil)
        #expect(pick("br;q=0.1234567") == nil)
        #expect(pick(";;;,,, ;q=1, br;;q") == .brotli)
        #expect(pick(String(repeating: "br;q=0,", count: 10_000)) == nil)
        #expect(pick("\u{0}\u{e9}\u{1F600}") == nil)
    }

    @Test func matchesIfNoneMatch() {
        let tag = "\"abc-br\""
        #expect(ContentNegotiation.matches(ifNoneMatch: [tag], etag: tag))
        #expect(ContentNegotiation.matches(ifNoneMatch: ["\"x\", W/\"abc-br\""], etag: tag))
        #expect(ContentNegotiation.matches(ifNoneMatch: ["\"x\"", " \"abc-br\" "], etag: tag))
        #expect(ContentNegotiation.matches(ifNoneMatch: ["*"], etag: tag))
        #expect(!ContentNegotiation.matches(ifNoneMatch: ["\"abc\""], etag: tag))
        #expect(!ContentNegotiation.matches(ifNoneMatch: ["abc-br", "W/", ",,,", "\""], etag: tag))
        #expect(!ContentNegotiation.matches(ifNoneMatch: [], etag: tag))
    }
}

@Suite struct StaticAssetServingTests {
    static let css = String(repeating: ".row { display: flex; gap: 8px; }\n", count: 100)

    /// A temporary web app folder, loaded with zlib and (when `brotli`) libbrotlienc.
    static func withAssets(brotli: Bool, _ body: (StaticAssets) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("assets-\(UUID())")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("styles"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(#"<!doctype html><link rel="stylesheet" href="styles/app.css"><title>t</title>"#.utf8)
            .write(to: folder.appendingPathComponent("index.html"))
        try Data(css.utf8).write(to: folder.appendingPathComponent("styles/app.css"))
        try Data("hidden".utf8).write(to: folder.appendingPathComponent(".secret"))
        let assets = StaticAssets.load(directory: folder.path, gzip: GzipEncoder.load(), brotli: brotli ? BrotliEncoder.load() : nil)
        try await body(assets)
    }

    static func withServer(_ assets: StaticAssets, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: StaticAssetMiddleware(assets: assets))
        router.get("health") { _, _ in "ok" }
        try await Application(router: router).test(.router) { client in try await body(client) }
    }

    @Test func gzipFramesTheDeflateStream() throws {
        let input = Array(Self.css.utf8)
        let gzip = try #require(GzipEncoder.load()?.compress(input))
        #expect(Array(gzip.prefix(3)) == [0x1f, 0x8b, 8])
        let size = gzip.suffix(4).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(size == input.count)
        #expect(gzip.count < input.count / 10)
    }

    @Test func loadsTheFolderOnce() async throws {
        try await Self.withAssets(brotli: true) { assets in
            #expect(assets["/"] != nil && assets["/index.html"] != nil && assets["/styles/app.css"] != nil)
            #expect(assets["/.secret"] == nil)
            let index = try #require(assets["/"])
            #expect(index.encoded.isEmpty)  // under 1 KB: not worth compressing
            let css = try #require(assets["/styles/app.css"])
            #expect(String(buffer: index.identity.body).contains("styles/app.css?v=\(css.version)"))
            #expect(css.encoded[.gzip] != nil)
            if BrotliEncoder.load() != nil { #expect(css.encoded[.brotli] != nil) }
        }
    }

    @Test func servesTheBestCodingWithVaryETagAnd304() async throws {
        try await Self.withAssets(brotli: true) { assets in
            let css = try #require(assets["/styles/app.css"])
            let best = css.encoded[.brotli] != nil ? "br" : "gzip"
            let uri = "/styles/app.css?v=\(css.version)"
            try await Self.withServer(assets) { client in
                let tag = try await client.execute(uri: uri, method: .get, headers: [.acceptEncoding: "gzip, deflate, br"]) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentEncoding] == best)
                    #expect(response.headers[.vary] == "Accept-Encoding")
                    #expect(response.headers[.cacheControl] == StaticAssetMiddleware.immutable)
                    #expect(response.headers[.contentLength] == String(response.body.readableBytes))
                    #expect(response.headers[.contentType]?.contains("css") == true)
                    return response.headers[.eTag] ?? ""
                }
                try await client.execute(uri: uri, method: .get, headers: [.acceptEncoding: "gzip, br", .ifNoneMatch: tag]) { response in
                    #expect(response.status == .notModified)
                    #expect(response.headers[.eTag] == tag && response.headers[.vary] == "Accept-Encoding")
                    #expect(response.body.readableBytes == 0)
                }
                // Another representation: another tag, so the same If-None-Match is a 200.
                try await client.execute(uri: uri, method: .get, headers: [.ifNoneMatch: tag]) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentEncoding] == nil)
                    #expect(String(buffer: response.body) == Self.css)
                    #expect(response.headers[.vary] == "Accept-Encoding")
                }
                try await client.execute(uri: uri, method: .head, headers: [.acceptEncoding: "gzip"]) { response in
                    #expect(response.status == .ok && response.body.readableBytes == 0)
                    #expect(response.headers[.contentEncoding] == "gzip")
                    #expect(response.headers[.contentLength] == String(css.encoded[.gzip]?.body.readableBytes ?? -1))
                }
                for query in ["", "?v=old", "?v=", "?x=1&v=\(css.version)0"] {
                    try await client.execute(uri: "/styles/app.css" + query, method: .get) { response in
                        #expect(response.headers[.cacheControl] == "no-cache", "\(query)")
                    }
                }
                try await client.execute(uri: "/", method: .get) { response in
                    #expect(response.headers[.cacheControl] == "no-cache")
                }
                try await client.execute(uri: "/styles/app.css", method: .post) { response in
                    #expect(response.status == .notFound)
                }
                try await client.execute(uri: "/health", method: .get) { response in
                    #expect(String(buffer: response.body) == "ok" && response.headers[.vary] == nil)
                }
            }
        }
    }

    @Test func withoutBrotliServesGzip() async throws {
        try await Self.withAssets(brotli: false) { assets in
            #expect(assets["/styles/app.css"]?.encoded[.brotli] == nil)
            try await Self.withServer(assets) { client in
                try await client.execute(uri: "/styles/app.css", method: .get, headers: [.acceptEncoding: "gzip, deflate, br"]) { response in
                    #expect(response.headers[.contentEncoding] == "gzip")
                }
                try await client.execute(uri: "/styles/app.css", method: .get, headers: [.acceptEncoding: "br"]) { response in
                    #expect(response.headers[.contentEncoding] == nil)
                    #expect(String(buffer: response.body) == Self.css)
                }
            }
        }
    }
}
