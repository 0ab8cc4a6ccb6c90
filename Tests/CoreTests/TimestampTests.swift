import Core
import Foundation
import Testing

/// `Timestamp.format` against the implementation it replaced (Foundation's gregorian
/// `Calendar` in UTC and `String(format:)`), kept here verbatim as the reference.
@Suite struct TimestampTests {
    /// The former `Timestamp.format`. It traps on a non-finite interval; callers check first.
    static func reference(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var whole = seconds.rounded(.down)
        var micros = Int(((seconds - whole) * 1_000_000).rounded())
        if micros >= 1_000_000 { whole += 1; micros -= 1_000_000 }
        let c = utcCalendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: whole))
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
            c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0, micros)
    }

    static let utcCalendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// SplitMix64, so a failure names a reproducible seed.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let earliest = -210_866_760_000.0  // 4713 BC Jan 1 12:00 (Julian), Foundation's lower limit
    static let latest = 15_928_153_804_800.0  // 506713-02-07 00:00, its upper limit
    static let gregorianStart = -12_219_292_800.0  // 1582-10-15
    static let yearOne = -62_135_596_800.0  // 0001-01-03 Gregorian = 0001-01-01 Julian

    static let edges: [Double] = [
        0, -0.0, 1e-7, -1e-7, 4.999e-7, 5e-7, -5e-7, 1.5e-6, 0.9999994, 0.9999995, 0.9999996, -0.9999995, 1.000_000_5,
        1_767_225_600.123456, 1_767_225_600.999_999_7, 1_767_225_599.999_999, 86_399.999_999_6, 951_782_400.25,
        1_709_164_800.000_001, 4_102_444_800.5, -1.25, -86_400, -86_401, -1, 2_147_483_647, 2_147_483_648, -2_147_483_648,
        4_294_967_296, 951_868_800, 946_684_800, 4_107_542_400, -2_208_988_800, 253_402_300_799, 253_402_300_799.999_999_7,
        253_402_300_800, 3_093_527_980_799, 3_093_527_980_800, 3_093_527_980_800.5,
        gregorianStart, gregorianStart - 1, gregorianStart - 0.5, gregorianStart - 0.000_000_1, gregorianStart + 0.5,
        gregorianStart - 86_400 * 10, gregorianStart - 86_400 * 11, gregorianStart + 86_400 * 365,
        -13_569_465_600, -13_569_379_200,  // 1540-02-28/29: a Julian leap year
        -11_676_096_000, -11_644_560_000,  // 1600: Gregorian leap year; -16_725_225_600 is 1500 (Julian leap)
        -16_725_225_600, -16_720_128_000, -16_719_955_200,
        yearOne, yearOne - 1, yearOne - 86_400, yearOne - 86_400 * 366, yearOne - 86_400 * 367, -62_167_219_200,
        -62_198_755_200, -70_000_000_000, -100_000_000_000, -200_000_000_000,
        earliest, earliest + 1, earliest + 0.5, earliest - 1, earliest - 0.5, earliest - 0.25, earliest + 86_400, earliest + 43_199,
        earliest + 43_200, earliest - 86_400 * 365,
        latest, latest - 1, latest - 0.5, latest + 0.5, latest + 1, latest - 86_400, latest + 86_400, latest - 0.000_000_1,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e30, 1e300, -1e12, -1e13, -1e15, -1e20, -1e300,
        9_007_199_254_740_992, -9_007_199_254_740_992, 9.3e18, -9.3e18, 9_223_372_036_854_775_808, -9_223_372_036_854_775_808,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
        .leastNormalMagnitude, .ulpOfOne, -.ulpOfOne,
    ]

    @Test func handPickedEdgesMatchTheFormerFormat() {
        for seconds in Self.edges {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(Timestamp.format(date) == Self.reference(date), "\(seconds)")
        }
    }

    /// Every day (at a random second and fraction) in windows around each rule change:
    /// the lower limit, year 1, the Julian leap day of 1500, the Gregorian start, 1970,
    /// years 10 000 and 100 000, the upper limit.
    @Test func everyDayAroundEachRuleChangeMatches() {
        var random = SeededGenerator(state: 0x7157_A3B0)
        let days = 86_400.0
        let windows: [ClosedRange<Double>] = [
            Self.earliest...(Self.earliest + 2_000 * days),
            (Self.yearOne - 2_000 * days)...(Self.yearOne + 2_000 * days),
            (-16_725_225_600 - 1_000 * days)...(-16_725_225_600 + 1_000 * days),
            (Self.gregorianStart - 3_000 * days)...(Self.gregorianStart + 3_000 * days),
            (-2_000 * days)...(2_000 * days),
            (253_402_300_800 - 1_000 * days)...(253_402_300_800 + 1_000 * days),
            (3_093_527_980_800 - 1_000 * days)...(3_093_527_980_800 + 1_000 * days),
            (Self.latest - 2_000 * days)...Self.latest,
        ]
        for window in windows {
            var day = (window.lowerBound / days).rounded(.down) * days
            while day <= window.upperBound {
                let seconds = day + Double(Int.random(in: 0..<86_400, using: &random)) + Double.random(in: 0..<1, using: &random)
                let date = Date(timeIntervalSince1970: seconds)
                let (new, old) = (Timestamp.format(date), Self.reference(date))
                if new != old { Issue.record("\(seconds): \(new) != \(old)"); return }
                day += days
            }
        }
    }

    /// ~10 000 seeded random dates: ordinary ones, the calendar's whole range, sub-second
    /// values near whole seconds, magnitudes up to 1e300, and arbitrary finite bit patterns.
    @Test func seededRandomDatesMatch() {
        var random = SeededGenerator(state: 0x0012_2026)
        var failures = 0
        for index in 0..<10_000 {
            let seconds: Double
            switch index % 6 {
            case 0: seconds = Double.random(in: -5e9...5e9, using: &random)
            case 1: seconds = Double.random(in: (Self.earliest - 1e9)...(Self.latest + 1e9), using: &random)
            case 2: seconds = Double.random(in: -2.2e11...3e11, using: &random)
            case 3:
                let whole = Double(Int.random(in: -300_000_000_000...300_000_000_000, using: &random))
                seconds = whole + [0, 0.000_000_4, 0.000_000_5, 0.000_000_6, 0.999_999_4, 0.999_999_5, 0.999_999_6, 0.5][
                    Int.random(in: 0..<8, using: &random)]
            case 4:
                let magnitude = pow(10, Double.random(in: -8...300, using: &random))
                seconds = Bool.random(using: &random) ? magnitude : -magnitude
            default:
                let bits = Double(bitPattern: random.next())
                seconds = bits.isFinite ? bits : Double(Int64(bitPattern: random.next()))
            }
            let date = Date(timeIntervalSince1970: seconds)
            let (new, old) = (Timestamp.format(date), Self.reference(date))
            if new != old {
                Issue.record("\(seconds) (bits \(seconds.bitPattern)): \(new) != \(old)")
                failures += 1
                if failures > 10 { return }
            }
        }
    }

    /// The former format trapped here; these are written as the calendar's limits.
    @Test func nonFiniteIntervalsDoNotTrap() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: .infinity)) == "506713-02-07T00:00:00.000000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -.infinity)) == "4713-01-01T12:00:00.000000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: .nan)) == "4713-01-01T12:00:00.000000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -.nan)) == "4713-01-01T12:00:00.000000Z")
        #expect(Timestamp.format(.distantFuture) == Self.reference(.distantFuture))
        #expect(Timestamp.format(.distantPast) == Self.reference(.distantPast))
    }

    @Test func appendWritesTheSameBytes() {
        var random = SeededGenerator(state: 42)
        var bytes: [UInt8] = [0x22]
        for _ in 0..<1_000 {
            let date = Date(timeIntervalSince1970: Double.random(in: -3e11...1.6e13, using: &random))
            bytes.removeSubrange(1...)
            Timestamp.append(date, to: &bytes)
            #expect(bytes == [0x22] + Array(Timestamp.format(date).utf8))
        }
    }

    @Test func theEncoderWritesTimestampsThisWay() throws {
        let date = Date(timeIntervalSince1970: -12_219_292_800.5)
        let text = String(decoding: try JSONBody.encoder.encode(["at": date]), as: UTF8.self)
        #expect(text == #"{"at":"1582-10-04T23:59:59.500000Z"}"#)
    }
}
