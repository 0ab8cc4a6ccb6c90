import Crypto
import Foundation
@testable import Reels
import Testing

/// `FeedCursor` payloads and their signatures: a cursor has exactly one spelling.
@Suite struct FeedCursorTests {
    let key = SymmetricKey(data: Data(repeating: 7, count: 32))
    let session = UUID(uuidString: "0b9e5c1e-7f7a-4d8e-9a51-2d4c1f3e6a70")!

    @Test func theServersPayloadRoundTrips() async throws {
        let cursor = FeedCursor(session: session, page: 3)
        #expect(cursor.payload == "feed|0b9e5c1e-7f7a-4d8e-9a51-2d4c1f3e6a70|3")
        #expect(FeedCursor(payload: cursor.payload) == cursor)
        let signed = try await FeedCursorCodec(key: key).encode(cursor)
        #expect(try FeedCursorCodec.verify(signed, key: key) == cursor)
    }

    /// Foundation's UUID parser on Linux took `00000000-0 00-…` (found by the feed-config
    /// fuzzer); upper case, leading zeros and other spellings are refused too.
    @Test func otherSpellingsOfTheSessionAreRefused() {
        for payload in [
            "feed|00000000-0 00-0000-0000-000000000000|1",
            "feed|0B9E5C1E-7F7A-4D8E-9A51-2D4C1F3E6A70|1",
            "feed|0b9e5c1e7f7a4d8e9a512d4c1f3e6a70|1",
            "feed|0b9e5c1e-7f7a-4d8e-9a51-2d4c1f3e6a70|01",
            "feed|0b9e5c1e-7f7a-4d8e-9a51-2d4c1f3e6a70|1001",
            "feed|0b9e5c1e-7f7a-4d8e-9a51-2d4c1f3e6a70|0",
            "feed|0b9e5c1e-7f7a-4d8e-9a51-2d4c1f3e6a70|+1",
        ] {
            #expect(FeedCursor(payload: payload) == nil, "\(payload)")
        }
    }
}
