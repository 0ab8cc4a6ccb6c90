/// Where and how to reach Redis, usually read from `REDIS_URL`.
public struct RedisConfiguration: Sendable, Hashable {
    /// How the server's TLS certificate is checked.
    public enum CertificateVerification: Sendable, Hashable {
        /// The chain must lead to a trusted root and name the host (the default).
        case full
        /// Anything is accepted: for tests against a self-signed certificate only.
        case none
    }

    /// The host name or IP address (without brackets for IPv6).
    public var host: String
    /// The TCP port (default 6379).
    public var port: Int
    /// The ACL user; nil with a password means the `default` user.
    public var username: String?
    /// The password, if the server wants one.
    public var password: String?
    /// The database number selected on every connection (default 0).
    public var database: Int
    /// Whether connections use TLS (`rediss://`).
    public var tls: Bool
    /// How the server's certificate is checked when `tls` is on.
    public var tlsCertificateVerification: CertificateVerification
    /// A PEM file of trusted roots to use instead of the system's, when `tls` is on.
    public var tlsCAFile: String?
    /// How long opening a connection (TCP, TLS and the `HELLO` handshake) may take. Default 5 s.
    public var connectTimeout: Duration
    /// How long one command (or pipeline), including waiting for a free connection, may take. Default 5 s.
    public var commandTimeout: Duration
    /// The most connections a `RedisClient` opens. Default 8.
    public var poolSize: Int
    /// The name given with `CLIENT SETNAME` (shown by `CLIENT LIST`); nil for none.
    public var clientName: String?
    /// Bounds on replies from the server.
    public var decodingLimits: RESPDecodingLimits

    /// A configuration from its parts.
    public init(
        host: String = "localhost",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        tls: Bool = false,
        tlsCertificateVerification: CertificateVerification = .full,
        tlsCAFile: String? = nil,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(5),
        poolSize: Int = 8,
        clientName: String? = "ecomansoni",
        decodingLimits: RESPDecodingLimits = RESPDecodingLimits()
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.tlsCertificateVerification = tlsCertificateVerification
        self.tlsCAFile = tlsCAFile
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.poolSize = poolSize
        self.clientName = clientName
        self.decodingLimits = decodingLimits
    }

