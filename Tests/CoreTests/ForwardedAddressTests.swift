import Core
import HTTPTypes
import Testing

/// One reading of `X-Forwarded-For` for requests and WebSocket upgrades.
@Suite struct ForwardedAddressTests {
    func headers(_ value: String) -> HTTPFields {
        var fields = HTTPFields()
        fields[ForwardedAddress.header] = value
        return fields
    }

    @Test func theRightMostEntryCountsOnlyBehindATrustedProxy() {
        #expect(ForwardedAddress.client(headers("198.51.100.7, 203.0.113.1"), peer: "10.0.0.1", trustProxy: true) == "203.0.113.1")
        #expect(ForwardedAddress.client(headers("198.51.100.7, 203.0.113.1"), peer: "10.0.0.1", trustProxy: false) == "10.0.0.1")
        #expect(ForwardedAddress.client(headers(","), peer: "10.0.0.1", trustProxy: true) == "10.0.0.1")
        #expect(ForwardedAddress.client(headers("1.2.3.4, "), peer: "10.0.0.1", trustProxy: true) == "10.0.0.1")
        #expect(ForwardedAddress.client(headers(String(repeating: "a", count: 65)), peer: nil, trustProxy: true) == "unknown")
    }
}
