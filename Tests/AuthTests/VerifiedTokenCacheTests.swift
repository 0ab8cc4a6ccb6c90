@testable import Auth
import Core
import Foundation
import Testing
import TestSupport

@Suite struct VerifiedTokenCacheTests {
    static let caller = Caller(role: .authenticated, userID: UUID(), claimsJSON: "{}")

    @Test func aRememberedTokenExpiresAtUseAndTheCacheIsBounded() {
        let cache = VerifiedTokenCache(capacity: 3)
        cache.remember("a", caller: Self.caller, expiresAt: 100)
        #expect(cache.caller(for: "a", now: 99) == Self.caller)
        #expect(cache.caller(for: "a", now: 100) == nil, "a token is not valid at its exp")
        #expect(cache.caller(for: "a", now: 99) == nil, "an expired entry is dropped")
        for token in ["b", "c", "d"] { cache.remember(token, caller: Self.caller, expiresAt: 100) }
        #expect(cache.count == 3)
        cache.remember("e", caller: Self.caller, expiresAt: 100)
        #expect(cache.count == 1, "past its capacity the cache starts over")
        #expect(cache.caller(for: "e", now: 0) == Self.caller)
        // Canonically equivalent to "K" for String, but other bytes (KELVIN SIGN).
        cache.remember("xK", caller: Self.caller, expiresAt: 100)
        #expect(cache.caller(for: "x\u{212A}", now: 0) == nil)
    }

    @Test func aVerifiedTokenDoesNotVouchForAnyOtherBytes() async throws {
        try await TestDatabase.withDatabase { database in
            let sender = CapturingSender()
            let auth = try await AuthService.load(database: database, settings: AuthFixture.settings { _ in }, sender: sender)
            let session = try await AuthFixture.signIn(auth, sender)
            let genuine = try await auth.tokens.caller(fromToken: session.access_token)
            #expect(auth.tokens.verified.count == 1)
            #expect(try await auth.tokens.caller(fromToken: session.access_token) == genuine)

            var parts = session.access_token.split(separator: ".").map(String.init)
            let signature = parts[2]
            var flipped = Array(signature)
            flipped[10] = flipped[10] == "A" ? "B" : "A"  // inside the signature, not its padding bits
            parts[2] = String(flipped)
            await #expect(throws: TokenError.invalid) { try await auth.tokens.caller(fromToken: parts.joined(separator: ".")) }
            parts[2] = signature
            parts[1] = Data(#"{"sub":"00000000-0000-0000-0000-000000000000","role":"service_role","exp":9999999999}"#.utf8)
                .base64EncodedString().replacingOccurrences(of: "=", with: "")
            await #expect(throws: TokenError.invalid) { try await auth.tokens.caller(fromToken: parts.joined(separator: ".")) }
            #expect(auth.tokens.verified.count == 1, "refused tokens are not remembered")
        }
    }
}