    /// `host:port/db` for logs and errors; never includes credentials.
    public var target: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "\(host):\(self.port)/\(self.database)"
    }

    /// Parses `redis://[user[:password]@]host[:port][/db][?option=value&…]`; `rediss://` turns TLS on.
    ///
    /// Options: `connectTimeout` and `commandTimeout` (milliseconds), `poolSize`, and for `rediss://`
    /// `tlsVerify` (`full` or `none`) and `tlsCAFile` (a PEM path). The user and password are
    /// percent-decoded; `redis://:password@host` authenticates the `default` user. Errors name
    /// `REDIS_URL` and never contain the password.
    public init(url: String) throws(RedisConfigurationError) {
        self.init()
        var rest: Substring
        if let separator = url.firstRange(of: "://") {
            let scheme = url[..<separator.lowerBound].lowercased()
            switch scheme {
            case "redis": self.tls = false
            case "rediss": self.tls = true
            default:
                let shown = scheme.count > 20 ? String(scheme.prefix(20)) + "…" : scheme
                throw RedisConfigurationError("REDIS_URL must start with redis:// or rediss://, not '\(shown)://…'")
            }
            rest = url[separator.upperBound...]
        } else {
            throw RedisConfigurationError("REDIS_URL must start with redis:// or rediss:// (no scheme found)")
        }

        // Credentials end at the last '@': nothing after the host may contain one, while a
        // password may hold '/', '?', '#' or ':' if its writer did not percent-encode them.
        if let at = rest.lastIndex(of: "@") {
            try self.parseUserInfo(rest[..<at])
            rest = rest[rest.index(after: at)...]
        }

        var query: Substring = ""
        if let questionMark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: questionMark)...]
            rest = rest[..<questionMark]
        }
        if rest.contains("#") {
            throw RedisConfigurationError("REDIS_URL must not contain a fragment ('#')")
        }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        try self.parseHostAndPort(rest)
        if !path.isEmpty {
            guard path.allSatisfy(\.isASCIIDigit), let database = Int(path), database <= Int(Int32.max) else {
                throw RedisConfigurationError("REDIS_URL database (the path) must be a number from 0, not '\(Self.excerpt(path))'")
            }
            self.database = database
        }
        if !query.isEmpty {
            try self.parseOptions(query)
        }
    }

    private mutating func parseUserInfo(_ userInfo: Substring) throws(RedisConfigurationError) {
        let user: Substring
        let password: Substring?
        if let colon = userInfo.firstIndex(of: ":") {
            user = userInfo[..<colon]
            password = userInfo[userInfo.index(after: colon)...]
        } else {
            user = userInfo
            password = nil
        }
        guard let decodedUser = Self.percentDecode(user) else {
            throw RedisConfigurationError("REDIS_URL user name has an invalid percent-escape")
        }
        var decodedPassword: String?
        if let password {
            guard let decoded = Self.percentDecode(password) else {
                throw RedisConfigurationError("REDIS_URL password has an invalid percent-escape")
            }
            decodedPassword = decoded
        }
        if decodedPassword?.isEmpty ?? true {
            guard decodedUser.isEmpty else {
                throw RedisConfigurationError(
                    "REDIS_URL has a user name but no password; write redis://user:password@host")
            }
            return
        }
        self.username = decodedUser.isEmpty ? nil : decodedUser
        self.password = decodedPassword
    }

    private mutating func parseHostAndPort(_ authority: Substring) throws(RedisConfigurationError) {
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw RedisConfigurationError("REDIS_URL IPv6 host must be closed by ']'")
            }
            self.host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else {
                    throw RedisConfigurationError("REDIS_URL must have ':port' after an IPv6 host, not '\(Self.excerpt(after))'")
                }
                portText = after.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            self.host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            self.host = String(authority)
        }
        guard !self.host.isEmpty else {
            throw RedisConfigurationError("REDIS_URL has no host")
        }
        let allowed = authority.hasPrefix("[") ? Self.ipv6Characters : Self.hostCharacters
        guard self.host.unicodeScalars.allSatisfy({ allowed.contains($0) }) else {
            throw RedisConfigurationError("REDIS_URL host '\(Self.excerpt(self.host[...]))' has a character not allowed in a host name")
        }
        if let portText {
            // The port is echoed only when it is digits: "redis://user:secret" without '@' must not show "secret".
            guard portText.allSatisfy(\.isASCIIDigit), !portText.isEmpty else {
                throw RedisConfigurationError("REDIS_URL port must be a number from 1 to 65535")
            }
            guard let port = Int(portText), (1...65535).contains(port) else {
                throw RedisConfigurationError("REDIS_URL port must be a number from 1 to 65535, not '\(Self.excerpt(portText))'")
            }
            self.port = port
        }
    }

    private mutating func parseOptions(_ query: Substring) throws(RedisConfigurationError) {
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            let value = parts.count > 1 ? parts[1] : ""
            switch name {
            case "connectTimeout":
                self.connectTimeout = .milliseconds(try Self.positiveNumber(name, value, maximum: 3_600_000))
            case "commandTimeout":
                self.commandTimeout = .milliseconds(try Self.positiveNumber(name, value, maximum: 3_600_000))
            case "poolSize":
                self.poolSize = try Self.positiveNumber(name, value, maximum: 1024)
            case "tlsVerify":
                guard self.tls else {
                    throw RedisConfigurationError("REDIS_URL option tlsVerify applies to rediss:// only")
                }
                switch value {
                case "full": self.tlsCertificateVerification = .full
                case "none": self.tlsCertificateVerification = .none
                default:
                    throw RedisConfigurationError("REDIS_URL option tlsVerify must be full or none, not '\(Self.excerpt(value))'")
                }
            case "tlsCAFile":
                guard self.tls else {
                    throw RedisConfigurationError("REDIS_URL option tlsCAFile applies to rediss:// only")
                }
                guard let path = Self.percentDecode(value), !path.isEmpty else {
                    throw RedisConfigurationError("REDIS_URL option tlsCAFile must be a file path")
                }
                self.tlsCAFile = path
            default:
                throw RedisConfigurationError(
                    "REDIS_URL has an unknown option '\(Self.excerpt(name[...]))' (known: connectTimeout, commandTimeout, poolSize, tlsVerify, tlsCAFile)")
            }
        }
    }

    private static func positiveNumber(_ name: String, _ value: Substring, maximum: Int) throws(RedisConfigurationError) -> Int {
        guard value.allSatisfy(\.isASCIIDigit), value.count <= 10, let number = Int(value), (1...maximum).contains(number) else {
            throw RedisConfigurationError("REDIS_URL option \(name) must be a number from 1 to \(maximum), not '\(Self.excerpt(value))'")
        }
        return number
    }

    /// `%XX` escapes decoded as UTF-8; nil for a malformed escape or invalid UTF-8.
    static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static let hostCharacters: Set<Unicode.Scalar> = Set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._".unicodeScalars)
    private static let ipv6Characters: Set<Unicode.Scalar> = Set("0123456789abcdefABCDEF:.%".unicodeScalars)

    private static func excerpt(_ text: Substring) -> String {
        text.count > 40 ? String(text.prefix(40)) + "…" : String(text)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool {
        self.isASCII && self.isNumber
    }
}

/// A `REDIS_URL` that cannot be used; the message names `REDIS_URL` and the rule broken, never the password.
public struct RedisConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The explanation, e.g. `REDIS_URL port must be a number from 1 to 65535, not 'abc'`.
    public let message: String

    /// An error with the given explanation.
    public init(_ message: String) {
        self.message = message
    }

    /// The explanation.
    public var description: String { self.message }
}
