import HTTPTypes

/// The client address a trusted reverse proxy reports: the right-most `X-Forwarded-For`
/// entry, i.e. the address that proxy saw (clients cannot spoof it past the proxy). One rule
/// for HTTP requests and WebSocket upgrades alike.
public enum ForwardedAddress {
    /// `X-Forwarded-For`.
    public static let header = HTTPField.Name("X-Forwarded-For")!  // a constant, valid field name

    /// The reported address, or nil when the header is absent, its last entry empty, or longer
    /// than any address (64 characters).
    public static func from(_ headers: HTTPFields) -> String? {
        guard let value = headers[header],
            let last = value.split(separator: ",", omittingEmptySubsequences: false).last?.trimmingCharacters(in: .whitespaces),
            !last.isEmpty, last.count <= 64
        else { return nil }
        return last
    }

    /// The address to count a client by: the proxy's report when the deployment trusts one
    /// (`TRUST_PROXY`), else the socket's peer.
    public static func client(_ headers: HTTPFields, peer: String?, trustProxy: Bool) -> String {
        if trustProxy, let forwarded = from(headers) { return forwarded }
        return peer ?? "unknown"
    }
}
