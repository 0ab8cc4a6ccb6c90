import Foundation

/// Base64url without padding, as JWTs and the signed tokens use it (byte-level: Foundation's
/// `replacingOccurrences` cost a tenth of a refresh in the issue 12 profile, and a tenth of a
/// reels feed page's server time in issue 15's).
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// The unpadded base64url text of `bytes`.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity((input.count * 4 + 2) / 3)
        var index = 0
        while index + 3 <= input.count {
            let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            output.append(alphabet[Int(group >> 18 & 0x3F)])
            output.append(alphabet[Int(group >> 12 & 0x3F)])
            output.append(alphabet[Int(group >> 6 & 0x3F)])
            output.append(alphabet[Int(group & 0x3F)])
            index += 3
        }
        let rest = input.count - index
        if rest > 0 {
            let group = UInt32(input[index]) << 16 | (rest == 2 ? UInt32(input[index + 1]) << 8 : 0)
            output.append(alphabet[Int(group >> 18 & 0x3F)])
            output.append(alphabet[Int(group >> 12 & 0x3F)])
            if rest == 2 { output.append(alphabet[Int(group >> 6 & 0x3F)]) }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Whether `byte` is one of base64url's 64 characters (no padding).
    public static func isAlphabetByte(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x5F
    }

    /// The bytes of base64url text, padded or not; nil when it is not base64.
    public static func decode(_ text: String) -> Data? {
        var bytes = Array(text.utf8)
        for index in bytes.indices {
            if bytes[index] == UInt8(ascii: "-") {
                bytes[index] = UInt8(ascii: "+")
            } else if bytes[index] == UInt8(ascii: "_") {
                bytes[index] = UInt8(ascii: "/")
            }
        }
        while bytes.count % 4 != 0 { bytes.append(UInt8(ascii: "=")) }
        return Data(base64Encoded: Data(bytes))
    }

    /// The bytes of `text` only when it is their one canonical unpadded base64url spelling
    /// (`Data(base64Encoded:)` ignores the spare low bits of the last character, so `…Q` and
    /// `…S` would otherwise decode alike and a changed token could still verify); nil for
    /// anything else, the empty text included.
    public static func decodeCanonical(_ text: some StringProtocol) -> Data? {
        guard !text.isEmpty, text.utf8.allSatisfy(isAlphabetByte), let data = decode(String(text)),
            encode(data).utf8.elementsEqual(text.utf8)
        else { return nil }
        return data
    }
}
