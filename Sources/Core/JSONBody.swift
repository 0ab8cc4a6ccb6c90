import Foundation
import Hummingbird

/// Reading JSON request bodies and writing JSON responses with the project's conventions:
/// bodies up to ``RequestLimits/maxBodyBytes``, RFC 3339 timestamps in UTC with
/// microseconds, precise field errors for anything malformed.
public enum JSONBody {
    /// The encoder used for every JSON response.
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return encoder
    }()

    /// The decoder used for request bodies.
    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = Timestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected an RFC 3339 timestamp")
            }
            return date
        }
        return decoder
    }()

    /// Collects the request body (at most 1 MiB). An empty body reads as `{}`. A body with
    /// U+0000 in any string is refused here (``rejectNUL(in:)``), so every endpoint that
    /// reads its body through this function is covered.
    public static func bytes(of request: Request) async throws -> Data {
        let buffer = try await request.body.collect(upTo: RequestLimits.maxBodyBytes)
        let data = Data(buffer: buffer)
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return Data("{}".utf8)
        }
        try rejectTooDeep(data)
        try rejectNUL(in: data)
        return data
    }

    /// Refuses a body nested deeper than ``JSONNesting/maximumDepth`` (400 naming `body`).
    public static func rejectTooDeep(_ data: Data) throws {
        if JSONNesting.isTooDeep(data) { throw APIError.invalidField("body", JSONNesting.rule) }
    }

    /// Decodes the request body into `T`, turning every failure into a 400 naming the field.
    public static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        // `bytes(of:)` has already applied the nesting and U+0000 rules.
        try decodeChecked(type, from: try await bytes(of: request))
    }

    /// Decodes `data` into `T`, turning every failure into a 400 naming the field.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try rejectTooDeep(data)
        try rejectNUL(in: data)
        return try decodeChecked(type, from: data)
    }

    /// Decodes text that has passed the nesting and U+0000 rules.
    private static func decodeChecked<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty, let named = unrepresentableNumber(in: data) {
                throw named
            }
            throw describe(error)
        }
    }

    /// Parses `data` as a JSON object (`[String: Any]`), or throws `bad_json`.
    public static func object(from data: Data) throws -> [String: Any] {
        try rejectTooDeep(data)
        try rejectNUL(in: data)
        guard let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw APIError(status: .badRequest, code: "bad_json", message: "Could not parse request body as JSON")
        }
        guard let object = value as? [String: Any] else {
            throw APIError(status: .badRequest, code: "bad_json", message: "Request body must be a JSON object")
        }
        return object
    }

    /// The keys of the JSON object in `data`, with the errors of ``object(from:)``. Text that
    /// is an object takes the project's own parser (JSONValue+Text.swift), several times
    /// cheaper than `JSONSerialization`; anything else goes through ``object(from:)``.
    public static func objectKeys(from data: Data) throws -> [String] {
        try rejectTooDeep(data)
        try rejectNUL(in: data)
        if let text = String(validating: data, as: UTF8.self), case .object(let members)? = try? JSONValue.parseText(text) {
            return Array(members.keys)
        }
        return Array(try object(from: data).keys)
    }

    /// The rule every string of a request body (object keys included) must follow.
    public static let nulRule = "must not contain U+0000"

    /// Refuses JSON text with U+0000 in any string or object key: 400 naming the field path
    /// (`data.nick`, `member_ids[2]`, `body` for the top level) and ``nulRule``. PostgreSQL
    /// cannot store U+0000 in `text` or `jsonb`, so such a value would otherwise fail deep
    /// in a query. Malformed JSON is left to the decoder that reads the text next.
    ///
    /// The scan is a byte search; the text is parsed only when it has a raw NUL byte or a
    /// `\u0000` escape, to find the path.
    public static func rejectNUL(in data: Data) throws {
        guard mayContainNUL(data) else { return }
        guard let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            if data.contains(0) { throw APIError.invalidField("body", nulRule) }
            return
        }
        if let path = nulPath(in: value, at: []) {
            throw APIError.invalidField(render(path), nulRule)
        }
    }

    /// Whether `data` has a NUL byte or the escape `\u0000` (a cheap over-approximation).
    static func mayContainNUL(_ data: Data) -> Bool {
        data.withUnsafeBytes { raw -> Bool in
            let bytes = raw.bindMemory(to: UInt8.self)
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == 0 { return true }
                if byte == UInt8(ascii: "\\"), index + 5 < bytes.count, bytes[index + 1] == UInt8(ascii: "u"),
                    bytes[index + 2] == UInt8(ascii: "0"), bytes[index + 3] == UInt8(ascii: "0"),
                    bytes[index + 4] == UInt8(ascii: "0"), bytes[index + 5] == UInt8(ascii: "0")
                {
                    return true
                }
                index += 1
            }
            return false
        }
    }

    /// One step of a JSON path: an object key or an array index.
    enum PathStep {
        case key(String)
        case index(Int)
    }

    /// The path of the first string or key containing U+0000, depth first.
    static func nulPath(in value: Any, at path: [PathStep]) -> [PathStep]? {
        switch value {
        case let text as String:
            return text.unicodeScalars.contains("\u{0}") ? path : nil
        case let array as [Any]:
            for (index, element) in array.enumerated() {
                if let found = nulPath(in: element, at: path + [.index(index)]) { return found }
            }
            return nil
        case let object as [String: Any]:
            for key in object.keys.sorted() {
                if key.unicodeScalars.contains("\u{0}") { return path + [.key(key)] }
                if let member = object[key], let found = nulPath(in: member, at: path + [.key(key)]) { return found }
            }
            return nil
        default:
            return nil
        }
    }

    /// `a.b[0].c`, with U+0000 in a key written as `\u0000`; `body` for the top level.
    static func render(_ path: [PathStep]) -> String {
        var text = ""
        for step in path {
            switch step {
            case .key(let key):
                if !text.isEmpty { text += "." }
                text += key.replacingOccurrences(of: "\u{0}", with: "\\u0000")
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text.isEmpty ? "body" : text
    }

    /// A 200 (or other) JSON response of an encodable value.
    public static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        let data = try encoder.encode(value)
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A JSON response from already-encoded bytes.
    public static func response(rawJSON data: Data, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Describes a decoding failure as a field-level API error.
    public static func describe(_ error: DecodingError) -> APIError {
        func path(_ codingPath: [any CodingKey], _ extra: (any CodingKey)? = nil) -> String {
            let keys = codingPath + (extra.map { [$0] } ?? [])
            let joined = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return joined.replacingOccurrences(of: ".[", with: "[").isEmpty ? "body" : joined.replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return .invalidField(path(context.codingPath, key), "is required")
        case .typeMismatch(let type, let context):
            return .invalidField(path(context.codingPath), "must be \(describe(type))")
        case .valueNotFound(let type, let context):
            return .invalidField(path(context.codingPath), "must be \(describe(type)), not null")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return APIError(status: .badRequest, code: "bad_json", message: "Could not parse request body as JSON")
            }
            return .invalidField(path(context.codingPath), context.debugDescription)
        @unknown default:
            return APIError(status: .badRequest, code: "bad_json", message: "Could not parse request body as JSON")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Int32.Type, is Int64.Type: return "an integer"
        case is Double.Type, is Decimal.Type: return "a number"
        case is UUID.Type: return "a UUID string"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a valid \(name)"
        }
    }
}
