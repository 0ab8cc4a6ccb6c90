import Storage
import Testing

/// `Range` headers (RFC 9110 §14.1.2) resolved against object sizes: 206 ranges, 416, and
/// the headers served whole (absent, malformed, other units, several ranges).
@Suite struct ByteRangeTests {
    @Test(arguments: [
        ("bytes=0-499", 1000, ByteRange.partial(0..<500)),
        ("bytes=500-999", 1000, .partial(500..<1000)),
        ("bytes=500-", 1000, .partial(500..<1000)),
        ("bytes=-500", 1000, .partial(500..<1000)),
        ("bytes=0-0", 1000, .partial(0..<1)),
        ("bytes=999-999", 1000, .partial(999..<1000)),
        ("bytes=-1", 1000, .partial(999..<1000)),
        ("bytes=0-", 1, .partial(0..<1)),
        ("Bytes=2-4", 10, .partial(2..<5)),
        ("BYTES=2-4", 10, .partial(2..<5)),
        ("bytes=0004-0005", 10, .partial(4..<6)),
        // The last position and the suffix are clamped to the object.
        ("bytes=5-1000000", 10, .partial(5..<10)),
        ("bytes=-1000000", 10, .partial(0..<10)),
        ("bytes=-10", 10, .partial(0..<10)),
        // Empty list elements do not count (RFC 9110 §5.6.1); spaces around elements are allowed.
        ("bytes=0-1,", 10, .partial(0..<2)),
        ("bytes=, 0-1 ,", 10, .partial(0..<2)),
    ] as [(String, Int64, ByteRange)])
    func satisfiable(_ header: String, _ size: Int64, _ expected: ByteRange) {
        #expect(ByteRange.resolve(header, size: size) == expected)
    }

    @Test(arguments: [
        ("bytes=1000-", 1000),
        ("bytes=1000-2000", 1000),
        ("bytes=5-4", 1000),  // invalid: last before first
        ("bytes=-0", 1000),
        ("bytes=0-", 0),
        ("bytes=0-0", 0),
        ("bytes=-0", 0),
    ] as [(String, Int64)])
    func unsatisfiable(_ header: String, _ size: Int64) {
        #expect(ByteRange.resolve(header, size: size) == .unsatisfiable)
    }

    @Test(arguments: [
        nil, "", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=1-2-3", "bytes=--1", "bytes=1", "bytes=+1-2", "bytes=-+1",
        "bytes=0x10-", "bytes=1 -2", "bytes = 1-2", "items=0-1", "=0-1", "bytes=0-1,2-3", "bytes=0-1, -5", "bytes=0-1,0-1",
        "bytes=٣-٤", "bytes=1-2\u{0}", "bytes=,",
    ] as [String?])
    func ignored(_ header: String?) {
        #expect(ByteRange.resolve(header, size: 1000) == .ignore)
    }

    @Test func suffixOfAnEmptyObjectServesItWhole() {
        #expect(ByteRange.resolve("bytes=-5", size: 0) == .ignore)
    }

    @Test func negativeSizesCountAsEmpty() {
        #expect(ByteRange.resolve("bytes=0-", size: -5) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=-5", size: -5) == .ignore)
    }

    @Test func hugeNumbersDoNotTrap() {
        let max = Int64.max
        let huge = "99999999999999999999999999999999999999999999"
        #expect(ByteRange.resolve("bytes=\(huge)-", size: max) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=\(huge)-\(huge)", size: 10) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=0-\(huge)", size: 10) == .partial(0..<10))
        #expect(ByteRange.resolve("bytes=-\(huge)", size: 10) == .partial(0..<10))
        #expect(ByteRange.resolve("bytes=-\(huge)", size: max) == .partial(0..<max))
        #expect(ByteRange.resolve("bytes=0-\(max)", size: max) == .partial(0..<max))
        #expect(ByteRange.resolve("bytes=\(max - 1)-\(max)", size: max) == .partial((max - 1)..<max))
        #expect(ByteRange.resolve("bytes=\(max)-\(max)", size: max) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=-9223372036854775808", size: max) == .partial(0..<max))
        #expect(ByteRange.resolve("bytes=9223372036854775808-9223372036854775807", size: max) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=" + String(repeating: "9", count: 10_000) + "-", size: max) == .unsatisfiable)
    }

    @Test func contentRangeHeaders() {
        #expect(ByteRange.contentRange(of: 0..<500, size: 1000) == "bytes 0-499/1000")
        #expect(ByteRange.contentRange(of: 999..<1000, size: 1000) == "bytes 999-999/1000")
        #expect(ByteRange.unsatisfiedContentRange(size: 1000) == "bytes */1000")
    }
}
