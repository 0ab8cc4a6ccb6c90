import Foundation

/// The hashtags of a caption (docs/reels.md "Uploads"): each `#` at the start of the caption
/// or after a character that is not part of a word, followed by letters (any script), digits
/// or `_`; the tag ends at the first other character (`#bad-tag` is `bad`). Tags are
/// lower-cased (NFC), kept once in the order they first appear, at most ``maximumCount``;
/// a tag longer than ``maximumLength`` characters is left out.
/// `#Cars #машина #car_1 #CAR_1` → `cars, машина, car_1`. A pure function of client text.
public enum Hashtags {
    public static let maximumCount = 30
    public static let maximumLength = 100

    public static func extract(_ caption: String) -> [String] {
        var tags: [String] = []
        var seen: Set<String> = []
        let characters = Array(caption.precomposedStringWithCanonicalMapping)
        var index = 0
        while index < characters.count, tags.count < maximumCount {
            let character = characters[index]
            guard character == "#", index == 0 || !isWordCharacter(characters[index - 1]) else {
                index += 1
                continue
            }
            var end = index + 1
            while end < characters.count, isWordCharacter(characters[end]) { end += 1 }
            let length = end - index - 1
            if length > 0, length <= maximumLength {
                let tag = String(characters[(index + 1)..<end]).lowercased()
                if seen.insert(tag).inserted { tags.append(tag) }
            }
            index = max(end, index + 1)
        }
        return tags
    }

    /// Letters of any script (with their combining marks), digits and `_`.
    static func isWordCharacter(_ character: Character) -> Bool {
        if character == "_" { return true }
        guard let first = character.unicodeScalars.first else { return false }
        return first.properties.isAlphabetic || first.properties.numericType == .decimal
    }
}
