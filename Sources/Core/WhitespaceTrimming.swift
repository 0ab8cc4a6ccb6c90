/// Trimming whitespace off text a client sends, on its Unicode scalars.
extension String {
    /// The text without leading and trailing whitespace and line breaks: what Foundation's
    /// `trimmingCharacters(in: .whitespacesAndNewlines)` returns (the Unicode White_Space
    /// characters, and U+200B ZERO WIDTH SPACE as Foundation counts it), without that
    /// method's round trip through UTF-16. Text with nothing to trim comes back as it is.
    public var trimmingWhitespace: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.isTrimmedWhitespace }),
            let last = scalars.lastIndex(where: { !$0.isTrimmedWhitespace })
        else { return "" }
        if first == scalars.startIndex && scalars.index(after: last) == scalars.endIndex { return self }
        return String(scalars[first...last])
    }
}

extension Unicode.Scalar {
    /// Whether ``Swift/String/trimmingWhitespace`` removes this scalar at either end.
    var isTrimmedWhitespace: Bool {
        value < 0x80 ? value == 0x20 || (0x09...0x0D).contains(value) : properties.isWhitespace || value == 0x200B
    }
}
