import Core
import Crypto
import Foundation

/// AWS Signature Version 4 for S3 (header-based and presigned query-string authentication),
/// as described in the S3 API reference ("Authenticating Requests (AWS Signature Version 4)").
///
/// Paths given to the signer are already URI-encoded (`encodePath`): S3 signs the path exactly
/// as it is sent, each segment encoded once.
public struct SigV4Signer: Sendable {
    /// `x-amz-content-sha256` value for a body that is not part of the signature.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// Hex SHA-256 of the empty body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    static let algorithm = "AWS4-HMAC-SHA256"

    public let accessKeyID: String
    public let secretAccessKey: String
    public let region: String
    public let service: String

    public init(accessKeyID: String, secretAccessKey: String, region: String, service: String = "s3") {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.service = service
    }

    /// The headers a request must carry once signed.
    public struct SignedHeaders: Sendable, Equatable {
        /// `x-amz-date`, `YYYYMMDD'T'HHMMSS'Z'`.
        public var amzDate: String
        /// `x-amz-content-sha256`: the payload hash that was signed.
        public var contentSHA256: String
        /// `Authorization`.
        public var authorization: String
        /// The hex signature inside `authorization`.
        public var signature: String
    }

    /// Signs a request for the `Authorization` header. `headers` must contain `host`;
    /// `x-amz-date` and `x-amz-content-sha256` are added (and signed) here. `query` holds
    /// raw (not yet encoded) names and values.
    public func sign(
        method: String,
        path: String,
        query: [(String, String)] = [],
        headers: [(String, String)],
        payloadHash: String,
        date: Date
    ) -> SignedHeaders {
        let time = SigV4Time(date)
        var all = headers.filter {
            let name = $0.0.lowercased()
            return name != "x-amz-date" && name != "x-amz-content-sha256"
        }
        all.append(("x-amz-date", time.dateTime))
        all.append(("x-amz-content-sha256", payloadHash))
        let canonical = canonicalRequest(method: method, path: path, query: query, headers: all, payloadHash: payloadHash)
        let toSign = stringToSign(canonicalRequest: canonical.text, time: time)
        let signature = Hex.lowercase(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: signingKey(dateStamp: time.dateStamp)))
        let authorization = "\(Self.algorithm) Credential=\(accessKeyID)/\(scope(time)),SignedHeaders=\(canonical.signedHeaders),Signature=\(signature)"
        return SignedHeaders(amzDate: time.dateTime, contentSHA256: payloadHash, authorization: authorization, signature: signature)
    }

    /// A presigned query string (without the leading `?`) granting `method` on `path` for
    /// `expires` seconds (1…604800) from `date`; only `host` is signed and the payload is unsigned.
    public func presignedQuery(
        method: String,
        path: String,
        query: [(String, String)] = [],
        host: String,
        expires: Int,
        date: Date
    ) -> String {
        let time = SigV4Time(date)
        var params = query
        params.append(("X-Amz-Algorithm", Self.algorithm))
        params.append(("X-Amz-Credential", "\(accessKeyID)/\(scope(time))"))
        params.append(("X-Amz-Date", time.dateTime))
        params.append(("X-Amz-Expires", String(min(max(expires, 1), 604_800))))
        params.append(("X-Amz-SignedHeaders", "host"))
        let canonical = canonicalRequest(
            method: method, path: path, query: params, headers: [("host", host)], payloadHash: Self.unsignedPayload
        )
        let toSign = stringToSign(canonicalRequest: canonical.text, time: time)
        let signature = Hex.lowercase(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: signingKey(dateStamp: time.dateStamp)))
        return Self.canonicalQuery(params) + "&X-Amz-Signature=" + signature
    }

    // MARK: - The steps, visible for tests

    /// The canonical request and its `SignedHeaders` list.
    func canonicalRequest(
        method: String, path: String, query: [(String, String)], headers: [(String, String)], payloadHash: String
    ) -> (text: String, signedHeaders: String) {
        // Lower-case names, trimmed values with inner runs of spaces collapsed; repeated names joined by commas.
        var merged: [String: [String]] = [:]
        for (name, value) in headers {
            merged[name.lowercased(), default: []].append(Self.canonicalHeaderValue(value))
        }
        let names = merged.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let headerLines = names.map { "\($0):\(merged[$0, default: []].joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let text = [
            method.uppercased(),
            path.isEmpty ? "/" : path,
            Self.canonicalQuery(query),
            headerLines,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        return (text, signedHeaders)
    }

    func stringToSign(canonicalRequest: String, time: SigV4Time) -> String {
        [
            Self.algorithm,
            time.dateTime,
            scope(time),
            Hex.lowercase(SHA256.hash(data: Data(canonicalRequest.utf8))),
        ].joined(separator: "\n")
    }

    /// HMAC chain: "AWS4" + secret → date → region → service → "aws4_request".
    func signingKey(dateStamp: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secretAccessKey)".utf8))
        for part in [dateStamp, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    func scope(_ time: SigV4Time) -> String {
        "\(time.dateStamp)/\(region)/\(service)/aws4_request"
    }

    // MARK: - Encoding

    /// Query parameters encoded and sorted by name, then value (byte order), as `a=b&c=d`.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        query
            .map { (uriEncode($0.0), uriEncode($0.1)) }
            .sorted {
                $0.0 == $1.0
                    ? Array($0.1.utf8).lexicographicallyPrecedes(Array($1.1.utf8))
                    : Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8))
            }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// URI-encodes UTF-8 bytes: `A–Z a–z 0–9 - . _ ~` stay, every other byte becomes `%XX`
    /// (upper-case hex); `/` stays only when `keepSlash` is set.
    public static func uriEncode(_ string: String, keepSlash: Bool = false) -> String {
        var out = [UInt8]()
        out.reserveCapacity(string.utf8.count)
        let digits = Array("0123456789ABCDEF".utf8)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// An absolute path from raw segments such as a bucket and an object key: each `/`-separated
    /// segment encoded once, the separators kept (`"my bucket", "a/b+c"` → `/my%20bucket/a/b%2Bc`).
    public static func encodePath(_ parts: String...) -> String {
        "/" + parts.map { uriEncode($0, keepSlash: true) }.joined(separator: "/")
    }

    static func canonicalHeaderValue(_ value: String) -> String {
        var out = ""
        var lastWasSpace = false
        for character in value.trimmingCharacters(in: .whitespaces) {
            if character == " " {
                if !lastWasSpace { out.append(character) }
                lastWasSpace = true
            } else {
                out.append(character)
                lastWasSpace = false
            }
        }
        return out
    }
}

/// A signing time in the two forms SigV4 uses (UTC, no locale or formatter involved).
struct SigV4Time: Sendable {
    /// `YYYYMMDD'T'HHMMSS'Z'`
    let dateTime: String
    /// `YYYYMMDD`
    let dateStamp: String

    init(_ date: Date) {
        let seconds = Int64(exactly: date.timeIntervalSince1970.rounded(.down)) ?? 0
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        dateStamp = pad(year, 4) + pad(month, 2) + pad(day, 2)
        dateTime = dateStamp + "T" + pad(secondOfDay / 3600, 2) + pad(secondOfDay % 3600 / 60, 2) + pad(secondOfDay % 60, 2) + "Z"
    }
}
