import Foundation

/// Exact decimal helpers: parsing from text, rounding once to kopecks, printing.
enum DecimalText {
    /// Parses a plain decimal literal (`8665`, `1.8`, `0.46`); nil for anything else
    /// (exponents, signs other than a leading minus, spaces, commas).
    static func parse(_ text: String) -> Decimal? {
        var body = Substring(text)
        if body.first == "-" { body = body.dropFirst() }
        let pieces = body.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(pieces.count), !pieces[0].isEmpty,
            pieces.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            pieces.count == 1 || !pieces[1].isEmpty
        else { return nil }
        return Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
    }

    /// Rounds half-up (away from zero) to `scale` decimal places.
    static func rounded(_ value: Decimal, scale: Int = 2) -> Decimal {
        var input = value
        var output = Decimal()
        NSDecimalRound(&output, &input, scale, .plain)
        return output
    }

    /// Money as a string with exactly two decimals (`9441.80`), rounding half-up first.
    static func money(_ value: Decimal) -> String {
        let kopecks = rounded(value) * 100
        let digits = NSDecimalNumber(decimal: kopecks).stringValue
        let negative = digits.hasPrefix("-")
        var magnitude = negative ? String(digits.dropFirst()) : digits
        while magnitude.count < 3 { magnitude = "0" + magnitude }
        let text = "\(magnitude.dropLast(2)).\(magnitude.suffix(2))"
        return negative ? "-" + text : text
    }

    /// A coefficient as the tables write it (`1.8`, `0.46`, `1`): no trailing zeros.
    static func plain(_ value: Decimal) -> String {
        NSDecimalNumber(decimal: value).stringValue
    }
}
