import Auth
@testable import Chat
@testable import Calls
import Core
import Crypto
import Foundation
import Insurance
import NIOCore
@testable import Realtime
@testable import Reels
@testable import Storage

/// The fuzz targets: each hands raw client bytes to one decoder, the way the server does,
/// and ignores its errors. Only a crash (trap, sanitizer report) or a hang is a finding.
///
/// Shared by the libFuzzer binary (Fuzz/Sources/fuzz-decoders) and the corpus replay in
/// the main package's `FuzzCorpusTests`, which replays Fuzz/Corpus/<target>/ and
/// Fuzz/Regressions/<target>/ through `run`.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A realtime text frame of a `vsn=1.0.0` socket (JSON object).
    case phoenixV1 = "phoenix-v1"
    /// A realtime text frame of a `vsn=2.0.0` socket (5-element array).
    case phoenixV2 = "phoenix-v2"
    /// A realtime binary frame of a `vsn=2.0.0` socket (user-broadcast push).
    case phoenixV2Binary = "phoenix-v2-binary"
    /// A calls WebSocket text frame (the `{v, type, msgId, ts, seq, payload}` envelope).
    case callsFrame = "calls-frame"
    /// A postgres_changes filter; bytes after the first newline are a JSON record to match.
    case changeFilter = "change-filter"
    /// Any JSON value as the free-form fields (`user_metadata`, broadcast payloads) read it.
    case jsonValue = "json-value"
    /// An RPC or HTTP JSON body: object check, then the argument shapes the RPCs decode.
    case rpcArguments = "rpc-arguments"
    /// A `POST /realtime/v1/api/broadcast` body.
    case restBroadcast = "rest-broadcast"
    /// A keyset cursor as list RPCs receive it.
    case keysetCursor = "keyset-cursor"
    /// A phone number as `/otp`, `/verify` and `PUT /user` receive it.
    case phoneNumber = "phone-number"
    /// An OSAGO quote request body, read and priced.
    case osagoRequest = "osago-request"
    /// A storage upload: a `Content-Type` line, then a multipart/form-data body.
    case multipart = "multipart"
    /// A `Range` header of a download: an object size line, then the header value.
    case byteRange = "byte-range"
    /// The first bytes of an upload: its sniffed type, and the declared-type rule.
    case contentSniff = "content-sniff"
    /// Storage names: lines as a URL path, a name, a folder, a bucket id, a MIME type and patterns.
    case objectPath = "object-path"
    /// The token of a signed download or upload URL (`?token=`), and the signer's round trip.
    case signedURLToken = "signed-url-token"
    /// The `attachment` and `kind` arguments of `send_message_v1` (`AttachmentReference`, `MessageKind`).
    case attachmentReference = "attachment-reference"
    /// TUS request headers (`Tus-Resumable`, `Upload-Length`/`-Offset`, `Upload-Metadata`) and upload URL ids.
    case tusHeaders = "tus-headers"
    /// The arguments of `search_messages` (`SearchRequest`: query, limit, the `before` cursor's shape).
    case searchRequest = "search-request"
    /// The arguments of the reels interaction RPCs (`InteractionArguments`: comments, shares, views, impressions, reports, pages).
    case reelsInteractions = "reels-interactions"
    /// Reel uploads: a media token and media URL path, `create_reel` arguments, a caption's hashtags.
    case reelUploads = "reel-uploads"
    /// The feed's ranking config file (`FeedConfig.validate`), feed cursors and hashtag arguments.
    case feedConfig = "feed-config"
    /// Admin console requests: audit browser query strings, session bodies and their codes.
    case adminRequests = "admin-requests"
    /// Table API requests: query strings, `Prefer`, `Range` and `Accept` headers.
    case tableQuery = "table-query"
    /// A WebSocket upgrade request head for the realtime endpoint (the checks made before upgrading).
    case realtimeUpgrade = "realtime-upgrade"

    /// Feeds `data` to this target's decoder.
    public func run(_ data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        switch self {
        case .phoenixV1: Self.phoenix(text, .v1)
        case .phoenixV2: Self.phoenix(text, .v2)
        case .phoenixV2Binary: Self.userBroadcast(data)
        case .callsFrame: Self.callsFrame(text)
        case .changeFilter: Self.changeFilter(text)
        case .jsonValue: Self.jsonValue(text)
        case .rpcArguments: Self.rpcArguments(data)
        case .restBroadcast: _ = (try? JSONValue.parse(text)).map { try? RESTBroadcastRequest.batch($0, limit: 100) }
        case .keysetCursor: Self.keysetCursor(text)
        case .phoneNumber: _ = PhoneNumber.normalise(text)
        case .osagoRequest: Self.osagoRequest(data)
        case .multipart: Self.multipart(data)
        case .byteRange: Self.byteRange(text)
        case .contentSniff: Self.contentSniff(data)
        case .objectPath: Self.objectPath(text)
        case .signedURLToken: Self.signedURLToken(data)
        case .attachmentReference: Self.attachmentReference(text)
        case .tusHeaders: Self.tusHeaders(text)
        case .searchRequest: Self.searchRequest(text)
        case .reelsInteractions: Self.reelsInteractions(data, text)
        case .reelUploads: Self.reelUploads(data, text)
        case .feedConfig: Self.feedConfig(data, text)
        case .adminRequests: Self.adminRequests(data, text)
        case .tableQuery: Self.tableQuery(text)
        case .realtimeUpgrade: Self.realtimeUpgrade(text)
        }
    }

    /// Decodes a frame; a frame that decodes must encode and decode again. Its join config
    /// (bindings and their filters, presence key) and broadcast payload are read the way the
    /// session reads them.
    private static func phoenix(_ text: String, _ version: PhoenixFrame.Version) {
        guard let frame = try? PhoenixFrame.decode(text, version: version) else { return }
        _ = try? PhoenixFrame.decode(frame.encoded(version), version: version)
        _ = PhoenixFrame.error(to: frame, reason: "fuzz").encoded(version)
        channel(frame)
    }

    private static func channel(_ frame: PhoenixFrame) {
        let access = try? TopicAccess(name: PhoenixFrame.channelName(frame.topic), openPrefixes: ["public:"])
        let payload = frame.payload.objectValue ?? [:]
        let config = payload["config"]?.objectValue ?? [:]
        _ = try? FrameField.string(payload["access_token"], "access_token")
        _ = try? FrameField.string(config["presence"]?.objectValue?["key"], "config.presence.key")
        _ = try? RealtimeChannel.bindings(from: config["postgres_changes"], catalog: chatCatalog)
        if let access {
            _ = try? BroadcastMessage.relayed(frame.payload, access: access, caller: .anonymous, maximumBytes: 65_536)
        }
    }

    /// The envelope, then the payload fields HELLO and ROOM_JOIN read before any database
    /// work, and an `sfu.*` request's payload (``sfuRequest(_:)``).
    private static func callsFrame(_ text: String) {
        guard let frame = try? InboundFrame.parse(text) else { return }
        if frame.type.hasPrefix("sfu.") { sfuRequest(frame) }
        if let device = frame.payload["deviceId"] as? String { _ = DeviceID.isValid(device) }
        if let token = frame.payload["joinToken"] as? String { _ = JoinToken.verify(token, key: joinTokenKey) }
    }

    private static let joinTokenKey = SymmetricKey(data: Data(repeating: 7, count: 32))

    /// Decodes a binary push; one that decodes is re-sent as a binary broadcast.
    private static func userBroadcast(_ data: Data) {
        guard let frame = try? UserBroadcastFrame.decodePush(ByteBuffer(bytes: data)) else { return }
        _ = UserBroadcastFrame.encode(topic: frame.topic, message: frame.payload)
        _ = frame.encoded(.v2)
        channel(frame)
    }

    /// The tables a join may bind (the chat module's).
    private static let chatCatalog = ChangeCatalog(ChatChangeFeed.tables)

    /// The filter is read for each table clients may bind, then matched against the record.
    private static func changeFilter(_ text: String) {
        let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let record: [String: JSONValue]
        if parts.count > 1, let object = (try? JSONValue.parse(String(parts[1])))?.objectValue {
            record = object
        } else {
            record = [
                "id": .string("4f1c5c0e-8d6b-4f7e-9a51-2d7c2b0a6f11"), "conversation_id": .string("4F1C5C0E-8D6B-4F7E-9A51-2D7C2B0A6F11"),
                "body": .string("hello world"), "seq": .number(42), "created_at": .string("2026-01-01T00:00:00.123456+00:00"),
                "deleted_at": .null,
            ]
        }
        for table in ["messages", "reactions", "participants", "cursors"] {
            guard let filter = try? ChangeFilter(parsing: String(parts[0]), table: table, in: ChatChangeFeed.tables) else { continue }
            for column in filter.columns { _ = filter.equality(on: column) }
            _ = filter.matches(record)
        }
    }

    private static func jsonValue(_ text: String) {
        guard let value = try? JSONValue.parse(text) else { return }
        _ = try? JSONValue.parse(value.jsonText)
    }

    /// The argument types the registered RPCs decode (UUIDs, integers, timestamps, lists,
    /// free-form JSON), read the way `RPCRegistry.call` and `RPCCall.decode` read them.
    private struct Arguments: Decodable {
        var id: UUID?
        var member_ids: [UUID]?
        var limit: Int?
        var up_to_seq: Int64?
        var muted: Bool?
        var muted_until: Date?
        var body: String?
        var cursor: String?
        var data: JSONValue?
    }

    private struct RequiredArguments: Decodable {
        var conversation_id: UUID
        var before_seq: Int64
        var title: String
    }

    private static func rpcArguments(_ data: Data) {
        guard (try? JSONBody.object(from: data)) != nil else { return }
        _ = try? JSONBody.decode(Arguments.self, from: data)
        _ = try? JSONBody.decode(RequiredArguments.self, from: data)
        _ = try? JSONBody.decode([String: JSONValue].self, from: data)
        if let limit = (try? JSONBody.decode(Arguments.self, from: data))?.limit {
            _ = try? PageSize.resolve(limit, default: 20, maximum: 100)
        }
    }

    /// The unsigned steps of reading a cursor (the MAC check itself is HMAC-SHA256 in
    /// `CursorCodec`): the signed shape, and the payload parse behind it.
    private static func keysetCursor(_ text: String) {
        if let (payload, _) = KeysetCursor.signedParts(text) {
            _ = KeysetCursor(payload: String(decoding: payload, as: UTF8.self))
        }
        guard let cursor = KeysetCursor(payload: text) else { return }
        _ = KeysetCursor(payload: cursor.payload)
    }

    private static let calculator: OsagoCalculator? = (try? TariffCatalog.bundled()).map(OsagoCalculator.init)
    private static let today = CalendarDate("2026-06-01")

    private static func osagoRequest(_ data: Data) {
        guard let request = try? QuoteRequest.decode(json: data), let calculator, let today else { return }
        _ = try? calculator.quote(request, today: today)
    }

    /// Small limits, so that inputs of a few KiB reach every one of them.
    private static let smallMultipartLimits = MultipartLimits(
        maxFieldBytes: 64, maxHeaderBytes: 160, maxHeadersPerPart: 4, maxParts: 4, maxPreambleBytes: 32
    )

    /// The first line is a `Content-Type` value: its boundary is used (`X` if it has none).
    /// The rest is the body, decoded whole and again in chunks of 1–16 bytes cut by its own
    /// bytes: both must give the same fields, file and bytes, and the same error; the parser
    /// must never hold more than one chunk plus a header block or a delimiter.
    private static func multipart(_ data: Data) {
        let bytes = [UInt8](data)
        let newline = bytes.firstIndex(of: 10) ?? bytes.count
        let header = String(decoding: bytes[..<newline], as: UTF8.self)
        let body = Array(bytes[min(newline + 1, bytes.count)...])
        let boundary = (try? MultipartContentType.boundary(header)) ?? "X"
        let limits = smallMultipartLimits
        let whole = decodeMultipart(body, boundary: boundary, limits: limits) { _ in body.count }
        let chunked = decodeMultipart(body, boundary: boundary, limits: limits) { index in
            1 + Int(body.isEmpty ? 0 : body[index % body.count] % 16)
        }
        guard whole == chunked else { fatalError("multipart: chunking changed the outcome:\n\(whole)\n\(chunked)") }
        _ = decodeMultipart(body, boundary: boundary, limits: MultipartLimits()) { _ in 7 }
    }

    /// Everything a multipart decode yields, in order, and how it ended.
    struct MultipartOutcome: Equatable {
        var events: [String] = []
        var fileBytes: [UInt8] = []
        var error: MultipartError?
    }

    static func decodeMultipart(_ body: [UInt8], boundary: String, limits: MultipartLimits, chunkSize: (Int) -> Int) -> MultipartOutcome {
        var outcome = MultipartOutcome()
        do {
            var decoder = try MultipartFormDecoder(boundary: boundary, fileField: "file", limits: limits)
            var start = 0
            var index = 0
            while start < body.count {
                let end = min(body.count, start + max(1, chunkSize(index)))
                decoder.append(ByteBuffer(bytes: body[start..<end]))
                let bound = max(limits.maxHeaderBytes + 4, boundary.utf8.count + 4) + (end - start)
                guard decoder.parser.bufferedBytes <= bound else {
                    fatalError("multipart: parser holds \(decoder.parser.bufferedBytes) bytes, bound \(bound)")
                }
                while let event = try decoder.next() {
                    switch event {
                    case .field(let name, let value): outcome.events.append("field \(name)=\(value)")
                    case .fileStart(let headers): outcome.events.append("file \(headers)")
                    case .fileBytes(let chunk):
                        guard chunk.readableBytes > 0 else { fatalError("multipart: empty file chunk") }
                        outcome.fileBytes += Array(chunk.readableBytesView)
                    case .end: outcome.events.append("end")
                    }
                }
                start = end
                index += 1
            }
            try decoder.finish()
        } catch {
            outcome.error = error
        }
        return outcome
    }

    /// The first line is the object size, the rest the header; a partial range must lie
    /// within the object.
    private static func byteRange(_ text: String) {
        let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let size = parts.count > 1 ? Int64(parts[0]) ?? Int64(parts[0].utf8.count) : 1000
        let header = parts.count > 1 ? String(parts[1]) : text
        for size in [size, 0, 1, Int64.max] {
            switch ByteRange.resolve(header, size: size) {
            case .partial(let range):
                guard range.lowerBound >= 0, range.lowerBound < range.upperBound, range.upperBound <= max(size, 0) else {
                    fatalError("byte-range: \(range) outside an object of \(size) bytes")
                }
                _ = ByteRange.contentRange(of: range, size: size)
            case .unsatisfiable: _ = ByteRange.unsatisfiedContentRange(size: size)
            case .ignore: break
            }
        }
    }

    /// The bytes sniffed as an upload's prefix (and again behind an EBML magic number, to
    /// reach the WebM walker); the first line is a declared type checked against the result.
    /// Any sniffed type must match itself and a declared application/octet-stream.
    private static func contentSniff(_ data: Data) {
        let bytes = [UInt8](data)
        for prefix in [bytes, [0x1A, 0x45, 0xDF, 0xA3] + bytes] {
            let sniffed = ContentSniffer.mimeType(of: prefix)
            guard ContentSniffer.declared(sniffed, matchesSniffed: sniffed),
                ContentSniffer.declared(ContentSniffer.octetStream, matchesSniffed: sniffed)
            else { fatalError("content-sniff: \(sniffed) does not match itself") }
        }
        let newline = bytes.firstIndex(of: 10) ?? bytes.count
        let declared = String(decoding: bytes[..<newline], as: UTF8.self)
        _ = ContentSniffer.declared(declared, matchesSniffed: ContentSniffer.mimeType(of: bytes[min(newline + 1, bytes.count)...]))
    }

    // MARK: attachment-reference

    /// The text as JSON through ``AttachmentReference/parse(_:)``; each line as a string
    /// reference and as a `kind`. An accepted path is 1–1024 bytes, NFC, free of control
    /// characters, without a leading `/`, and read again unchanged; the database form of
    /// every accepted reference names the same object (else it traps).
    private static func attachmentReference(_ text: String) {
        var references: [AttachmentReference] = []
        if let value = try? JSONValue.parse(text), let reference = try? AttachmentReference.parse(value) {
            references.append(reference)
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            _ = try? MessageKind.parse(line)
            if let reference = try? AttachmentReference.parse(.string(line)) { references.append(reference) }
        }
        for reference in references {
            guard let stored = (try? JSONValue.parse(reference.databaseValue.jsonText))?.objectValue else {
                fatalError("attachment-reference: \(reference) has no database form")
            }
            switch reference {
            case .object(let id):
                guard stored == ["object_id": .string(id.uuidString.lowercased())] else { fatalError("attachment-reference: \(stored) for \(id)") }
            case .path(let name):
                let scalars = Array(name.unicodeScalars)
                guard !scalars.isEmpty, name.utf8.count <= 1024, scalars.first != "/",
                    !scalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }),
                    Array(name.precomposedStringWithCanonicalMapping.unicodeScalars) == scalars
                else { fatalError("attachment-reference: accepted path \(name.debugDescription)") }
                guard case .string(let path)? = stored["path"], Array(path.unicodeScalars) == scalars,
                    stored["bucket"] == .string(AttachmentReference.bucket)
                else { fatalError("attachment-reference: \(stored) for \(name.debugDescription)") }
                if !name.utf8.starts(with: (AttachmentReference.bucket + "/").utf8) {
                    guard let again = try? AttachmentReference.objectName(name), Array(again.unicodeScalars) == scalars else {
                        fatalError("attachment-reference: \(name.debugDescription) is not read again unchanged")
                    }
                }
            }
        }
    }

    // MARK: search-request

    /// The text as a JSON `{query, limit, before}` through ``SearchRequest/parse``; each line
    /// as a query and as a `before` cursor. An accepted query is trimmed, 1–200 code points
    /// without NUL, and accepted again unchanged; an accepted cursor is the text itself and
    /// its payload is a keyset position (else it traps).
    private static func searchRequest(_ text: String) {
        var queries: [String] = []
        var cursors: [(String, String)] = []
        if let object = (try? JSONValue.parse(text))?.objectValue, case .string(let query)? = object["query"] {
            let limit: Int? = if case .number(let number)? = object["limit"], let exact = Int(exactly: number) { exact } else { nil }
            let before: String? = if case .string(let cursor)? = object["before"] { cursor } else { nil }
            if let request = try? SearchRequest.parse(query: query, conversation: nil, limit: limit, before: before) {
                guard (1...SearchRequest.maximumLimit).contains(request.limit) else { fatalError("search-request: limit \(request.limit)") }
                queries.append(request.query)
                if let before, let accepted = request.before { cursors.append((before, accepted)) }
            }
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if let query = try? SearchRequest.query(line) { queries.append(query) }
            if let cursor = try? SearchRequest.cursorShape(line) { cursors.append((line, cursor)) }
        }
        for query in queries {
            let scalars = query.unicodeScalars
            guard (1...SearchRequest.maximumQueryLength).contains(scalars.count), !scalars.contains("\u{0}"),
                query.trimmingCharacters(in: .whitespacesAndNewlines) == query, (try? SearchRequest.query(query)) == query
            else { fatalError("search-request: accepted query \(query.debugDescription)") }
        }
        for (sent, accepted) in cursors {
            guard sent == accepted, let (payload, _) = KeysetCursor.signedParts(accepted),
                KeysetCursor(payload: String(decoding: payload, as: UTF8.self)) != nil
            else { fatalError("search-request: accepted cursor \(sent.debugDescription)") }
        }
    }

    // MARK: object-path

    /// Each line is tried as a URL path (`<bucket>/<segments…>`, split at `/` the way the
    /// controller splits the request path), a JSON object name, a listing folder, a bucket id
    /// and a percent-encoded segment; the first line is also a Content-Type, checked against
    /// the other lines as a bucket's allowed types. Whatever is accepted must obey the rules
    /// of `ObjectPath` byte for byte (else it traps).
    private static func objectPath(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for line in lines {
            let segments = line.split(separator: "/", omittingEmptySubsequences: false)
            if let first = segments.first, let bucket = try? ObjectPath.percentDecoded(first, field: "bucket") {
                checkBucket(bucket)
            }
            if let name = try? ObjectPath.name(urlSegments: Array(segments.dropFirst())) { checkName(name) }
            if let name = try? ObjectPath.name(urlSegments: segments) { checkName(name) }
            if let name = try? ObjectPath.name(line) { checkName(name) }
            if let folder = try? ObjectPath.folder(line) {
                if !folder.isEmpty { checkName(folder) }
                guard let again = try? ObjectPath.folder(folder), same(again, folder) else {
                    fatalError("object-path: folder \(debug(folder)) is not a fixed point")
                }
            }
            checkBucket(line)
            if let decoded = try? ObjectPath.percentDecoded(line[...], field: "path") {
                if !line.utf8.contains(UInt8(ascii: "%")) && !same(decoded, line) {
                    fatalError("object-path: \(debug(line)) has no escape but decodes to \(debug(decoded))")
                }
                let encoded = ObjectPath.urlEncoded(decoded)
                guard let back = try? ObjectPath.percentDecoded(encoded[...], field: "path"), same(back, decoded) else {
                    fatalError("object-path: \(debug(decoded)) does not survive urlEncoded and percentDecoded")
                }
            }
        }
        mimeType(lines[0], patterns: Array(lines.dropFirst()))
    }

    /// Equal as bytes (`==` on strings is canonical equivalence, too lenient here).
    private static func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

    private static func debug(_ text: String) -> String { text.unicodeScalars.map { $0.escaped(asASCII: true) }.joined() }

    /// An accepted name: 1–1024 bytes, NFC, no control character, no empty, `.` or `..`
    /// segment between `/` bytes, segments ≤ 255 bytes; accepted again unchanged, as a folder
    /// (also with a trailing `/`), and after a trip through its URL form.
    private static func checkName(_ name: String) {
        let bytes = Array(name.utf8)
        func fail(_ rule: String) -> Never { fatalError("object-path: accepted name \(debug(name)) \(rule)") }
        guard !bytes.isEmpty, bytes.count <= ObjectPath.maximumNameBytes else { fail("has \(bytes.count) bytes") }
        for segment in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            if segment.isEmpty { fail("has an empty segment") }
            if segment.elementsEqual([0x2E]) || segment.elementsEqual([0x2E, 0x2E]) { fail("has a '.' or '..' segment") }
            if segment.count > ObjectPath.maximumSegmentBytes { fail("has a segment of \(segment.count) bytes") }
        }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) }) { fail("has a control character") }
        if !same(name.precomposedStringWithCanonicalMapping, name) { fail("is not NFC") }
        guard let again = try? ObjectPath.name(name), same(again, name) else { fail("is not accepted again unchanged") }
        guard let folder = try? ObjectPath.folder(name), same(folder, name),
            let slashed = try? ObjectPath.folder(name + "/"), same(slashed, name)
        else { fail("is not the same folder") }
        let encoded = ObjectPath.urlEncoded(name)
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%/".utf8)
        if !encoded.utf8.allSatisfy(unreserved.contains) { fail("has the URL form \(debug(encoded))") }
        guard let decoded = try? ObjectPath.name(urlSegments: encoded.split(separator: "/", omittingEmptySubsequences: false)), same(decoded, name)
        else { fail("does not survive its URL form \(debug(encoded))") }
    }

    /// An accepted bucket id is the text itself: 1–63 of `[A-Za-z0-9_.-]`, not `.` or `..`.
    private static func checkBucket(_ text: String) {
        guard let id = try? ObjectPath.bucketID(text) else { return }
        let bytes = Array(id.utf8)
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-".utf8)
        guard same(id, text), (1...63).contains(bytes.count), bytes.allSatisfy(allowed.contains), id != ".", id != "..",
            let again = try? ObjectPath.bucketID(id), same(again, id)
        else { fatalError("object-path: accepted bucket id \(debug(text)) -> \(debug(id))") }
    }

    /// A validated Content-Type matches its own essence, its type's wildcard and `*/*`; a
    /// pattern a bucket may hold (the rule of `StorageService.validated`) matches only its
    /// own type (and subtype unless it is `*`).
    private static func mimeType(_ value: String, patterns: [String]) {
        _ = MimeType.essence(value)
        _ = MimeType.isAllowed(value, by: patterns)
        guard let valid = try? MimeType.validated(value, field: "contentType") else { return }
        func fail(_ rule: String) -> Never { fatalError("mime: \(debug(valid)) \(rule)") }
        guard let again = try? MimeType.validated(valid, field: "contentType"), same(again, valid) else { fail("is not valid again") }
        let essence = MimeType.essence(valid)
        if !same(MimeType.essence(essence), essence) { fail("has an essence that changes: \(debug(essence))") }
        let parts = essence.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(MimeType.isTokenByte) }) else {
            fail("has the essence \(debug(essence))")
        }
        for allowed in [nil, [], ["*/*"], ["*"], [essence], [valid], [essence.uppercased()], ["\(parts[0])/*"], ["x/y", "\(parts[0])/*"]] as [[String]?] {
            if !MimeType.isAllowed(valid, by: allowed) { fail("is not allowed by \(allowed ?? [])") }
        }
        for pattern in patterns where pattern != "*/*" && pattern != "*" {
            let pieces = pattern.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count == 2, pieces[0] != "*",
                pieces.allSatisfy({ $0 == "*" || (!$0.isEmpty && $0.lowercased().utf8.allSatisfy(MimeType.isTokenByte)) }),
                MimeType.isAllowed(valid, by: [pattern])
            else { continue }
            guard same(pieces[0].lowercased(), String(parts[0])), pieces[1] == "*" || same(pieces[1].lowercased(), String(parts[1])) else {
                fail("is allowed by the pattern \(debug(pattern))")
            }
        }
    }

    // MARK: signed-url-token

    private static let storageTokenKey = SymmetricKey(data: Data(repeating: 9, count: 32))

    /// Verifies `text` and returns whether it verified; any error but an `APIError` traps.
    private static func verifies(_ text: String, url: String, scope: SignedURLToken.Scope, now: Int64) -> SignedURLToken? {
        do {
            let token = try SignedURLToken.verify(text, key: storageTokenKey, url: url, scope: scope, now: now)
            guard same(token.url, url), token.scope == scope, token.expiresAt > now else {
                fatalError("signed-url-token: \(debug(text)) verified as \(token) for \(debug(url)) \(scope) at \(now)")
            }
            return token
        } catch is APIError {
            return nil
        } catch {
            fatalError("signed-url-token: untyped error \(error) for \(debug(text))")
        }
    }

    /// The bytes as a token (both scopes), then as the claims of a token signed with the key;
    /// then a token the signer makes from fields taken from the bytes must verify to itself,
    /// and no one-byte change of it may verify.
    private static func signedURLToken(_ data: Data) {
        let bytes = [UInt8](data)
        let text = String(decoding: bytes, as: UTF8.self)
        for scope in [SignedURLToken.Scope.download, .upload] {
            _ = verifies(text, url: "b/a.txt", scope: scope, now: 1_000)
        }
        // The claims decoder, normally behind the MAC.
        let header = Base64URL.encode(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let input = "\(header).\(Base64URL.encode(data))"
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: storageTokenKey)
        let claimsToken = "\(input).\(Base64URL.encode(Data(mac)))"
        for scope in [SignedURLToken.Scope.download, .upload] {
            _ = verifies(claimsToken, url: "b/a.txt", scope: scope, now: 1_000)
        }
        roundTrip(bytes)
    }

    private static func roundTrip(_ bytes: [UInt8]) {
        // Fields: 8 bytes iat, 8 bytes exp, a flag byte (scope, upsert, owner), 16 bytes owner,
        // 3 mutation bytes, the rest the url (short inputs are padded with zeros).
        let fixed = bytes.prefix(36) + [UInt8](repeating: 0, count: max(0, 36 - bytes.count))
        func int64(_ offset: Int) -> Int64 { fixed[offset..<offset + 8].reduce(0) { $0 << 8 | Int64($1) } }
        let issuedAt = int64(0)
        let expiresAt = int64(8)
        let flags = fixed[16]
        let scope: SignedURLToken.Scope = flags & 1 == 0 ? .download : .upload
        let o = Array(fixed[17..<33])
        let owner = flags & 4 == 0 ? nil : UUID(uuid: (o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7], o[8], o[9], o[10], o[11], o[12], o[13], o[14], o[15]))
        let mutation = Array(fixed[33..<36])
        let url = String(decoding: bytes.dropFirst(36), as: UTF8.self)
        let token = SignedURLToken(url: url, issuedAt: issuedAt, expiresAt: expiresAt, scope: scope, upsert: flags & 2 != 0, owner: owner)
        let signed: String
        do { signed = try token.signed(with: storageTokenKey) } catch { fatalError("signed-url-token: signing \(token) threw \(error)") }
        // Tokens for the names the server signs (63-byte bucket, valid name) fit the verifier's 4 KiB.
        if let name = try? ObjectPath.name(url) {
            var longest = token
            longest.url = String(repeating: "b", count: 63) + "/" + name
            guard let text = try? longest.signed(with: storageTokenKey), text.utf8.count <= 4096 else {
                fatalError("signed-url-token: the token for \(debug(longest.url)) is over 4096 bytes")
            }
        }
        guard signed.utf8.count <= 4096 else { return }
        let expected = SignedURLToken(
            url: url, issuedAt: issuedAt, expiresAt: expiresAt, scope: scope, upsert: scope == .upload && token.upsert, owner: owner)
        if expiresAt > Int64.min {
            guard let verified = verifies(signed, url: url, scope: scope, now: expiresAt - 1), verified == expected else {
                fatalError("signed-url-token: \(token) does not round-trip (\(debug(signed)))")
            }
        }
        if verifies(signed, url: url, scope: scope, now: expiresAt) != nil { fatalError("signed-url-token: expired \(debug(signed)) verified") }
        let other: SignedURLToken.Scope = scope == .download ? .upload : .download
        if verifies(signed, url: url, scope: other, now: expiresAt &- 1) != nil { fatalError("signed-url-token: \(debug(signed)) verified for \(other)") }
        // One byte changed: at the end of each part (base64's spare bits) and where the input says.
        var original = Array(signed.utf8)
        let dots = original.indices.filter { original[$0] == UInt8(ascii: ".") }
        var positions = dots.map { $0 - 1 } + [original.count - 1]
        positions += [Int(mutation[0]) * 256 + Int(mutation[1])].map { $0 % original.count }
        let now = expiresAt > Int64.min ? expiresAt - 1 : expiresAt
        for position in positions where position >= 0 {
            for replacement in [mutation[2], original[position] ^ 1, original[position] ^ 2, original[position] ^ 3] where replacement != original[position] {
                let saved = original[position]
                original[position] = replacement
                let changed = String(decoding: original, as: UTF8.self)
                original[position] = saved
                if let verified = verifies(changed, url: url, scope: scope, now: now) {
                    fatalError("signed-url-token: \(debug(changed)) (byte \(position) of \(debug(signed)) changed) verified as \(verified)")
                }
            }
        }
    }

    /// The whole text as `Upload-Metadata` and each line as `Tus-Resumable`, a byte count and
    /// an upload id. Accepted metadata must survive ``TusHeaders/encodeMetadata(_:)`` unchanged;
    /// an accepted count is the line's decimal value; an accepted id is the canonical encoding
    /// of its (valid) bucket, name and uuid; lines 1 and 2 as a bucket and a name must make an
    /// id that decodes to itself (else it traps).
    private static func tusHeaders(_ text: String) {
        if let pairs = try? TusHeaders.metadata(text) {
            for key in pairs.keys where key.isEmpty || !key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: ",") }) {
                fatalError("tus-headers: metadata key \(key.debugDescription) accepted")
            }
            guard let again = try? TusHeaders.metadata(TusHeaders.encodeMetadata(pairs)), again == pairs else {
                fatalError("tus-headers: metadata \(pairs) does not round-trip")
            }
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for line in lines {
            _ = try? TusHeaders.checkVersion(line)
            if let count = try? TusHeaders.byteCount(line, header: "Upload-Length") {
                let digits = line.drop(while: { $0 == "0" })
                guard count >= 0, String(count) == (digits.isEmpty ? "0" : String(digits)) else {
                    fatalError("tus-headers: byte count \(line.debugDescription) decoded as \(count)")
                }
            }
            if let id = try? TusHeaders.uploadID(line) {
                guard id.encoded == line, (try? ObjectPath.bucketID(id.bucket, field: "b")) == id.bucket, (try? ObjectPath.name(id.name)) == id.name else {
                    fatalError("tus-headers: upload id \(line.debugDescription) accepted as \(id)")
                }
            }
        }
        if lines.count >= 2, let bucket = try? ObjectPath.bucketID(lines[0], field: "b"), let name = try? ObjectPath.name(lines[1]) {
            let id = TusHeaders.UploadID(bucket: bucket, name: name, id: UUID())
            guard (try? TusHeaders.uploadID(id.encoded)) == id else { fatalError("tus-headers: \(id) does not round-trip") }
        }
    }

    // MARK: reels-interactions

    /// The bytes as the JSON arguments of every interaction RPC (`InteractionArguments`), and
    /// each line as a comment body, report details, share target, report reason and `before`
    /// cursor. Traps unless an accepted comment is trimmed, 1–2000 code points without NUL and
    /// accepted again unchanged (details likewise, at most 1000, nil when empty); a view is
    /// 0–3 600 000 ms; impressions are 1–50 distinct ids; page sizes are within their ranges;
    /// an accepted cursor is the text itself with a keyset payload.
    private static func reelsInteractions(_ data: Data, _ text: String) {
        typealias Arguments = InteractionArguments
        var bodies: [String] = []
        var details: [String] = []
        var cursors: [(String, String)] = []
        _ = try? Arguments.reel(data)
        _ = try? Arguments.commentID(data)
        _ = try? Arguments.share(data)
        if let comment = try? Arguments.comment(data) { bodies.append(comment.body) }
        if let view = try? Arguments.view(data), !(0...3_600_000).contains(view.watchedMilliseconds) {
            fatalError("reels-interactions: view of \(view.watchedMilliseconds) ms")
        }
        if let ids = try? Arguments.impressions(data), !(1...Arguments.maximumImpressions).contains(ids.count) || Set(ids).count != ids.count {
            fatalError("reels-interactions: impressions \(ids)")
        }
        if let report = try? Arguments.report(data), let text = report.details { details.append(text) }
        if let page = try? Arguments.commentsPage(data) {
            guard (1...Arguments.maximumCommentsLimit).contains(page.limit) else { fatalError("reels-interactions: limit \(page.limit)") }
            if let before = page.before { cursors.append((before, before)) }
        }
        if let page = try? Arguments.savedPage(data) {
            guard (1...Arguments.maximumSavedLimit).contains(page.limit) else { fatalError("reels-interactions: limit \(page.limit)") }
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if let body = try? Arguments.commentBody(line) { bodies.append(body) }
            if let text = try? Arguments.details(line) { details.append(text) }
            if let cursor = try? Arguments.cursorShape(line) { cursors.append((line, cursor)) }
            if let target = try? Arguments.shareTarget(line), target.rawValue != line { fatalError("reels-interactions: target \(line.debugDescription)") }
            if let reason = try? Arguments.reportReason(line), reason.rawValue != line { fatalError("reels-interactions: reason \(line.debugDescription)") }
            if let seconds = Double(line), let ms = try? Arguments.watchedMilliseconds(seconds), !(0...3_600_000).contains(ms) {
                fatalError("reels-interactions: \(line.debugDescription) seconds as \(ms) ms")
            }
        }
        for (texts, maximum) in [(bodies, Arguments.maximumCommentLength), (details, Arguments.maximumDetailsLength)] {
            for accepted in texts {
                let scalars = accepted.unicodeScalars
                guard (1...maximum).contains(scalars.count), !scalars.contains("\u{0}"),
                    accepted.trimmingCharacters(in: .whitespacesAndNewlines) == accepted
                else { fatalError("reels-interactions: accepted text \(accepted.debugDescription)") }
            }
        }
        for body in bodies where (try? Arguments.commentBody(body)) != body {
            fatalError("reels-interactions: body \(body.debugDescription) is not a fixed point")
        }
        for (sent, accepted) in cursors {
            guard sent == accepted, let (payload, _) = KeysetCursor.signedParts(accepted),
                KeysetCursor(payload: String(decoding: payload, as: UTF8.self)) != nil
            else { fatalError("reels-interactions: accepted cursor \(sent.debugDescription)") }
        }
    }
}
