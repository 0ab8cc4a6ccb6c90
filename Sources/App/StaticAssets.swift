import Foundation
import Hummingbird
import NIOCore

/// The web app's files, read and prepared once at start-up: references rewritten to
/// versioned URLs (`AssetVersioning`), and gzip and brotli forms of the text files where
/// they pay, so a request only picks bytes. Changes to the folder need a restart.
struct StaticAssets: Sendable {
    /// One form of a file as sent: its bytes and entity tag.
    struct Representation: Sendable {
        let body: ByteBuffer
        let etag: String
    }

    /// One file: its media type, the `?v=` value that makes its URL immutable, and its forms.
    struct Asset: Sendable {
        let contentType: String
        let version: String
        let identity: Representation
        let encoded: [ContentCoding: Representation]
    }

    /// Files by request path (`/app/main.js`); a folder's `index.html` also under `/folder/`.
    let files: [String: Asset]
    /// How many files were read.
    let fileCount: Int
    /// Bytes of all files: as read, and in each coding (the smaller of the coding and identity).
    let totals: [String: Int]

    subscript(path: String) -> Asset? { files[path] }

    /// Files bigger than this stay on disk (served by `FileMiddleware`, uncompressed).
    static let maximumFileBytes = 4 << 20
    /// Smaller files are not compressed: the saving would not pay for a decoder.
    static let minimumCompressedBytes = 1024

    /// Reads every regular file under `directory` but hidden ones (a name starting with `.`);
    /// compressed forms come from `cache` when it has them.
    static func load(directory: String, gzip: GzipEncoder?, brotli: BrotliEncoder?, cache: CompressionCache? = nil) -> StaticAssets {
        var sources: [String: [UInt8]] = [:]
        let walker = FileManager.default.enumerator(atPath: directory)
        while let path = walker?.nextObject() as? String {
            let attributes = walker?.fileAttributes ?? [:]
            guard !path.split(separator: "/").contains(where: { $0.hasPrefix(".") }),
                attributes[.type] as? FileAttributeType == .typeRegular,
                (attributes[.size] as? NSNumber)?.intValue ?? 0 <= maximumFileBytes,
                let data = FileManager.default.contents(atPath: directory + "/" + path)
            else { continue }
            sources[path] = Array(data)
        }
        let (versions, bodies) = AssetVersioning.version(sources)

        // Compression is the slow part (brotli at quality 11): one file per core.
        let paths = Array(bodies.keys)
        let prepared = LockedResults(count: paths.count)
        DispatchQueue.concurrentPerform(iterations: paths.count) { index in
            let path = paths[index]
            guard let body = bodies[path], let version = versions[path] else { return }
            prepared.set(index, (path, prepare(path: path, body: body, version: version, gzip: gzip, brotli: brotli, cache: cache)))
        }
        var files: [String: Asset] = [:]
        var totals = ["identity": 0, "gzip": 0, "br": 0]
        for case let (path, asset)? in prepared.values {
            files["/" + path] = asset
            if path == "index.html" || path.hasSuffix("/index.html") { files["/" + path.dropLast("index.html".count)] = asset }
            let identity = asset.identity.body.readableBytes
            totals["identity", default: 0] += identity
            for coding in ContentCoding.allCases {
                totals[coding.rawValue, default: 0] += asset.encoded[coding]?.body.readableBytes ?? identity
            }
        }
        return StaticAssets(files: files, fileCount: sources.count, totals: totals)
    }

    private static func prepare(
        path: String, body: [UInt8], version: String, gzip: GzipEncoder?, brotli: BrotliEncoder?, cache: CompressionCache?
    ) -> Asset {
        let fileExtension = URL(fileURLWithPath: path).pathExtension.lowercased()
        let contentType = MediaType.getMediaType(forExtension: fileExtension)?.description ?? "application/octet-stream"
        let tag = ContentHash.hex(body)
        var encoded: [ContentCoding: Representation] = [:]
        if body.count >= minimumCompressedBytes, isText(contentType) {
            func form(_ coding: ContentCoding, _ compress: (([UInt8]) -> [UInt8]?)?) -> (ContentCoding, [UInt8]?) {
                guard let compress else { return (coding, nil) }
                guard let cache else { return (coding, compress(body)) }
                return (coding, cache.compressed(body, coding: coding, compress: compress))
            }
            let forms = [form(.gzip, gzip?.compress), form(.brotli, brotli?.compress)]
            for case let (coding, bytes?) in forms where bytes.count <= body.count * 9 / 10 {
                encoded[coding] = Representation(body: ByteBuffer(bytes: bytes), etag: "\"\(tag)-\(coding.rawValue)\"")
            }
        }
        return Asset(
            contentType: contentType, version: version,
            identity: Representation(body: ByteBuffer(bytes: body), etag: "\"\(tag)\""), encoded: encoded)
    }

    /// Media types worth compressing: text, scripts, JSON, XML and SVG.
    static func isText(_ contentType: String) -> Bool {
        let type = contentType.lowercased()
        return type.hasPrefix("text/") || ["javascript", "json", "xml", "svg"].contains { type.contains($0) }
    }
}

/// Results written by `concurrentPerform` workers, one slot each.
private final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [(String, StaticAssets.Asset)?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: (String, StaticAssets.Asset)) { lock.withLock { slots[index] = value } }

    var values: [(String, StaticAssets.Asset)?] { lock.withLock { slots } }
}
