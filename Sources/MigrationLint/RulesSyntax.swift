// Syntax: input the tokenizer or splitter cannot make sense of.

extension RuleDescriptor {
    /// An unterminated string, quoted identifier, dollar quote or comment, or a statement
    /// whose parentheses or `BEGIN ATOMIC` block never close.
    public static let parseError = RuleDescriptor(
        id: "parse-error", category: .syntax,
        message: "The migration cannot be read as SQL from here on, so the statements after this point are not checked.",
        hint: "Close the string, quoted identifier, dollar quote, comment or parenthesis that is left open.",
        allowable: false)
}
