/// A Lua script run with `EVALSHA`, named by the SHA-1 of its source, computed locally.
public struct RedisScript: Sendable, Hashable {
    /// The Lua source, sent with `SCRIPT LOAD` when the server does not know the script yet.
    public let source: String
    /// The lowercase hexadecimal SHA-1 of `source`, as Redis computes it.
    public let sha1: String

    /// A script with the given Lua source.
    public init(_ source: String) {
        self.source = source
        self.sha1 = SHA1.hexDigest(source.utf8)
    }
}
