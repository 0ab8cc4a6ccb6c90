import Foundation

/// RFC 3339 timestamps as GoTrue writes them: UTC, `T`, microseconds, `Z`.
///
/// ``format(_:)`` writes the same bytes Foundation's gregorian `Calendar` (UTC) and
/// `String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ")` wrote, without either (issue 12:
/// they were several percent of the server's CPU). That includes what the calendar does at the
/// edges: dates before 1582-10-15 are in the Julian calendar, years before 1 AD are written as
/// era years (1 BC is `0001`), and dates outside the calendar's range (before 4713 BC
/// Jan 1 12:00, after 506713-02-07) are written as those limits. A non-finite interval, which
/// used to trap, is written as a limit too (NaN as the lower one). `CoreTests` compares this
/// with the former implementation.
public enum Timestamp {
    /// Formats a date as `2026-01-01T00:00:00.123456Z`.
    public static func format(_ date: Date) -> String {
        String(unsafeUninitializedCapacity: maxLength) { buffer in
            write(date, into: buffer.baseAddress!)
        }
    }

    /// Appends ``format(_:)``'s UTF-8 bytes (no quotes) to `bytes`.
    public static func append(_ date: Date, to bytes: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxLength) { buffer in
            let count = write(date, into: buffer.baseAddress!)
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// The longest text ``format(_:)`` writes: a six-digit year.
    static let maxLength = 29

    /// `Date.validCalendarRange` of swift-foundation, in seconds since 1970: Foundation's
    /// `Calendar` reads any date outside it as the nearest end (4713 BC Jan 1 12:00 Julian,
    /// 506713-02-07 00:00 Gregorian).
    static let earliestSecond = -210_866_760_000.0
    static let latestSecond = 15_928_153_804_800.0
    /// 1582-10-15 00:00 UTC: the first Gregorian day; earlier days are Julian.
    static let gregorianStartSecond = -12_219_292_800
    /// The Julian day number of 1970-01-01.
    static let julianDayOf1970 = 2_440_588

    /// Writes the text to `out` and returns its length (at most ``maxLength``).
    private static func write(_ date: Date, into out: UnsafeMutablePointer<UInt8>) -> Int {
        let seconds = date.timeIntervalSince1970
        var whole: Double
        var micros = 0
        if seconds.isFinite {
            whole = seconds.rounded(.down)
            // In 0...1_000_000: the fraction is in [0, 1).
            micros = Int(((seconds - whole) * 1_000_000).rounded())
            if micros >= 1_000_000 { whole += 1; micros -= 1_000_000 }
        } else {
            whole = seconds == .infinity ? latestSecond : earliestSecond
        }
        // Foundation's calendar clamps the whole second (the microseconds stay).
        if whole < earliestSecond { whole = earliestSecond }
        if whole > latestSecond { whole = latestSecond }
        let total = Int(whole)  // exact: a whole number within ±1.6e13
        let days = total >= 0 ? total / 86_400 : (total - 86_399) / 86_400
        let secondOfDay = total - days * 86_400
        var (year, month, day) = civil(julianDay: days + julianDayOf1970, julian: total < gregorianStartSecond)
        if year < 1 { year = 1 - year }  // the era's year: 1 BC is 1, 2 BC is 2

        var count = 0
        func put(_ value: Int, _ width: Int) {
            var index = count + width - 1
            var rest = value
            while index >= count {
                out[index] = UInt8(truncatingIfNeeded: 0x30 + rest % 10)
                rest /= 10
                index -= 1
            }
            count += width
        }
        func put(_ byte: UInt8) {
            out[count] = byte
            count += 1
        }
        put(year, year < 10_000 ? 4 : year < 100_000 ? 5 : 6)
        put(UInt8(ascii: "-"))
        put(month, 2)
        put(UInt8(ascii: "-"))
        put(day, 2)
        put(UInt8(ascii: "T"))
        put(secondOfDay / 3600, 2)
        put(UInt8(ascii: ":"))
        put(secondOfDay % 3600 / 60, 2)
        put(UInt8(ascii: ":"))
        put(secondOfDay % 60, 2)
        put(UInt8(ascii: "."))
        put(micros, 6)
        put(UInt8(ascii: "Z"))
        return count
    }

    /// Year (astronomical: 0 is 1 BC), month and day of a Julian day number in 0...~2e8, in
    /// the Julian or the Gregorian calendar (E. G. Richards' algorithm, as swift-foundation's
    /// `_CalendarGregorian` computes it).
    static func civil(julianDay: Int, julian: Bool) -> (year: Int, month: Int, day: Int) {
        var f = julianDay + 1401
        if !julian { f += (((4 * julianDay + 274_277) / 146_097) * 3) / 4 - 38 }
        let e = 4 * f + 3
        let h = 5 * ((e % 1461) / 4) + 2
        let day = (h % 153) / 5 + 1
        let month = (h / 153 + 2) % 12 + 1
        let year = e / 1461 - 4716 + (14 - month) / 12
        return (year, month, day)
    }

    /// Parses an RFC 3339 timestamp with or without fractional seconds.
    public static func parse(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true)) {
            return date
        }
        return try? Date(text, strategy: .iso8601)
    }
}
