import Foundation

/// Numbers written the Russian way for answers: `9 441,80 ₽`, `1,8`.
enum RussianText {
    /// Money: thousands separated by spaces, decimal comma, two decimals, rouble sign.
    static func money(_ value: Decimal) -> String {
        var rounded = Decimal()
        var input = value
        NSDecimalRound(&rounded, &input, 2, .plain)
        let kopecks = NSDecimalNumber(decimal: rounded * 100).int64Value
        let roubles = String(kopecks / 100)
        var grouped = ""
        for (index, character) in roubles.reversed().enumerated() {
            if index > 0 && index % 3 == 0 { grouped.append(" ") }
            grouped.append(character)
        }
        return "\(String(grouped.reversed())),\(String(format: "%02d", kopecks % 100)) ₽"
    }

    /// Whole roubles without kopecks (`8 665`), for corridor bounds.
    static func roubles(_ value: Decimal) -> String {
        let text = money(value)
        return text.hasSuffix(",00 ₽") ? String(text.dropLast(5)) : String(text.dropLast(2))
    }

    /// A coefficient with a decimal comma (`0,46`).
    static func number(_ value: Decimal) -> String {
        NSDecimalNumber(decimal: value).stringValue.replacingOccurrences(of: ".", with: ",")
    }

    /// Text split into small pieces (a few words each) for streaming.
    static func pieces(_ text: String, wordsPerPiece: Int = 4) -> [String] {
        var pieces: [String] = []
        var current = ""
        var words = 0
        for character in text {
            current.append(character)
            if character == " " || character == "\n" {
                words += 1
                if words >= wordsPerPiece || character == "\n" {
                    pieces.append(current)
                    current = ""
                    words = 0
                }
            }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }
}
