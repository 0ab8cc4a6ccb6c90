import Foundation
import Testing

@testable import App

/// The web app's compressed files kept between runs (`WEB_ASSET_CACHE_DIR`).
@Suite struct CompressionCacheTests {
    static func withCache(_ body: (CompressionCache) throws -> Void) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("compression-cache-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try body(CompressionCache(directory: folder))
    }

    @Test func aSecondStartReadsWhatTheFirstCompressed() throws {
        try Self.withCache { cache in
            let body = Array(String(repeating: "body { margin: 0 }\n", count: 200).utf8)
            var calls = 0
            let first = cache.compressed(body, coding: .gzip) { calls += 1; return GzipEncoder.load()?.compress($0) }
            let second = cache.compressed(body, coding: .gzip) { _ in calls += 1; return [1, 2, 3] }
            #expect(calls == 1)
            #expect(first != nil && second == first)
            // Another coding or other bytes are other entries.
            _ = cache.compressed(body, coding: .brotli) { _ in calls += 1; return [9] }
            _ = cache.compressed(body + [10], coding: .gzip) { _ in calls += 1; return [8] }
            #expect(calls == 3)
            let names = try FileManager.default.contentsOfDirectory(atPath: cache.directory)
            #expect(names.count == 3 && !names.contains { $0.hasPrefix(".tmp-") })
        }
    }

    @Test func aFailedCompressionIsNotStored() throws {
        try Self.withCache { cache in
            #expect(cache.compressed([1, 2, 3], coding: .brotli) { _ in nil } == nil)
            #expect(cache.compressed([1, 2, 3], coding: .brotli) { _ in [7] } == [7])
        }
    }

    @Test func entriesUnusedForThirtyDaysAreRemoved() throws {
        try Self.withCache { cache in
            _ = cache.compressed(Array("old".utf8), coding: .gzip) { _ in [1] }
            _ = cache.compressed(Array("recent".utf8), coding: .gzip) { _ in [2] }
            let old = cache.directory + "/" + CompressionCache.key(Array("old".utf8), coding: .gzip)
            let month = Date().addingTimeInterval(-CompressionCache.unusedLifetime - 60)
            try FileManager.default.setAttributes([.modificationDate: month], ofItemAtPath: old)
            cache.prune()
            #expect(!FileManager.default.fileExists(atPath: old))
            #expect(cache.compressed(Array("recent".utf8), coding: .gzip) { _ in [3] } == [2])
        }
    }

    @Test func theFolderFollowsTheSettingAndTheUsersCacheFolder() {
        #expect(CompressionCache.resolve(configured: "", environment: ["HOME": "/home/a"]) == nil)
        #expect(CompressionCache.resolve(configured: "/srv/cache", environment: [:])?.directory == "/srv/cache/v1")
        #expect(CompressionCache.resolve(configured: nil, environment: ["XDG_CACHE_HOME": "/x", "HOME": "/home/a"])?.directory == "/x/ecomansoni/web-assets/v1")
        #expect(CompressionCache.resolve(configured: nil, environment: ["HOME": "/home/a"])?.directory == "/home/a/.cache/ecomansoni/web-assets/v1")
        #expect(CompressionCache.resolve(configured: nil, environment: ["HOME": "relative"]) == nil)
    }

    @Test func assetsLoadedFromTheCacheAreTheSameAsCompressedOnes() throws {
        try Self.withCache { cache in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cached-assets-\(UUID())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            try Data(String(repeating: "<p>hello</p>\n", count: 300).utf8).write(to: folder.appendingPathComponent("index.html"))
            let fresh = StaticAssets.load(directory: folder.path, gzip: GzipEncoder.load(), brotli: BrotliEncoder.load())
            _ = StaticAssets.load(directory: folder.path, gzip: GzipEncoder.load(), brotli: BrotliEncoder.load(), cache: cache)
            let cached = StaticAssets.load(directory: folder.path, gzip: GzipEncoder.load(), brotli: BrotliEncoder.load(), cache: cache)
            let a = try #require(fresh["/index.html"]), b = try #require(cached["/index.html"])
            #expect(!a.encoded.isEmpty && Set(a.encoded.keys) == Set(b.encoded.keys))
            for (coding, form) in a.encoded {
                #expect(b.encoded[coding]?.body == form.body && b.encoded[coding]?.etag == form.etag)
            }
        }
    }
}
