import Auth
import Chat
@testable import Calls
import Core
import Crypto
import Foundation
import Insurance
import NIOCore
@testable import Realtime
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

    /// The envelope, then the payload fields HELLO and ROOM_JOIN read before any database work.
    private static func callsFrame(_ text: String) {
        guard let frame = try? InboundFrame.parse(text) else { return }
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
}
