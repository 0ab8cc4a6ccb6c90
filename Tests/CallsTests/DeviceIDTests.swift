@testable import Calls
import Testing

/// HELLO accepts exactly the device ids the database can store
/// (`char_length(device_id) BETWEEN 1 AND 128`, no U+0000).
@Suite struct DeviceIDTests {
    @Test func lengthCountsCodePointsLikePostgreSQL() {
        #expect(DeviceID.isValid("d"))
        #expect(DeviceID.isValid(String(repeating: "x", count: 128)))
        #expect(!DeviceID.isValid(String(repeating: "x", count: 129)))
        #expect(!DeviceID.isValid(""))
        // One grapheme cluster of 129 code points: Swift's count says 1, the database 129.
        let combining = "e" + String(repeating: "\u{301}", count: 128)
        #expect(combining.count == 1)
        #expect(!DeviceID.isValid(combining))
        // 128 four-byte code points fit: the limit is characters, not bytes.
        #expect(DeviceID.isValid(String(repeating: "😀", count: 128)))
    }

    @Test func nulIsRefused() {
        #expect(!DeviceID.isValid("dev\u{0}ice"))
        #expect(DeviceID.rule.contains("U+0000"))
    }
}
