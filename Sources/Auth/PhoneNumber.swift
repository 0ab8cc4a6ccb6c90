import Foundation

/// Phone numbers in E.164, stored the way GoTrue stores them: digits without the `+`.
public enum PhoneNumber {
    /// Normalises user input to E.164 digits, or nil if it cannot be a phone number.
    ///
    /// Spaces, dashes, dots and brackets are ignored; a leading `+` is dropped; a Russian
    /// national number written `8XXXXXXXXXX` (11 digits) becomes `7XXXXXXXXXX`.
    public static func normalise(_ input: String) -> String? {
        var text = input.trimmingCharacters(in: .whitespacesAndNewlines)
        let hadPlus = text.hasPrefix("+")
        if hadPlus { text.removeFirst() }
        let separators: Set<Character> = [" ", "-", ".", "(", ")", "\u{00A0}"]
        var digits = ""
        for character in text {
            if separators.contains(character) { continue }
            guard character.isASCII, character.isNumber else { return nil }
            digits.append(character)
        }
        if !hadPlus, digits.count == 11, digits.hasPrefix("8") {
            digits = "7" + digits.dropFirst()
        }
        guard (2...15).contains(digits.count), digits.first != "0" else { return nil }
        return digits
    }
}
