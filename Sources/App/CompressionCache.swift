import Foundation

/// The compressed forms of the web app's files kept on disk between runs
/// (`WEB_ASSET_CACHE_DIR`), so a restart does not compress them again: brotli at quality 11
/// takes seconds of CPU for the whole app, on every start of every instance. An entry is named
/// by the coding, the body's length and two 64-bit hashes of it (`ContentHash` of the bytes and
/// of the bytes in reverse; the files are the operator's own, not a client's); it is written to
/// a temporary name and renamed, so a reader never sees half an entry. Entries unused for 30 days are removed at start-up. A cache that cannot be
/// read or written only means compressing again.
struct CompressionCache: Sendable {
    let directory: String

    /// Entries not read or written for this long are removed by ``prune(now:)``.
    static let unusedLifetime: TimeInterval = 30 * 86_400

    /// The cache for `configured` (`WEB_ASSET_CACHE_DIR`): nil when it is empty (no cache);
    /// when unset, `$XDG_CACHE_HOME/ecomansoni/web-assets` or `~/.cache/ecomansoni/web-assets`.
    static func resolve(configured: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> CompressionCache? {
        let base: String
        if let configured {
            guard !configured.isEmpty else { return nil }
            base = configured
        } else if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            base = xdg + "/ecomansoni/web-assets"
        } else if let home = environment["HOME"], home.hasPrefix("/") {
            base = home + "/.cache/ecomansoni/web-assets"
        } else {
            return nil
        }
        // The format version: entries of other encoder settings are never read.
        return CompressionCache(directory: base + "/v1")
    }

    /// `body` in `coding`: from the cache when an entry exists, else `compress(body)`, stored.
    func compressed(_ body: [UInt8], coding: ContentCoding, compress: ([UInt8]) -> [UInt8]?) -> [UInt8]? {
        let path = directory + "/" + Self.key(body, coding: coding)
        if let cached = FileManager.default.contents(atPath: path) {
            // Read: the entry stays for another lifetime.
            try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: path)
            return Array(cached)
        }
        guard let bytes = compress(body) else { return nil }
        store(bytes, at: path)
        return bytes
    }

    /// Removes entries not used within ``unusedLifetime`` and temporary files left by a crash.
    func prune(now: Date = Date()) {
        let fileManager = FileManager.default
        guard let names = try? fileManager.contentsOfDirectory(atPath: directory) else { return }
        for name in names {
            let path = directory + "/" + name
            guard let modified = (try? fileManager.attributesOfItem(atPath: path))?[.modificationDate] as? Date else { continue }
            let limit = name.hasPrefix(".tmp-") ? 3_600 : Self.unusedLifetime
            if now.timeIntervalSince(modified) > limit { try? fileManager.removeItem(atPath: path) }
        }
    }

    private func store(_ bytes: [UInt8], at path: String) {
        let fileManager = FileManager.default
        let temporary = directory + "/.tmp-" + UUID().uuidString
        do {
            try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: temporary))
            // rename(2) replaces atomically: a concurrent writer of the same entry wrote the same bytes.
            guard rename(temporary, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            try? fileManager.removeItem(atPath: temporary)
        }
    }

    /// `<coding>-<length>-<content hash>-<content hash of the bytes in reverse>`.
    static func key(_ body: [UInt8], coding: ContentCoding) -> String {
        "\(coding.rawValue)-\(body.count)-\(ContentHash.hex(body))-\(ContentHash.hex(Array(body.reversed())))"
    }
}
