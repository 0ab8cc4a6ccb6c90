@testable import Auth
import Testing

@Suite struct BearerTokenTests {
    @Test func theTokenIsTakenFromABearerAuthorization() {
        #expect(BearerToken.from(authorization: "Bearer abc.def") == "abc.def")
        #expect(BearerToken.from(authorization: "bearer \t abc \t") == "abc", "scheme in any case, spaces and tabs trimmed")
        #expect(BearerToken.from(authorization: "BEARER a b") == "a b")
    }

    @Test(arguments: [nil, "", "Bearer", "Bearer ", "Bearer  \t ", "Basic abc", "Token abc"])
    func noTokenWithoutABearerScheme(_ header: String?) {
        #expect(BearerToken.from(authorization: header) == nil)
    }
}
