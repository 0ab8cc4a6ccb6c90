import Synchronization

/// Phone numbers for test users that no other test of this process uses.
///
/// Numbers are `1555` and seven digits: a random start, then counted up, so a run never hands
/// out the same number twice (`auth.users.phone` is unique; four random digits gave a test
/// that makes fourteen users a duplicate about once in a hundred runs).
public enum TestPhone {
    private static let next = Mutex(Int.random(in: 0..<5_000_000))

    /// The next number, digits only (`15551234567`).
    public static func unique() -> String {
        let serial = next.withLock { value in
            defer { value += 1 }
            return value % 10_000_000
        }
        let digits = String(serial)
        return "1555" + String(repeating: "0", count: 7 - digits.count) + digits
    }
}
