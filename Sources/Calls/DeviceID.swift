/// The rule for a client's `deviceId`, checked at HELLO. It is the rule the database applies
/// to `calls.devices.device_id` (`char_length BETWEEN 1 AND 128`, i.e. 1 to 128 Unicode code
/// points, not grapheme clusters), plus what PostgreSQL `text` cannot hold at all (U+0000).
/// An id that passes here can always be stored, so AUTH never fails on it.
enum DeviceID {
    /// The most code points a device id may have (the column's CHECK).
    static let maxCodePoints = 128

    /// The rule as the error message states it.
    static let rule = "must be a string of 1 to \(maxCodePoints) Unicode code points without U+0000"

    /// Whether `id` can be stored as a device id.
    static func isValid(_ id: String) -> Bool {
        var count = 0
        for scalar in id.unicodeScalars {
            if scalar == "\u{0}" { return false }
            count += 1
            if count > maxCodePoints { return false }
        }
        return count >= 1
    }
}
