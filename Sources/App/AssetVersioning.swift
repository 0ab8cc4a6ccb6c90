/// Content-hash versions for the web app's files, so that every URL the app uses for a file
/// names one exact content and can be cached as immutable.
///
/// A reference is a relative URL in an HTML `href`/`src` attribute, or a JavaScript string
/// literal starting with `./` or `../` (static and dynamic imports, preload lists) that
/// names a file of the folder. It is rewritten to `url?v=<version>`, where a file's version
/// hashes the contents of every file it reaches through references, itself included: a
/// change anywhere below a module changes its URL, even across import cycles. URLs with a
/// query, fragment, scheme or absolute path and computed ones (template literals with
/// `${}`) are left as they are; such requests are revalidated instead.
enum AssetVersioning {
    /// How a file is searched for references.
    enum Kind { case html, javascript, other }

    /// A reference in a file: the byte range of the URL (without its quotes) and the path of
    /// the file it names, relative to the folder.
    struct Reference: Equatable {
        let range: Range<Int>
        let target: String
    }

    /// The versions of all `files` (path relative to the folder → bytes) and their bodies
    /// with references rewritten.
    static func version(_ files: [String: [UInt8]]) -> (versions: [String: String], bodies: [String: [UInt8]]) {
        var references: [String: [Reference]] = [:]
        for (path, bytes) in files {
            references[path] = self.references(in: bytes, of: path, exists: { files[$0] != nil })
        }
        let contentHashes = files.mapValues { ContentHash.hex($0) }
        var versions: [String: String] = [:]
        for path in files.keys {
            var reached: Set<String> = [path]
            var pending = [path]
            while let next = pending.popLast() {
                for reference in references[next] ?? [] where reached.insert(reference.target).inserted {
                    pending.append(reference.target)
                }
            }
            let manifest = reached.sorted().map { "\($0):\(contentHashes[$0] ?? "")\n" }.joined()
            versions[path] = ContentHash.hex(Array(manifest.utf8))
        }
        var bodies: [String: [UInt8]] = [:]
        for (path, bytes) in files {
            var body = bytes
            for reference in (references[path] ?? []).reversed() {
                guard let version = versions[reference.target] else { continue }
                body.replaceSubrange(reference.range, with: bytes[reference.range] + Array("?v=\(version)".utf8))
            }
            bodies[path] = body
        }
        return (versions, bodies)
    }

    /// The kind of a file, by its name.
    static func kind(of path: String) -> Kind {
        if path.hasSuffix(".html") || path.hasSuffix(".htm") { return .html }
        if path.hasSuffix(".js") || path.hasSuffix(".mjs") { return .javascript }
        return .other
    }

    /// References in `bytes` (the file at `path`) to files for which `exists` is true, in order.
    static func references(in bytes: [UInt8], of path: String, exists: (String) -> Bool) -> [Reference] {
        let kind = kind(of: path)
        guard kind != .other else { return [] }
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().map(String.init)
        var found: [Reference] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            guard byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") || (kind == .javascript && byte == UInt8(ascii: "`")) else {
                continue
            }
            if kind == .html, !follows(attribute: bytes, quoteAt: index - 1) { continue }
            guard let end = closing(byte, in: bytes, from: index) else { continue }
            let url = bytes[index..<end]
            let relative = url.starts(with: Array("./".utf8)) || url.starts(with: Array("../".utf8))
            if kind == .javascript, !relative { continue }
            if let target = resolve(String(decoding: url, as: UTF8.self), from: directory), exists(target) {
                found.append(Reference(range: index..<end, target: target))
                index = end + 1
            }
        }
        return found
    }

    /// The end of a quoted URL starting at `start`: the index of the closing `quote`, or nil
    /// when a character no plain relative URL has comes first.
    private static func closing(_ quote: UInt8, in bytes: [UInt8], from start: Int) -> Int? {
        var index = start
        while index < bytes.count, index - start <= 512 {
            let byte = bytes[index]
            if byte == quote { return index > start ? index : nil }
            if byte <= 0x20 || byte >= 0x7f || "\\$?#:{}<>\"'`".utf8.contains(byte) { return nil }
            index += 1
        }
        return nil
    }

    /// Whether the quote at `quote` opens the value of an ` href=` or ` src=` attribute.
    private static func follows(attribute bytes: [UInt8], quoteAt quote: Int) -> Bool {
        for name in [" href=", " src=", "\nhref=", "\nsrc="] {
            let text = Array(name.utf8)
            if quote >= text.count, bytes[(quote - text.count)..<quote].elementsEqual(text) { return true }
        }
        return false
    }

    /// `url` resolved against `directory` (path components), or nil when it leaves the folder
    /// or is absolute.
    static func resolve(_ url: String, from directory: [String]) -> String? {
        guard !url.isEmpty, !url.hasPrefix("/") else { return nil }
        var parts = directory
        for component in url.split(separator: "/", omittingEmptySubsequences: false) {
            switch component {
            case ".": continue
            case "..":
                guard !parts.isEmpty else { return nil }
                parts.removeLast()
            case "": return nil
            default: parts.append(String(component))
            }
        }
        return parts.joined(separator: "/")
    }
}

/// 64-bit FNV-1a: tells contents apart for cache versions and ETags (not a security boundary).
enum ContentHash {
    static func hex(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
